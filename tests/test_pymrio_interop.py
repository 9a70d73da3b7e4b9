"""from_pymrio / to_pymrio, and multipliers and footprints against pymrio's calc_all (1e-9 relative)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import spendprint as sp

pymrio = pytest.importorskip("pymrio")

RTOL = 1e-9


def close(got: np.ndarray, ref: np.ndarray) -> None:
    """Agreement to 1e-9 relative, with an absolute floor of 1e-12 of each row's largest value."""
    got, ref = np.atleast_2d(got), np.atleast_2d(ref)
    floor = 1e-12 * np.abs(ref).max(axis=1, keepdims=True)
    assert np.all(np.abs(got - ref) <= RTOL * np.abs(ref) + floor), np.max(
        np.abs(got - ref) / np.maximum(np.abs(ref), floor))


def pymrio_rows(io) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray],
                            dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per stressor row: M, D_cba_reg - F_Y (footprint of each region's final demand), D_pba."""
    names, M, cba, pba, fy = [], {}, {}, {}, {}
    for inst in io.get_extensions():
        ext = getattr(io, inst)
        F_Y_reg = (ext.F_Y.T.groupby(level="region", sort=False).sum().T if ext.F_Y is not None
                   else None)
        for label in ext.M.index:
            name = " - ".join(label) if isinstance(label, tuple) else str(label)
            names.append(name)
            M[name] = ext.M.loc[label].to_numpy()
            reg = ext.D_cba_reg.loc[label]
            fy[name] = np.zeros(len(reg)) if F_Y_reg is None else F_Y_reg.loc[label].to_numpy()
            cba[name] = reg.to_numpy() - fy[name]
            pba[name] = ext.D_pba.loc[label].to_numpy()
    return names, M, cba, pba, fy


def regional_demand(m: sp.MRIO):
    """y: (region, sector, demand) with one column per region's total final demand."""
    R, f = len(m.regions), len(m.fd_categories)
    return np.asarray(m.Y).reshape(m.n, R, f).sum(axis=2)


def check_against_pymrio(m: sp.MRIO, io) -> None:
    names, M_ref, cba_ref, pba_ref, _ = pymrio_rows(io)
    assert sorted(names) == sorted(m.indicators)
    M = sp.multipliers(m)
    fp = sp.footprint(m, regional_demand(m), by_origin=True)
    for name in names:
        close(M.sel(stressor=name).values.ravel(), M_ref[name])
        close(fp["total"].sel(stressor=name).values, cba_ref[name])
        # D_pba = S diag(L Y 1): the origin breakdown summed over all regions' demand
        origin = fp["by_origin"].sel(stressor=name).sum("demand").values.ravel()
        close(origin, pba_ref[name])


def test_pymrio_test_system_against_calc_all():
    io = pymrio.load_test()
    m = sp.from_pymrio(io).validate()
    assert m.regions == tuple(io.get_regions()) and m.sectors == tuple(io.get_sectors())
    assert m.meta["money_unit"] == "M USD" and m.meta["currency"] == "USD"
    assert "emission_type1 - air" in m.stressors and "Value Added" in m.stressors
    io.calc_all()
    check_against_pymrio(m, io)


def test_pymrio_test_system_after_calc_all_is_the_same_model():
    raw = sp.from_pymrio(pymrio.load_test())  # Z, Y, F only: A and S derived here
    done = sp.from_pymrio(pymrio.load_test().calc_all())  # A, x, S from pymrio
    np.testing.assert_allclose(raw.A, done.A, rtol=1e-12)
    np.testing.assert_allclose(raw.S, done.S, rtol=1e-12)
    np.testing.assert_allclose(raw.F_Y, done.F_Y, rtol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_against_calc_all(seed):
    m = sp.synthetic_mrio(regions=4, sectors=30, seed=seed)
    io = sp.to_pymrio(m)
    io.calc_all()
    assert list(io.get_extensions()) == ["stressors", "impacts"]
    check_against_pymrio(m.replace(), io)


def test_round_trip_through_pymrio():
    m = sp.synthetic_mrio(regions=3, sectors=20, seed=4)
    rng = np.random.default_rng(0)
    m = m.replace(F_Y=rng.random((len(m.stressors), m.Y.shape[1])))
    back = sp.from_pymrio(sp.to_pymrio(m))
    np.testing.assert_array_equal(back.A, m.A)
    np.testing.assert_array_equal(back.x, m.x)
    np.testing.assert_array_equal(back.Y, m.Y)
    np.testing.assert_array_equal(back.S, m.S_all())
    np.testing.assert_array_equal(back.F_Y, np.vstack([m.F_Y, m.C @ m.F_Y]))
    assert back.stressors == m.indicators and back.stressor_units == m.indicator_units
    assert back.meta["money_unit"] == "M EUR"
    only = sp.from_pymrio(sp.to_pymrio(m), extensions="impacts")
    assert only.stressors == ("CO2e",)


def test_unknown_extension_and_missing_core():
    io = pymrio.load_test()
    with pytest.raises(sp.LabelMismatchError, match="nope"):
        sp.from_pymrio(io, extensions=["nope"])
    io.Z = None
    with pytest.raises(sp.ValidationError, match="neither A nor Z"):
        sp.from_pymrio(io)


def test_reordered_labels_are_aligned():
    io = pymrio.load_test().calc_all()
    ref = sp.from_pymrio(io)
    io.x = io.x.iloc[::-1]
    io.Y = io.Y.iloc[::-1]
    io.emissions.S = io.emissions.S.iloc[:, ::-1]
    m = sp.from_pymrio(io)
    np.testing.assert_array_equal(m.A, ref.A)
    np.testing.assert_array_equal(m.Y, ref.Y)
    np.testing.assert_array_equal(m.x, ref.x)
    np.testing.assert_array_equal(m.S, ref.S)


def test_missing_pymrio_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymrio", None)
    m = sp.synthetic_mrio(regions=2, sectors=5)
    with pytest.raises(sp.SpendprintError, match="pip install pymrio"):
        sp.to_pymrio(m)
    with pytest.raises(sp.SpendprintError, match="pymrio is not installed"):
        sp.from_pymrio(object())


def test_to_pymrio_frames_are_labelled():
    m = sp.synthetic_mrio(regions=2, sectors=5)
    io = sp.to_pymrio(m)
    assert isinstance(io.A, pd.DataFrame) and io.A.index.names == ["region", "sector"]
    assert io.Y.columns.names == ["region", "category"]
    assert io.stressors.unit.loc["CO2", "unit"] == "kg"
    np.testing.assert_allclose(io.Z.to_numpy(), m.A * m.x[None, :])
