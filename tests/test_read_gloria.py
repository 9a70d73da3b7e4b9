"""GLORIA reader on small fixtures written in the release layout (file names, zip nesting, ReadMe)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spendprint as sp
from spendprint.errors import InputFileError
from spendprint.io.detect import detect_format, read_mrio
from spendprint.io.gloria import is_gloria, read_gloria

REGIONS = ["AUS", "BRA", "DYE"]  # DYE: an empty region, as in some GLORIA years
SECTORS = ["Wheat", "Maize", "Cement", "Education"]
FD = ["Household final consumption P.3h", "Non-profit institutions serving households P.3n",
      "Government final consumption P.3g", "Gross fixed capital formation P.51",
      "Changes in inventories P.52", "Acquisitions less disposals of valuables P.53"]
VA = ["Compensation of employees D.1", "Taxes on production D.29", "Subsidies on production D.39",
      "Net operating surplus B.2n", "Net mixed income B.3n", "Consumption of fixed capital K.1"]
SATS = [("Emissions (EDGAR)", "co2_excl_short_cycle_org_c_total_EDGAR_consistent", "kilotonnes"),
        ("Emissions (EDGAR)", "ch4_total_EDGAR_consistent", "kilotonnes"),
        ("Employment", "Employment", "1000 persons"),
        ("Land use", "Cropland", "1000 ha"),
        ("Water", "Cropland", "million m3")]  # a repeated indicator name under another head
YEAR, VERSION = 2019, "059"
STEM = "20240111_120secMother_AllCountries_002"


def _csv(a: np.ndarray) -> bytes:
    lines = (",".join(repr(float(v)) if v else "0" for v in row) for row in a)
    return ("\n".join(lines) + "\n").encode()


def make_world(seed: int = 1, secondary: bool = False) -> dict[str, np.ndarray]:
    """Supply-use flows in GLORIA's block layout; the last region is empty (all zeros)."""
    rng = np.random.default_rng(seed)
    R, P, nf, nv, k = len(REGIONS), len(SECTORS), len(FD), len(VA), len(SATS)
    n = R * P
    live = np.repeat(np.arange(R) < R - 1, P)
    U = rng.random((n, n)) * 10 * np.outer(live, live)
    U[1, 2] = -0.3  # small negative flow, as real tables have
    Yp = rng.random((n, R * nf)) * 50 * live[:, None]
    Yp[0, 4] = -7.0  # negative inventory change
    q = U.sum(axis=1) + Yp.sum(axis=1)
    V = np.diag(q)
    if secondary:  # industry p also makes some of product p+1 within its region
        for i in range(n - 1):
            if live[i] and live[i + 1] and (i + 1) % P:
                share = 0.2 * q[i + 1]
                V[i, i + 1] += share
                V[i + 1, i + 1] -= share
    VA_rows = rng.random((R * nv, n)) * 5
    VA_rows *= np.kron(np.eye(R), np.ones((nv, P)))[:, :] * live[None, :]  # own region's rows
    TQ = rng.random((k, n)) * 3 * live[None, :]
    YQ = rng.random((k, R * nf)) * np.repeat(np.arange(R) < R - 1, nf)[None, :]
    return {"U": U, "V": V, "Y": Yp, "VA": VA_rows, "TQ": TQ, "YQ": YQ}


