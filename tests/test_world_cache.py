"""The synthetic default world is cached in the user's cache folder, bit for bit."""

from __future__ import annotations

import numpy as np

import spendprint as sp
from spendprint.io import world_cache


def test_cached_world_is_the_generated_world(tmp_path, monkeypatch):
    monkeypatch.setenv("SPENDPRINT_CACHE_DIR", str(tmp_path))
    first = world_cache.cached_synthetic_mrio(regions=4, sectors=30, seed=7)
    entry = tmp_path / world_cache.world_key(4, 30, 7)
    assert (entry / "zarr.json").is_file()
    again = world_cache.cached_synthetic_mrio(regions=4, sectors=30, seed=7)
    ref = sp.synthetic_mrio(regions=4, sectors=30, seed=7)
    for m in (first, again):
        np.testing.assert_array_equal(m.dense_A(), ref.dense_A())
        np.testing.assert_array_equal(m.S, ref.S)
        np.testing.assert_array_equal(m.x, ref.x)
        assert m.regions == ref.regions and m.sectors == ref.sectors
    assert "seed7" in entry.name and "4x30" in entry.name  # keyed by the parameters


def test_damaged_entry_is_regenerated_and_off_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("SPENDPRINT_CACHE_DIR", str(tmp_path))
    entry = tmp_path / world_cache.world_key(3, 20, 1)
    entry.mkdir()
    (entry / "zarr.json").write_text("{not json")
    m = world_cache.cached_synthetic_mrio(regions=3, sectors=20, seed=1)
    np.testing.assert_array_equal(m.dense_A(), sp.synthetic_mrio(regions=3, sectors=20,
                                                                  seed=1).dense_A())
    assert sp.open_mrio(entry).n == 60  # replaced by a good store
    monkeypatch.setenv("SPENDPRINT_CACHE_DIR", "off")
    assert world_cache.cache_dir() is None
    assert world_cache.cached_synthetic_mrio(regions=3, sectors=20, seed=2).n == 60
    assert not (tmp_path / world_cache.world_key(3, 20, 2)).exists()
