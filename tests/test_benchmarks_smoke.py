"""Every asv benchmark runs once with tiny sizes (setup + one call), and every benchmark script
starts as the docs say (``python -m benchmarks.<name> --help`` from the repository root)."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
PREFIXES = ("time_", "peakmem_", "mem_", "track_")
TINY = {"n": 120, "kernel": None}
ASV_MODULES = sorted(p.stem for p in BENCH.glob("bench_*.py"))
SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py")
                 if not p.stem.startswith(("bench_", "_")) and p.stem != "__init__")


def _cases():
    for modname in ASV_MODULES:
        module = importlib.import_module(f"benchmarks.{modname}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not hasattr(cls, "params"):
                continue
            for meth in sorted(m for m in dir(cls) if m.startswith(PREFIXES)):
                yield pytest.param(cls, meth, id=f"{modname}.{name}.{meth}")


def _tiny_params(cls) -> list[tuple]:
    """The parameter combinations to run: the smallest size, every other parameter's first value
    (for the kernel registry: every kernel at its smallest size)."""
    names = list(getattr(cls, "param_names", []))
    params = cls.params if names and isinstance(cls.params[0], list) else [cls.params]
    if names == ["kernel", "n"]:
        from spendprint.kernels.kernel_registry import REGISTRY

        return [(k, min(REGISTRY[k].sizes)) for k in params[0]]
    return [tuple(120 if nm == "n" else vals[0] for nm, vals in zip(names, params, strict=True))]


@pytest.mark.parametrize(("cls", "meth"), list(_cases()))
def test_benchmark_runs_once(cls, meth, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # asv runs setup_cache in a scratch folder
    for args in _tiny_params(cls):
        names = list(cls.param_names)
        if "n" in names:  # shrink the size axis to the tiny value
            tiny_params = [[a] for a in args]
            tiny = type(f"Tiny{cls.__name__}", (cls,), {"params": tiny_params})
        else:
            tiny = cls
        bench = tiny()
        cache = (bench.setup_cache(),) if hasattr(bench, "setup_cache") else ()
        bench.setup(*cache, *args)
        try:
            result = getattr(bench, meth)(*cache, *args)
            assert result is None or isinstance(result, int | float)
        finally:
            if hasattr(bench, "teardown"):
                bench.teardown(*cache, *args)


def test_every_asv_module_is_collected():
    collected = {p.id.split(".")[0] for p in _cases()}
    assert collected == set(ASV_MODULES), set(ASV_MODULES) - collected


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_starts_as_documented(script):
    r = subprocess.run([sys.executable, "-m", f"benchmarks.{script}", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "usage" in r.stdout.lower()
