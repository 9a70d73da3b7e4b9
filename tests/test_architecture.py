"""The house shows its layers: imports point one way, file names are unique, no module in __all__.

Layers, lowest first (a module may import its own layer's package and any lower layer):

    errors, kernels < core < io, labelled, runtime < uncertainty < procurement < report < jobs
    < api < cli (``spendprint serve`` starts the API) < the facade (spendprint/__init__.py)

``io``, ``labelled`` and ``runtime`` share a rank but not each other: each is a separate concern
over the core.
"""

from __future__ import annotations

import ast
import types
from collections import Counter
from pathlib import Path

import pytest

import spendprint as sp

PKG = Path(sp.__file__).resolve().parent
KERNELS = (PKG / "kernels").resolve()

RANK = {"errors": 0, "kernels": 0, "core": 1, "io": 2, "labelled": 2, "runtime": 2,
        "uncertainty": 3, "scenarios": 3.5, "procurement": 4, "report": 5, "jobs": 6, "api": 7, "cli": 8,
        "__main__": 9, "data": 0}
#: Same-rank packages that may import each other (none).
ALLOWED_SIDEWAYS: set[tuple[str, str]] = set()


def modules():
    for root in (PKG, KERNELS):
        for path in sorted(root.rglob("*.py")):
            if root is PKG and KERNELS in path.resolve().parents:
                continue
            rel = path.resolve().relative_to(root)
            parts = list(rel.with_suffix("").parts)
            if root is KERNELS:
                parts = ["kernels", *parts]
            yield path, parts


def layer_of(parts: list[str]) -> str:
    return parts[0] if len(parts) > 1 or parts[0] != "__init__" else "__init__"


def imported(path: Path, parts: list[str]) -> list[tuple[str, int]]:
    """Top-level spendprint packages imported by a module, with line numbers."""
    tree = ast.parse(path.read_text())
    pkg = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else list(pkg)
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # "from .. import x" at the top: x is the package
                    target = [node.names[0].name]
                elif len(target) == len(base) and not node.module:
                    target = target + [node.names[0].name]
            elif node.module and node.module.split(".")[0] == "spendprint":
                target = node.module.split(".")[1:] or [node.names[0].name]
            else:
                continue
            out.append((target[0], node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "spendprint" and len(a.name.split(".")) > 1:
                    out.append((a.name.split(".")[1], node.lineno))
    return out


def test_imports_point_one_way():
    wrong = []
    for path, parts in modules():
        src = layer_of(parts)
        if src == "__init__":
            continue  # the facade re-exports every layer
        for target, line in imported(path, parts):
            if target == src or target not in RANK:
                continue
            ok = RANK[target] < RANK[src] or (src, target) in ALLOWED_SIDEWAYS
            if not ok:
                wrong.append(f"{path.relative_to(PKG.parent)}:{line}: {src} imports {target}")
    assert not wrong, "imports pointing the wrong way:\n" + "\n".join(wrong)


def test_every_layer_has_a_rank():
    layers = {layer_of(parts) for _, parts in modules()} - {"__init__"}
    assert layers <= set(RANK), layers - set(RANK)


def test_file_names_are_unique():
    names = Counter(path.name for path, _ in modules()
                    if path.name not in ("__init__.py", "__main__.py"))
    assert [n for n, c in names.items() if c > 1] == []


def test_no_module_in_all_and_every_name_resolves():
    for name in sp.__all__:
        obj = getattr(sp, name)
        assert not isinstance(obj, types.ModuleType), name


@pytest.mark.parametrize("bad", ["spendprint.leontief", "spendprint.types",
                                 "spendprint.procurement.batch"])
def test_removed_modules_are_gone(bad):
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(bad)


def test_the_checker_catches_a_wrong_import(tmp_path):
    """The import test must be able to fail: a core module importing procurement is flagged."""
    p = tmp_path / "bad.py"
    p.write_text("from ..procurement import Ledger\nfrom spendprint.jobs import main_job\n")
    targets = [t for t, _ in imported(p, ["core", "bad"])]
    assert targets == ["procurement", "jobs"]
    assert all(RANK[t] > RANK["core"] for t in targets)


def test_docstrings_use_markdown_not_sphinx_roles():
    """mkdocstrings prints Sphinx roles and directives literally: the docs use markdown."""
    import re

    pat = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):`|^\s*\.\. math::", re.M)
    hits = [f"{path.relative_to(PKG.parent)}:{path.read_text()[:m.start()].count(chr(10)) + 1}"
            for path, _ in modules() for m in pat.finditer(path.read_text())]
    assert hits == []
