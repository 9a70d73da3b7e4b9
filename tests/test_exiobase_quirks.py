"""EXIOBASE 3 quirks of real releases: no x.txt, ixi, 3.9+ without impacts/, multi-column indexes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spendprint as sp
from spendprint.io.exiobase import read_exiobase3, write_exiobase3_like

AIR = ("CO2 - combustion - air", "CH4 - combustion - air", "N2O - combustion - air")


@pytest.fixture(scope="module")
def world() -> sp.MRIO:
    """3 regions x 8 products, air emissions named as in EXIOBASE, no impacts (C = None)."""
    m = sp.synthetic_mrio(regions=3, sectors=8, seed=11)
    return m.replace(stressors=(*AIR, "Employment hours"), stressor_units=("kg", "kg", "kg", "h"),
                     C=None, impacts=(), impact_units=())


def _drop_x(folder: Path) -> None:
    (folder / "x.txt").unlink()
    fp = folder / "file_parameters.json"
    params = json.loads(fp.read_text())
    del params["files"]["x"]
    fp.write_text(json.dumps(params))


def _dense_multipliers(A: np.ndarray, S: np.ndarray) -> np.ndarray:
    return np.linalg.solve((np.eye(A.shape[0]) - A).T, S.T).T


def test_world_is_balanced(world):
    """The reference identity the x-less cases rely on: x = A x + Y 1."""
    np.testing.assert_allclose(world.x, world.dense_A() @ world.x + world.Y.sum(1), rtol=1e-12)


def test_no_x_txt_with_z_gives_x_from_z_and_y(world, tmp_path):
    src = write_exiobase3_like(world, tmp_path / "IOT_2022_pxp", include_Z=True, layout="3.9")
    _drop_x(src)
    (src / "A.txt").unlink()
    m = read_exiobase3(src)
    assert m.meta["x_from"] == "Z 1 + Y 1" and m.meta["core"] == "Z.txt"
    Z = world.dense_A() * world.x[None, :]
    x_ref = Z.sum(1) + world.Y.sum(1)
    np.testing.assert_allclose(m.x, x_ref, rtol=1e-13)
    np.testing.assert_allclose(m.x, world.x, rtol=1e-12)
    np.testing.assert_allclose(m.dense_A(), world.dense_A(), rtol=1e-12, atol=0)
    # both A.txt and Z.txt but no x: Z is used (exact x), A follows from it
    src2 = write_exiobase3_like(world, tmp_path / "both" / "IOT_2022_pxp", include_Z=True)
    _drop_x(src2)
    m2 = read_exiobase3(src2)
    assert m2.meta["x_from"] == "Z 1 + Y 1"
    np.testing.assert_allclose(m2.x, x_ref, rtol=1e-13)


def test_no_x_txt_with_a_only_solves_for_x(world, tmp_path):
    src = write_exiobase3_like(world, tmp_path / "IOT_2022_pxp")
    _drop_x(src)
    m = read_exiobase3(src)
    assert m.meta["x_from"] == "(I - A)^-1 Y 1"
    x_ref = np.linalg.solve(np.eye(world.n) - world.dense_A(), world.Y.sum(1))
    np.testing.assert_allclose(m.x, x_ref, rtol=1e-12)
    np.testing.assert_array_equal(m.dense_A(), world.dense_A())
    # S is read from S.txt; F would follow from the computed x
    np.testing.assert_array_equal(m.S, world.S)


def test_listed_but_missing_x_is_an_error(world, tmp_path):
    src = write_exiobase3_like(world, tmp_path / "IOT_2022_pxp")
    (src / "x.txt").unlink()
    with pytest.raises(sp.InputFileError, match=r"x\.txt: missing file .*file_parameters\.json"):
        read_exiobase3(src)


def test_ixi_system(world, tmp_path):
    ixi = world.replace(meta={**world.meta, "system": "ixi"})
    src = write_exiobase3_like(ixi, tmp_path / "IOT_2011_ixi.zip", zip=True, layout="3.9")
    m = read_exiobase3(src)
    assert (m.meta["system"], m.meta["year"]) == ("ixi", 2011)
    assert m.sectors == world.sectors
    np.testing.assert_array_equal(m.dense_A(), world.dense_A())


def test_39_without_impacts_gets_co2e_from_air_emissions(world, tmp_path):
    src = write_exiobase3_like(world, tmp_path / "IOT_2022_pxp", layout="3.9")
    assert sorted(p.name for p in src.iterdir() if p.is_dir()) == ["air_emissions", "employment"]
    m = read_exiobase3(src)
    assert m.meta["source"] == "EXIOBASE 3.9.4" and "co2e_from" in m.meta
    assert m.impacts == ("CO2e",) and m.impact_units == ("kg CO2e",)
    M = sp.multipliers(m, ["CO2e", *AIR]).values.reshape(4, -1)
    M_ref = _dense_multipliers(world.dense_A(), world.S[:3])
    np.testing.assert_allclose(M[1:], M_ref, rtol=1e-10)
    np.testing.assert_allclose(M[0], M_ref[0] + 28.0 * M_ref[1] + 265.0 * M_ref[2], rtol=1e-10)


def _pandas_extension(folder: Path, world: sp.MRIO, with_params: bool) -> None:
    """Replace ``air_emissions`` by a (stressor, compartment) extension written by pandas."""
    shutil.rmtree(folder)
    folder.mkdir()
    cols = pd.MultiIndex.from_product([world.regions, world.sectors], names=["region", "sector"])
    fd = pd.MultiIndex.from_product([world.regions, world.fd_categories],
                                    names=["region", "category"])
    rows = pd.MultiIndex.from_tuples([("CO2", "air"), ("CH4", "air"), ("N2O", "water")],
                                     names=["stressor", "compartment"])
    F = world.S[:3] * world.x[None, :]
    pd.DataFrame(F, index=rows, columns=cols).to_csv(folder / "F.txt", sep="\t")
    pd.DataFrame(world.F_Y[:3], index=rows, columns=fd).to_csv(folder / "F_Y.txt", sep="\t")
    pd.DataFrame({"unit": ["kg", "kg", "t"]}, index=rows).to_csv(folder / "unit.txt", sep="\t")
    if with_params:
        (folder / "file_parameters.json").write_text(json.dumps({
            "systemtype": "Extension", "name": "air_emissions", "files": {
                "F": {"name": "F.txt", "nr_index_col": "2", "nr_header": "2"},
                "F_Y": {"name": "F_Y.txt", "nr_index_col": "2", "nr_header": "2"},
                "unit": {"name": "unit.txt", "nr_index_col": "2", "nr_header": "1"}}}))


@pytest.mark.parametrize("with_params", [True, False], ids=["file_parameters", "header-only"])
def test_extension_with_two_index_columns(world, tmp_path, with_params):
    rng = np.random.default_rng(0)
    w = world.replace(F_Y=rng.uniform(0, 1, (4, world.Y.shape[1])))
    src = write_exiobase3_like(w, tmp_path / "IOT_2020_pxp", layout="3.9")
    _pandas_extension(src / "air_emissions", w, with_params)
    m = read_exiobase3(src)
    names = ("CO2 - air", "CH4 - air", "N2O - water")
    assert m.stressors == (*names, "Employment hours")
    assert m.stressor_units == ("kg", "kg", "t", "h")
    np.testing.assert_allclose(m.S[:3], w.S[:3], rtol=1e-14)
    np.testing.assert_array_equal(m.F_Y[:3], w.F_Y[:3])
    # the (stressor, compartment) names are not "CO2 - ... - air" rows of EXIOBASE's satellite,
    # so CO2e comes only from names ending in "air": CO2 and CH4 here (N2O is to water)
    M = sp.multipliers(m).values.reshape(len(m.indicators), -1)
    M_ref = _dense_multipliers(w.dense_A(), w.S[:3])
    np.testing.assert_allclose(M[m.indicators.index("CO2e")], M_ref[0] + 28 * M_ref[1],
                               rtol=1e-10)