def to_T_layout(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Embed the blocks in GLORIA's 2RP layout (industries then products within each region)."""
    R, P = len(REGIONS), len(SECTORS)
    n, nT = R * P, 2 * R * P
    ind = np.array([r * 2 * P + p for r in range(R) for p in range(P)])
    prod = ind + P
    T = np.zeros((nT, nT))
    T[np.ix_(prod, ind)] = w["U"]
    T[np.ix_(ind, prod)] = w["V"]
    Y = np.zeros((nT, w["Y"].shape[1]))
    Y[prod] = w["Y"]
    Vr = np.zeros((w["VA"].shape[0], nT))
    Vr[:, ind] = w["VA"]
    TQ = np.zeros((w["TQ"].shape[0], nT))
    TQ[:, ind] = w["TQ"]
    assert n == len(ind)
    return {"T": T, "Y": Y, "V": Vr, "TQ": TQ, "YQ": w["YQ"]}


def write_readme(path: Path) -> None:
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"Lfd_Nr": range(1, 4), "Region_acronyms": REGIONS,
                      "Region_names": ["Australia", "Brazil", "Yemen (DYE)"]}).to_excel(
            xw, sheet_name="Regions", index=False)
        pd.DataFrame({"Lfd_Nr": range(1, 5), "Sector_names": SECTORS}).to_excel(
            xw, sheet_name="Sectors", index=False)
        pd.DataFrame({"Lfd_Nr": range(1, 7), "Value_added_names": VA,
                      "Final_demand_names": FD}).to_excel(
            xw, sheet_name="Value added and final demand", index=False)
        pd.DataFrame({"Lfd_Nr": range(1, 6), "Sat_head_indicator": [s[0] for s in SATS],
                      "Sat_indicator": [s[1] for s in SATS], "Sat_unit": [s[2] for s in SATS]}
                     ).to_excel(xw, sheet_name="Satellites", index=False)


