"""OECD ICIO reader: fixtures written here in the editions' CSV layouts (2016, 2018/2021, 2023)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import pytest

import spendprint as sp
from spendprint.io.icio import read_oecd_icio, write_icio_like

SECTORS_2021 = ["01T02", "05T06", "C10T12", "D35"]
SECTORS_2023 = ["A01_02", "B05_06", "C10T12", "D35"]
FD = ["HFCE", "NPISH", "GGFC", "GFCF", "INVNT", "DPABR"]


def _table(regions, P, seed=0, zero_sector=None):
    """A balanced table: x = Z1 + Y1 and x = 1'Z + tax + va column by column (va > 0)."""
    rng = np.random.default_rng(seed)
    n, R, f = len(regions) * P, len(regions), len(FD)
    Z = rng.uniform(0.0, 10.0, (n, n))
    Y = rng.uniform(5.0, 60.0, (n, R * f))
    Y[:, FD.index("INVNT")::f] -= 30.0  # inventory changes: some negative
    tax = rng.uniform(0.0, 5.0, n)
    if zero_sector is not None:
        Z[zero_sector, :] = 0.0
        Z[:, zero_sector] = 0.0
        Y[zero_sector, :] = 0.0
        tax[zero_sector] = 0.0
    x = Z.sum(1) + Y.sum(1)
    va = x - Z.sum(0) - tax
    assert (va >= -1e-9).all()
    return Z, Y, tax, va, x


def _write(path, row_codes, fd_codes, Z, Y, tax_rows, va, out_code="OUTPUT", va_code="VALU",
           total="TOTAL", extra_cols=None, cell=None):
    """Write the CSV with the csv module (independent of the reader's writer)."""
    x = Z.sum(1) + Y.sum(1)
    header = ["", *row_codes, *fd_codes] + ([total] if total else [])
    rows = []
    for i, code in enumerate(row_codes):
        rows.append([code, *Z[i], *Y[i]] + ([x[i]] if total else []))
    for code, vals, fdv in tax_rows:
        rows.append([code, *vals, *fdv] + ([""] if total else []))
    rows.append([va_code, *va, *([""] * len(fd_codes))] + ([""] if total else []))
    if out_code:
        rows.append([out_code, *x, *([""] * len(fd_codes))] + ([""] if total else []))
    if cell is not None:
        (i, j), v = cell
        rows[i][j] = v
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in r])
    return path


def _agg_matrix(regions_file, regions_out, P):
    """G (n_out x n_file) summing split regions into their country."""
    alias = {"CN1": "CHN", "CN2": "CHN", "MX1": "MEX", "MX2": "MEX"}
    G = np.zeros((len(regions_out) * P, len(regions_file) * P))
    for a, r in enumerate(regions_file):
        b = regions_out.index(alias.get(r, r))
        G[b * P:(b + 1) * P, a * P:(a + 1) * P] += np.eye(P)
    return G


