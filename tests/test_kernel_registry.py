"""Every kernel of the registry against its naive numpy reference (numbagg's pattern)."""

from __future__ import annotations

import numpy as np
import pytest

from spendprint.kernels.kernel_registry import REGISTRY


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("n", [1, 64, 5_000])
def test_kernel_equals_numpy_reference(name, n):
    entry = REGISTRY[name]
    inputs = entry.make(n, np.random.default_rng(n))
    got, ref = entry.run(inputs), entry.reference(inputs)
    got = got if isinstance(got, tuple) else (got,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    assert len(got) == len(ref)
    for g, r in zip(got, ref, strict=True):
        assert np.shape(g) == np.shape(r)
        np.testing.assert_allclose(g, r, rtol=entry.rtol, atol=entry.atol)


def test_registry_can_fail():
    """A reference that disagrees is caught: the comparison is not vacuous."""
    entry = REGISTRY["fill_exp"]
    inputs = entry.make(100, np.random.default_rng(0))
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(entry.run(inputs), np.exp(inputs["x"]) * (1 + 1e-9),
                                   rtol=entry.rtol, atol=entry.atol)