def write_release(root: Path, w: dict[str, np.ndarray], satellites: bool = True) -> Path:
    """The download as GLORIA ships it: two zips of CSVs and the ReadMe workbook."""
    t = to_T_layout(w)
    root.mkdir(parents=True, exist_ok=True)
    tail = f"{YEAR}_{VERSION}_Markup001(full).csv"
    with zipfile.ZipFile(root / f"GLORIA_MRIOs_59_{YEAR}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for kind in ("T", "Y", "V"):
            zf.writestr(f"{STEM}_{kind}-Results_{tail}", _csv(t[kind]))
        zf.writestr(f"{STEM}_T-Results_{YEAR}_{VERSION}_Markup002(full).csv", b"0\n")  # not read
    if satellites:
        with zipfile.ZipFile(root / f"GLORIA_SatelliteAccounts_{VERSION}_{YEAR}.zip", "w") as zf:
            zf.writestr(f"20240110_120secMother_AllCountries_002_TQ-Results_{tail}", _csv(t["TQ"]))
            zf.writestr(f"20240110_120secMother_AllCountries_002_YQ-Results_{tail}", _csv(t["YQ"]))
    write_readme(root / f"GLORIA_ReadMe_{VERSION}.xlsx")
    return root


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    w = make_world()
    return write_release(tmp_path_factory.mktemp("gloria") / "download", w), w


def test_flows_give_A_S_x_exactly(release):
    root, w = release
    m = read_gloria(root, year=YEAR)
    q = np.diag(w["V"])
    np.testing.assert_array_equal(m.x, q)
    inv = np.where(q != 0, 1 / np.where(q != 0, q, 1), 0.0)
    np.testing.assert_allclose(m.dense_A(), w["U"] * inv[None, :], rtol=1e-15, atol=0)
    assert m.dense_A()[1, 2] < 0  # negative flow kept
    np.testing.assert_array_equal(m.Y, w["Y"])
    assert m.Y[0, 4] == -7.0
    R, nv = len(REGIONS), len(VA)
    VA_tot = w["VA"].reshape(R, nv, -1).sum(axis=0)
    F = np.vstack([VA_tot, w["TQ"]])
    np.testing.assert_allclose(m.S, F * inv[None, :], rtol=1e-15, atol=0)
    np.testing.assert_array_equal(m.F_Y[len(VA):], w["YQ"])
    np.testing.assert_array_equal(m.F_Y[:len(VA)], 0)
    # the empty region: zero output, zero columns
    assert (m.x[-len(SECTORS):] == 0).all() and (m.dense_A()[:, -len(SECTORS):] == 0).all()


def test_labels_units_meta(release):
    m = read_gloria(release[0])
    assert m.regions == tuple(REGIONS) and m.sectors == tuple(SECTORS)
    assert m.fd_categories == tuple(FD)
    assert m.stressors[:6] == tuple(f"Value added: {v}" for v in VA)
    assert m.stressors[6:] == ("co2_excl_short_cycle_org_c_total_EDGAR_consistent",
                               "ch4_total_EDGAR_consistent", "Employment", "Land use: Cropland",
                               "Water: Cropland")
    assert m.stressor_units == ("k USD",) * 6 + ("kilotonnes", "kilotonnes", "1000 persons",
                                                 "1000 ha", "million m3")
    assert {k: m.meta[k] for k in ("source", "version", "year", "currency", "money_unit",
                                   "price_basis", "system")} == {
        "source": "GLORIA", "version": "059", "year": 2019, "currency": "USD",
        "money_unit": "k USD", "price_basis": "basic", "system": "pxp"}


def test_multipliers_equal_dense_solve(release):
    m = read_gloria(release[0], stressors=["co2_excl_short_cycle_org_c_total_EDGAR_consistent",
                                          "Employment"])
    assert len(m.stressors) == 8
    M = sp.multipliers(m).values.reshape(len(m.stressors), -1)
    ref = np.linalg.solve((np.eye(m.n) - m.dense_A()).T, m.S.T).T
    np.testing.assert_allclose(M, ref, rtol=1e-12, atol=1e-14)


def test_regex_stressors_and_no_satellites(tmp_path):
    w = make_world(seed=2)
    root = write_release(tmp_path / "dl", w, satellites=False)
    m = read_gloria(root)
    assert len(m.stressors) == 6 and "note" in m.meta
    root2 = write_release(tmp_path / "dl2", w)
    assert read_gloria(root2, stressors="EDGAR").stressors[6:] == (
        "co2_excl_short_cycle_org_c_total_EDGAR_consistent", "ch4_total_EDGAR_consistent")


def test_secondary_products_industry_technology(tmp_path):
    """A supply table with off-diagonal entries: Z = U diag(g)^-1 V, x = V^T 1."""
    w = make_world(seed=4, secondary=True)
    m = read_gloria(write_release(tmp_path / "dl", w))
    g, q = w["V"].sum(axis=1), w["V"].sum(axis=0)
    gi = np.where(g != 0, 1 / np.where(g != 0, g, 1), 0.0)
    qi = np.where(q != 0, 1 / np.where(q != 0, q, 1), 0.0)
    Z = w["U"] @ np.diag(gi) @ w["V"]
    np.testing.assert_allclose(m.x, q, rtol=1e-15)
    np.testing.assert_allclose(m.dense_A(), Z @ np.diag(qi), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m.S[6:], w["TQ"] @ np.diag(gi) @ w["V"] @ np.diag(qi),
                               rtol=1e-12, atol=1e-15)


def test_extracted_folder_and_detection(tmp_path, release):
    root, w = release
    flat = tmp_path / "flat"
    flat.mkdir()
    for z in root.glob("*.zip"):
        with zipfile.ZipFile(z) as zf:
            zf.extractall(flat)
    (flat / f"GLORIA_ReadMe_{VERSION}.xlsx").write_bytes(
        (root / f"GLORIA_ReadMe_{VERSION}.xlsx").read_bytes())
    a, b = read_gloria(flat), read_gloria(root)
    np.testing.assert_array_equal(a.dense_A(), b.dense_A())
    assert is_gloria(root) and is_gloria(flat) and not is_gloria(tmp_path / "nothing")
    assert detect_format(root) == "gloria"
    np.testing.assert_array_equal(read_mrio(root, year=YEAR).x, b.x)


def test_bad_files_name_the_file(tmp_path):
    w = make_world(seed=3)
    root = write_release(tmp_path / "dl", w)
    with pytest.raises(InputFileError, match="no GLORIA T-Results"):
        read_gloria(root, year=2020)
    # a truncated Y table
    z = root / f"GLORIA_MRIOs_59_{YEAR}.zip"
    with zipfile.ZipFile(z) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    y_name = next(n for n in members if "_Y-Results_" in n)
    members[y_name] = b"\n".join(members[y_name].splitlines()[:-2]) + b"\n"
    with zipfile.ZipFile(z, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    with pytest.raises(InputFileError, match=r"Y-Results.*truncated"):
        read_gloria(root)
    # a non-numeric value
    members[y_name] = b"1,abc" + b",0" * (3 * 6 - 2) + b"\n"
    with zipfile.ZipFile(z, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    with pytest.raises(InputFileError, match=r"row 1, column 2: 'abc' is not a number"):
        read_gloria(root)
    # a ReadMe without the Satellites sheet
    (root / f"GLORIA_ReadMe_{VERSION}.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(InputFileError, match="ReadMe"):
        read_gloria(root)
