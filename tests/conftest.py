from __future__ import annotations

import numpy as np
import pytest

import spendprint as sp


@pytest.fixture(scope="session", autouse=True)
def _private_world_cache(tmp_path_factory):
    """Runs of the default world cache it in a folder of the test session, not the user's; the
    variable reaches the CLI subprocesses the tests start too."""
    import os

    old = os.environ.get("SPENDPRINT_CACHE_DIR")
    os.environ["SPENDPRINT_CACHE_DIR"] = str(tmp_path_factory.mktemp("world-cache"))
    yield
    if old is None:
        os.environ.pop("SPENDPRINT_CACHE_DIR", None)
    else:
        os.environ["SPENDPRINT_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def small_mrio() -> sp.MRIO:
    """A small synthetic world (8 regions x 60 products = 480 sectors)."""
    return sp.synthetic_mrio(regions=8, sectors=60, seed=1)


@pytest.fixture(scope="session")
def tiny_mrio() -> sp.MRIO:
    return sp.synthetic_mrio(regions=3, sectors=12, seed=7)


def random_productive(n: int, density: float, seed: int, k: int = 3) -> sp.MRIO:
    """A random productive MRIO with 1 region and n sectors, for property tests."""
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < density)
    A *= rng.uniform(0.1, 0.9) / max(A.sum(axis=0).max(), 1e-12)
    x = rng.uniform(1.0, 100.0, n)
    S = rng.lognormal(0.0, 1.0, (k, n))
    return sp.MRIO(A=A, x=x, S=S, regions=("R",), sectors=tuple(f"s{i}" for i in range(n)),
                   stressors=tuple(f"e{i}" for i in range(k)), stressor_units=("kg",) * k)