def test_2021_edition_with_split_china_and_mexico(tmp_path):
    file_regions = ["AUS", "CHN", "MEX", "CN1", "CN2", "MX1", "MX2", "ROW"]
    fd_regions = ["AUS", "CHN", "MEX", "ROW"]
    P, f = len(SECTORS_2021), len(FD)
    Zf, Yf, tax, va, xf = _table(file_regions, P, seed=1)
    # final demand is by CHN/MEX only: keep the columns of the fd regions
    keep = [file_regions.index(r) * f + c for r in fd_regions for c in range(f)]
    Yf = Yf[:, keep]
    xf = Zf.sum(1) + Yf.sum(1)
    va = xf - Zf.sum(0) - tax
    rows = [f"{r}_{s}" for r in file_regions for s in SECTORS_2021]
    fds = [f"{r}_{c}" for r in fd_regions for c in FD]
    tax_fd = np.linspace(0.0, 1.0, len(fds))
    p = _write(tmp_path / "ICIO2021_2018.csv", rows, fds, Zf, Yf, [("TAXSUB", tax, tax_fd)], va)
    m = read_oecd_icio(p)

    G = _agg_matrix(file_regions, fd_regions, P)
    Z, Y, x = G @ Zf @ G.T, G @ Yf, G @ xf
    assert m.regions == tuple(fd_regions) and m.sectors == tuple(SECTORS_2021)
    assert m.fd_categories == tuple(FD)
    np.testing.assert_allclose(m.x, x, rtol=1e-14)
    np.testing.assert_allclose(m.dense_A(), Z / x[None, :], rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(m.Y, Y, rtol=1e-14)
    np.testing.assert_allclose(m.S[0], (G @ va) / x, rtol=1e-12)
    np.testing.assert_allclose(m.S[1], (G @ tax) / x, rtol=1e-12)
    np.testing.assert_allclose(m.F_Y[1], tax_fd, rtol=1e-14)
    assert (m.Y < 0).any()  # inventory changes kept
    assert m.stressors == ("Value added", "Taxes less subsidies")
    assert m.stressor_units == ("M USD", "M USD")
    assert (m.meta["source"], m.meta["version"], m.meta["year"], m.meta["currency"],
            m.meta["money_unit"], m.meta["system"]) == ("OECD ICIO", "2021", 2018, "USD", "M USD",
                                                         "ixi")
    assert m.meta["aggregated_regions"] == ["CN1", "CN2", "MX1", "MX2"]
    # multipliers equal a dense solve; value added + taxes multipliers sum to one (closed table)
    A = Z / x[None, :]
    L_ref = np.linalg.solve(np.eye(len(x)) - A, np.eye(len(x)))
    M_ref = m.S @ L_ref
    M = sp.multipliers(m).values.reshape(2, -1)
    np.testing.assert_allclose(M, M_ref, rtol=1e-11)
    np.testing.assert_allclose(M.sum(axis=0), 1.0, rtol=1e-11)


def test_split_regions_can_be_kept(tmp_path):
    regions = ["CHN", "CN1", "ROW"]
    P = len(SECTORS_2021)
    Z, Y, tax, va, x = _table(regions, P, seed=2)
    rows = [f"{r}_{s}" for r in regions for s in SECTORS_2021]
    fds = [f"{r}_{c}" for r in regions for c in FD]
    p = _write(tmp_path / "ICIO2018_2015.csv", rows, fds, Z, Y, [("TAXSUB", tax, 0 * Y[0])], va)
    m = read_oecd_icio(p, aggregate_split=False)
    assert m.regions == ("CHN", "CN1", "ROW")
    np.testing.assert_allclose(m.x, x, rtol=1e-14)
    assert (m.meta["version"], m.meta["year"]) == ("2018", 2015)


def test_2016_edition_reversed_final_demand_and_country_tax_rows(tmp_path):
    regions = ["AUS", "USA", "ROW"]
    P = 3
    secs = ["C01T05", "C10T14", "C15T16"]
    Z, Y, tax, va, x = _table(regions, P, seed=3)
    rows = [f"{r}_{s}" for r in regions for s in secs]
    fds = [f"{c}_{r}" for r in regions for c in FD]  # 2016: HFCE_AUS
    # taxes paid in each country: one row per country, summing to the total
    shares = np.array([0.5, 0.3, 0.2])
    tax_rows = [(f"{r}_TAXSUB", tax * s, np.zeros(len(fds))) for r, s in zip(regions, shares, strict=True)]
    p = _write(tmp_path / "ICIO2016_2011.csv", rows, fds, Z, Y, tax_rows, va)
    m = read_oecd_icio(p)
    assert m.fd_categories == tuple(FD) and m.regions == tuple(regions)
    np.testing.assert_allclose(m.Y, Y, rtol=1e-14)
    np.testing.assert_allclose(m.S[1] * m.x, tax, rtol=1e-12)
    assert (m.meta["version"], m.meta["year"]) == ("2016", 2011)


def test_2023_edition_in_a_zip_of_years_with_zero_output_sector(tmp_path):
    regions = ["AUS", "DEU", "ROW"]
    P = len(SECTORS_2023)
    zp = tmp_path / "ICIO-2016-2020-extended.zip"
    rows = [f"{r}_{s}" for r in regions for s in SECTORS_2023]
    fds = [f"{r}_{c}" for r in regions for c in FD]
    tables = {}
    for yr, seed in ((2019, 4), (2020, 5)):
        Z, Y, tax, va, x = _table(regions, P, seed=seed, zero_sector=5)
        tables[yr] = (Z, Y, x)
        write_icio_like(zp, Z, Y, va, tax, rows, fds, edition="2023", zip_member=f"{yr}.csv")
    with zipfile.ZipFile(zp) as zf:
        head = zf.read("2020.csv").decode().splitlines()
    assert head[0].endswith(",OUT") and head[-1].startswith("OUT,")
    assert [ln.split(",")[0] for ln in head[-3:]] == ["TLS", "VA", "OUT"]
    with pytest.raises(sp.InputFileError, match="found 2 .*2019.csv, 2020.csv.*year="):
        read_oecd_icio(zp)
    m = read_oecd_icio(zp, year=2020)
    assert read_oecd_icio(zp, year=2019, edition="2023e").meta["version"] == "2023e"
    Z, Y, x = tables[2020]
    assert m.sectors == tuple(SECTORS_2023)  # codes with their own underscore survive
    assert (m.meta["version"], m.meta["year"], m.meta["x_from"]) == ("2023", 2020, "OUTPUT row")
    assert m.x[5] == 0.0 and not m.dense_A()[:, 5].any() and not m.S[:, 5].any()
    nz = x != 0
    np.testing.assert_allclose(m.dense_A()[:, nz], Z[:, nz] / x[nz], rtol=1e-13)
    M = sp.multipliers(m).values.reshape(2, -1)
    np.testing.assert_allclose(M.sum(axis=0)[nz], 1.0, rtol=1e-11)


def test_x_from_z_and_y_without_output_row_or_total(tmp_path):
    regions = ["AUS", "ROW"]
    Z, Y, tax, va, x = _table(regions, 4, seed=6)
    rows = [f"{r}_{s}" for r in regions for s in SECTORS_2021]
    fds = [f"{r}_{c}" for r in regions for c in FD]
    p = _write(tmp_path / "ICIO2021_2017.csv", rows, fds, Z, Y, [("TAXSUB", tax, 0 * Y[0])], va,
               out_code=None, total=None)
    m = read_oecd_icio(p)
    assert m.meta["x_from"] == "Z 1 + Y 1"
    np.testing.assert_allclose(m.x, x, rtol=1e-14)


@pytest.fixture
def small(tmp_path) -> Path:
    regions = ["AUS", "ROW"]
    Z, Y, tax, va, x = _table(regions, 4, seed=7)
    rows = [f"{r}_{s}" for r in regions for s in SECTORS_2021]
    fds = [f"{r}_{c}" for r in regions for c in FD]
    args = (rows, fds, Z, Y, [("TAXSUB", tax, 0 * Y[0])], va)
    _write(tmp_path / "ICIO2021_2018.csv", *args)
    _write(tmp_path / "bad_cell.csv", *args, cell=((2, 3), "n/a"))
    _write(tmp_path / "bad_row.csv", *args, cell=((1, 0), "GARBAGE"))
    return tmp_path


def test_bad_files(small):
    with pytest.raises(sp.InputFileError, match=r"row 'AUS_C10T12' \(line 4\), column "
                                                r"'AUS_C10T12': 'n/a' is not a number"):
        read_oecd_icio(small / "bad_cell.csv")
    with pytest.raises(sp.InputFileError, match="unknown row code 'GARBAGE'"):
        read_oecd_icio(small / "bad_row.csv")
    good = (small / "ICIO2021_2018.csv").read_bytes()
    cut = small / "cut.csv"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(sp.InputFileError, match=r"cut\.csv: truncated or malformed at line"):
        read_oecd_icio(cut)
    bad_zip = small / "ICIO2021_2018.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(sp.InputFileError, match="not a readable zip"):
        read_oecd_icio(bad_zip)
    with pytest.raises(sp.InputFileError, match="no such file"):
        read_oecd_icio(small / "absent.csv")
    empty = small / "empty.csv"
    empty.write_text("")
    with pytest.raises(sp.InputFileError, match="empty file"):
        read_oecd_icio(empty)


def test_round_trip_native_store(small, tmp_path):
    m = read_oecd_icio(small / "ICIO2021_2018.csv")
    m.validate()
    store = tmp_path / "icio.zarr"
    m.to_zarr(store)
    back = sp.open_mrio(store)
    np.testing.assert_array_equal(back.dense_A(), m.dense_A())
    assert back.stressors == m.stressors and back.meta["source"] == "OECD ICIO"


def test_detector_uses_names(small, tmp_path):
    from spendprint.io.icio import looks_like_icio

    assert looks_like_icio(small / "ICIO2021_2018.csv")
    assert looks_like_icio(small)  # a folder holding ICIO*.csv
    assert not looks_like_icio(small / "bad_cell.csv")
    zp = tmp_path / "ICIO-2016-2020-small.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.write(small / "ICIO2021_2018.csv", "2018.csv")
    assert looks_like_icio(zp)


def test_read_mrio_dispatches(small):
    from spendprint.io.detect import detect_format, read_mrio

    assert detect_format(small / "ICIO2021_2018.csv") == "icio"
    m = read_mrio(small / "ICIO2021_2018.csv")
    assert m.meta["source"] == "OECD ICIO" and m.meta["year"] == 2018
