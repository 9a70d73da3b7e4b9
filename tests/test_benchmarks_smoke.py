"""Run every asv benchmark of the engine and I/O once, with tiny sizes (setup + one call)."""

from __future__ import annotations

import inspect

import pytest
from benchmarks import bench_engine, bench_io

PREFIXES = ("time_", "peakmem_", "mem_", "track_")
TINY = 120


def _cases():
    for module in (bench_engine, bench_io):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for meth in sorted(m for m in dir(cls) if m.startswith(PREFIXES)):
                yield pytest.param(cls, meth, id=f"{module.__name__.rsplit('.', 1)[-1]}.{name}.{meth}")


@pytest.mark.parametrize(("cls", "meth"), list(_cases()))
def test_benchmark_runs_once(cls, meth, tmp_path, monkeypatch):
    assert cls.params and cls.param_names == ["n"]
    monkeypatch.chdir(tmp_path)  # asv runs setup_cache in a scratch folder
    tiny = type(f"Tiny{cls.__name__}", (cls,), {"params": [[TINY]]})
    bench = tiny()
    args = (bench.setup_cache(),) if hasattr(bench, "setup_cache") else ()
    bench.setup(*args, TINY)
    try:
        result = getattr(bench, meth)(*args, TINY)
        assert result is None or isinstance(result, int | float)
    finally:
        if hasattr(bench, "teardown"):
            bench.teardown(*args, TINY)


def test_every_class_is_collected():
    names = {p.id.split(".")[1] for p in _cases()}
    assert names == {"Factorisation", "Multipliers", "Footprint", "StoreOpen", "ReadExiobase"}
