"""Eora26 reader on small fixtures written in the download layout (tab-separated, labels files)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

import spendprint as sp
from spendprint.errors import InputFileError
from spendprint.io.detect import detect_format, read_mrio
from spendprint.io.eora import is_eora26, read_eora26

COUNTRIES = [("Afghanistan", "AFG"), ("Albania", "ALB"), ("Algeria", "DZA")]
SECTORS = ["Agriculture", "Fishing", "Mining and Quarrying", "Food & Beverages"]
FD = ["Household final consumption P.3h", "Non-profit institutions serving households P.3n",
      "Government final consumption P.3g", "Gross fixed capital formation P.51",
      "Changes in inventories P.52", "Acquisitions less disposals of valuables P.53"]
VA = ["Compensation of employees D.1", "Taxes on production D.29", "Subsidies on production D.39",
      "Net operating surplus B.2n", "Net mixed income B.3n", "Consumption of fixed capital K.1"]
Q = [("I-GHG-CO2 emissions (Gg)", "Total"), ("Energy Usage (TJ)", "Natural Gas"),
     ("Energy Usage (TJ)", "Coal"), ("Employment (1000 persons)", "")]
YEAR = 2015


def _txt(a: np.ndarray) -> bytes:
    return ("\n".join("\t".join(repr(float(v)) if v else "0" for v in row) for row in a)
            + "\n").encode()


def _labels(rows: list[list[str]]) -> bytes:
    return "".join("\t".join(r) + "\t\n" for r in rows).encode()  # trailing tab, as shipped


def make_world(seed: int = 1) -> dict[str, np.ndarray]:
    """Flows with ROW (one TOTAL sector and 6 FD columns) at the end, as Eora26 orders it."""
    rng = np.random.default_rng(seed)
    n = len(COUNTRIES) * len(SECTORS) + 1
    nf = (len(COUNTRIES) + 1) * len(FD)
    T = rng.random((n, n)) * 10
    T[2, 3] = -0.5  # small negative flow
    T[:, 5] = 0.0   # a zero-output sector: no inputs ...
    FD_ = rng.random((n, nf)) * 40
    FD_[1, 4] = -9.0  # negative inventory change
    T[5, :] = 0.0   # ... and no sales
    FD_[5, :] = 0.0
    return {"T": T, "FD": FD_, "VA": rng.random((len(VA), n)) * 5,
            "Q": rng.random((len(Q), n)) * 2, "QY": rng.random((len(Q), nf))}


def label_files() -> dict[str, bytes]:
    lt = [[c, a, "Industries", s] for c, a in COUNTRIES for s in SECTORS]
    lt.append(["Rest of the World", "ROW", "Industries", "TOTAL"])
    lf = [[c, a, "Final Demand", f] for c, a in [*COUNTRIES, ("Rest of the World", "ROW")]
          for f in FD]
    return {"labels_T.txt": _labels(lt), "labels_FD.txt": _labels(lf),
            "labels_VA.txt": _labels([["Primary Inputs", v] for v in VA]),
            "labels_Q.txt": _labels([[s, src] if src else [s] for s, src in Q])}


def write_year(folder: Path, w: dict[str, np.ndarray], labels_inside: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    z = folder / f"Eora26_{YEAR}_bp.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in ("T", "FD", "VA", "Q", "QY"):
            zf.writestr(f"Eora26_{YEAR}_bp_{k}.txt", _txt(w[k]))
        if labels_inside:
            for k, v in label_files().items():
                zf.writestr(k, v)
    if not labels_inside:
        with zipfile.ZipFile(folder / "indices.zip", "w") as zf:
            for k, v in label_files().items():
                zf.writestr(k, v)
    return z


@pytest.fixture(scope="module")
def year_zip(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    w = make_world()
    return write_year(tmp_path_factory.mktemp("eora"), w), w


def test_flows_give_A_S_x_exactly(year_zip):
    z, w = year_zip
    m = read_eora26(z)
    k = len(COUNTRIES) * len(SECTORS)  # ROW is the last row/column
    fk = len(COUNTRIES) * len(FD)
    Z, Y = w["T"][:k, :k], w["FD"][:k, :fk]
    x = Z.sum(axis=1) + Y.sum(axis=1)
    np.testing.assert_array_equal(m.x, x)
    assert m.x[5] == 0 and (m.dense_A()[:, 5] == 0).all() and (m.S[:, 5] == 0).all()
    xi = np.where(x != 0, 1 / np.where(x != 0, x, 1), 0.0)
    np.testing.assert_allclose(m.dense_A(), Z * xi[None, :], rtol=1e-15, atol=0)
    assert m.dense_A()[2, 3] < 0
    np.testing.assert_array_equal(m.Y, Y)
    assert m.Y[1, 4] == -9.0
    F = np.vstack([w["VA"][:, :k], w["Q"][:, :k]])
    np.testing.assert_allclose(m.S, F * xi[None, :], rtol=1e-15, atol=0)
    np.testing.assert_array_equal(m.F_Y[len(VA):], w["QY"][:, :fk])
    assert m.meta["dropped_ROW"]["T"] == pytest.approx(w["T"][k].sum() + w["T"][:k, k].sum())


def test_labels_units_meta(year_zip):
    m = read_eora26(year_zip[0])
    assert m.regions == ("AFG", "ALB", "DZA") and m.sectors == tuple(SECTORS)
    assert m.fd_categories == tuple(FD)
    assert m.stressors == (*(f"Primary input: {v}" for v in VA), "I-GHG-CO2 emissions",
                           "Energy Usage: Natural Gas", "Energy Usage: Coal", "Employment")
    assert m.stressor_units == ("k USD",) * 6 + ("Gg", "TJ", "TJ", "1000 persons")
    assert {k: m.meta[k] for k in ("source", "year", "currency", "money_unit", "price_basis",
                                   "system")} == {
        "source": "Eora26", "year": 2015, "currency": "USD", "money_unit": "k USD",
        "price_basis": "basic", "system": "ixi"}


def test_multipliers_equal_dense_solve(year_zip):
    m = read_eora26(year_zip[0])
    M = sp.multipliers(m).values.reshape(len(m.stressors), -1)
    ref = np.linalg.solve((np.eye(m.n) - m.dense_A()).T, m.S.T).T
    np.testing.assert_allclose(M, ref, rtol=1e-11, atol=1e-14)


def test_folder_with_indices_zip_and_year(tmp_path, year_zip):
    w = year_zip[1]
    z = write_year(tmp_path / "eora", w, labels_inside=False)
    a = read_eora26(tmp_path / "eora", year=YEAR)
    b = read_eora26(z)  # indices.zip next to the data zip
    np.testing.assert_array_equal(a.dense_A(), read_eora26(year_zip[0]).dense_A())
    assert a.stressors == b.stressors
    assert is_eora26(z) and is_eora26(tmp_path / "eora") and not is_eora26(tmp_path / "none")
    assert detect_format(z) == "eora26"
    np.testing.assert_array_equal(read_mrio(tmp_path / "eora", year=YEAR).x, a.x)
    with zipfile.ZipFile(z) as zf:
        zf.extractall(tmp_path / "flat")
    with zipfile.ZipFile(tmp_path / "eora" / "indices.zip") as zf:
        zf.extractall(tmp_path / "flat")
    np.testing.assert_array_equal(read_eora26(tmp_path / "flat").x, a.x)


def test_bad_files_name_the_file(tmp_path, year_zip):
    w = year_zip[1]
    with pytest.raises(InputFileError, match="no Eora26 T table"):
        read_eora26(write_year(tmp_path / "a", w), price="pp")
    z = write_year(tmp_path / "b", w, labels_inside=False)
    (tmp_path / "b" / "indices.zip").unlink()
    with pytest.raises(InputFileError, match="labels_T"):
        read_eora26(z)
    # a row with a missing field in VA
    bad = tmp_path / "c" / f"Eora26_{YEAR}_bp.zip"
    write_year(tmp_path / "c", w)
    with zipfile.ZipFile(bad) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    lines = members[f"Eora26_{YEAR}_bp_VA.txt"].splitlines()
    lines[2] = lines[2].rsplit(b"\t", 1)[0]
    members[f"Eora26_{YEAR}_bp_VA.txt"] = b"\n".join(lines) + b"\n"
    with zipfile.ZipFile(bad, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    with pytest.raises(InputFileError, match=r"_VA\.txt: row 3 has 12 fields, expected 13"):
        read_eora26(bad)
    with pytest.raises(InputFileError, match="price"):
        read_eora26(bad, price="xx")
    # a non-finite number in Q
    members[f"Eora26_{YEAR}_bp_VA.txt"] = _txt(w["VA"])
    q = w["Q"].copy()
    q[1, 3] = np.nan
    members[f"Eora26_{YEAR}_bp_Q.txt"] = _txt(q)
    with zipfile.ZipFile(bad, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    with pytest.raises(InputFileError, match=r"_Q\.txt: non-finite value at row 2, column 4"):
        read_eora26(bad)
