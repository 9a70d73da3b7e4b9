"""FIGARO reader: ind-by-ind and prod-by-prod matrix CSVs written here in Eurostat's layout."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
import pytest

import spendprint as sp
from spendprint.io.figaro import FIGARO_FD_CODES, FIGARO_PRIMARY_INPUTS, read_figaro

COUNTRIES = ["AT", "EL", "FIGW1"]
INDUSTRIES = ["A01", "C10T12", "D35", "U"]
PRODUCTS = [f"CPA_{s}" for s in INDUSTRIES]
W2 = list(FIGARO_PRIMARY_INPUTS)


def _table(n_c, P, seed, zero_sector=None):
    rng = np.random.default_rng(seed)
    n, f = n_c * P, len(FIGARO_FD_CODES)
    Z = rng.uniform(0.0, 8.0, (n, n))
    Y = rng.uniform(5.0, 50.0, (n, n_c * f))
    Y[:, 4::f] -= 25.0  # P5M inventories: some negative
    if zero_sector is not None:
        Z[zero_sector, :] = Z[:, zero_sector] = Y[zero_sector, :] = 0.0
    x = Z.sum(1) + Y.sum(1)
    rest = x - Z.sum(0)
    shares = rng.dirichlet(np.ones(len(W2)), n).T  # primary inputs close each column
    W = shares * rest[None, :]
    WY = rng.uniform(0.0, 1.0, (len(W2), n_c * f))
    return Z, Y, W, WY, x


def _write(path, sectors, Z, Y, W, WY, shuffle_cols=False, cell=None):
    codes = [f"{c}_{s}" for c in COUNTRIES for s in sectors]
    fds = [f"{c}_{u}" for c in COUNTRIES for u in FIGARO_FD_CODES]
    body = np.vstack([np.hstack([Z, Y]), np.hstack([W, WY])])
    labels = codes + [f"W2_{w}" for w in W2]
    header = codes + fds
    order = np.arange(len(header))
    if shuffle_cols:  # columns need not be in the order of the rows
        order = np.random.default_rng(0).permutation(len(header))
    rows = [[lab, *(repr(float(v)) for v in body[i, order])] for i, lab in enumerate(labels)]
    if cell is not None:
        (i, j), v = cell
        rows[i][j] = v
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["rowLabels", *(header[j] for j in order)])
        w.writerows(rows)
    return path


@pytest.mark.parametrize("system", ["ixi", "pxp"])
def test_matrix_file_gives_exact_a_s_x(tmp_path, system):
    sectors = INDUSTRIES if system == "ixi" else PRODUCTS
    kind = "ind-by-ind" if system == "ixi" else "prod-by-prod"
    Z, Y, W, WY, x = _table(len(COUNTRIES), len(sectors), seed=1, zero_sector=3)
    p = _write(tmp_path / f"matrix_eu-ic-io_{kind}_23ed_2021.csv", sectors, Z, Y, W, WY,
               shuffle_cols=True)
    m = read_figaro(p)
    assert m.regions == tuple(COUNTRIES) and m.sectors == tuple(sectors)
    assert m.fd_categories == FIGARO_FD_CODES
    np.testing.assert_allclose(m.x, x, rtol=1e-14)
    nz = x != 0
    A = np.zeros_like(Z)
    A[:, nz] = Z[:, nz] / x[nz]
    np.testing.assert_allclose(m.dense_A(), A, rtol=1e-13, atol=0)
    assert m.x[3] == 0 and not m.dense_A()[:, 3].any()
    np.testing.assert_allclose(m.Y, Y, rtol=1e-14)
    S = np.zeros_like(W)
    S[:, nz] = W[:, nz] / x[nz]
    np.testing.assert_allclose(m.S, S, rtol=1e-12)
    np.testing.assert_allclose(m.F_Y, WY, rtol=1e-14)
    assert (m.Y < 0).any()
    assert m.stressors[3] == "D1 Compensation of employees"
    assert set(m.stressor_units) == {"M EUR"}
    assert (m.meta["source"], m.meta["version"], m.meta["year"], m.meta["currency"],
            m.meta["money_unit"], m.meta["system"]) == ("FIGARO", "23ed", 2021, "EUR", "M EUR",
                                                         system)
    # multipliers: a dense solve; all primary inputs together give 1 per unit of output
    L = np.linalg.solve(np.eye(len(x)) - A, np.eye(len(x)))
    M = sp.multipliers(m).values.reshape(len(W2), -1)
    np.testing.assert_allclose(M, S @ L, rtol=1e-11)
    np.testing.assert_allclose(M.sum(axis=0)[nz], 1.0, rtol=1e-11)


def test_zip_and_year_choice(tmp_path):
    zp = tmp_path / "figaro.zip"
    tables = {}
    with zipfile.ZipFile(zp, "w") as zf:
        for yr in (2020, 2021):
            Z, Y, W, WY, x = _table(len(COUNTRIES), len(INDUSTRIES), seed=yr)
            tables[yr] = x
            p = _write(tmp_path / f"matrix_eu-ic-io_ind-by-ind_23ed_{yr}.csv", INDUSTRIES,
                       Z, Y, W, WY)
            zf.write(p, f"figaro/{p.name}")
    with pytest.raises(sp.InputFileError, match="found 2.*year="):
        read_figaro(zp)
    m = read_figaro(zp, year=2020)
    np.testing.assert_allclose(m.x, tables[2020], rtol=1e-14)
    assert m.meta["year"] == 2020


def test_bad_files(tmp_path):
    Z, Y, W, WY, x = _table(len(COUNTRIES), len(INDUSTRIES), seed=3)
    bad = _write(tmp_path / "matrix_eu-ic-io_ind-by-ind_2021.csv", INDUSTRIES, Z, Y, W, WY,
                 cell=((1, 2), "x"))
    with pytest.raises(sp.InputFileError, match=r"row 'AT_C10T12' \(line 3\), column "
                                                r"'AT_C10T12': 'x' is not a number"):
        read_figaro(bad)
    odd = _write(tmp_path / "matrix_odd.csv", INDUSTRIES, Z, Y, W, WY, cell=((0, 0), "AT_ZZZ"))
    with pytest.raises(sp.InputFileError, match="row 'AT_ZZZ'.*not one of the industry columns"):
        read_figaro(odd)
    with pytest.raises(sp.InputFileError, match="no such file"):
        read_figaro(tmp_path / "matrix_absent.csv")
    text = bad.read_text().splitlines()
    cut = tmp_path / "matrix_cut.csv"
    cut.write_text("\n".join(text[:3] + [text[3][:40]]) + "\n")
    with pytest.raises(sp.InputFileError, match="truncated or malformed at line 4"):
        read_figaro(cut)


def test_detector_uses_names(tmp_path):
    from spendprint.io.figaro import looks_like_figaro

    Z, Y, W, WY, x = _table(len(COUNTRIES), len(INDUSTRIES), seed=4)
    p = _write(tmp_path / "matrix_eu-ic-io_ind-by-ind_23ed_2021.csv", INDUSTRIES, Z, Y, W, WY)
    assert looks_like_figaro(p) and looks_like_figaro(tmp_path)
    other = tmp_path / "sub"
    other.mkdir()
    assert not looks_like_figaro(other)


def test_read_mrio_dispatches(tmp_path):
    from spendprint.io.detect import detect_format, read_mrio

    Z, Y, W, WY, x = _table(len(COUNTRIES), len(INDUSTRIES), seed=5)
    p = _write(tmp_path / "matrix_eu-ic-io_ind-by-ind_23ed_2021.csv", INDUSTRIES, Z, Y, W, WY)
    assert detect_format(p) == "figaro"
    np.testing.assert_allclose(read_mrio(p).x, x, rtol=1e-14)


def _flatfile(path, sectors, Z, Y, W, WY, item="Ii"):
    """The long layout: one line per nonzero cell, in shuffled order, with Eurostat's columns."""
    codes = [(c, s) for c in COUNTRIES for s in sectors]
    fds = [(c, u) for c in COUNTRIES for u in FIGARO_FD_CODES]
    body = np.vstack([np.hstack([Z, Y]), np.hstack([W, WY])])
    rows = codes + [("W2", w) for w in W2]
    cols = codes + fds
    lines = [(f"{ra}_{ri}", f"{ca}_{ci}", ra, ri, ca, ci, repr(float(body[i, j])))
             for i, (ra, ri) in enumerate(rows) for j, (ca, ci) in enumerate(cols)
             if body[i, j] or j < len(codes)]  # zero final-demand cells left out
    order = np.random.default_rng(1).permutation(len(lines))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["icioiRow", "icioiCol", "refArea", f"row{item}", "counterpartArea",
                    f"col{item}", "obsValue"])
        w.writerows(lines[k] for k in order)
    return path


@pytest.mark.parametrize("item", ["Ii", "Pi"])
def test_flatfile_equals_matrix_file(tmp_path, item):
    sectors = INDUSTRIES if item == "Ii" else PRODUCTS
    Z, Y, W, WY, x = _table(len(COUNTRIES), len(sectors), seed=8, zero_sector=2)
    kind = "ind-by-ind" if item == "Ii" else "prod-by-prod"
    mat = read_figaro(_write(tmp_path / f"matrix_eu-ic-io_{kind}_24ed_2022.csv", sectors,
                             Z, Y, W, WY))
    flat_csv = _flatfile(tmp_path / f"flatfile_eu-ic-io_{kind}_24ed_2022.csv", sectors,
                         Z, Y, W, WY, item)
    zp = tmp_path / f"flatfile_eu-ic-io_{kind}_24ed_2022.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.write(flat_csv, flat_csv.name)
    for src in (flat_csv, zp):
        m = read_figaro(src)
        assert m.regions == mat.regions and m.sectors == mat.sectors
        assert m.stressors == mat.stressors and m.fd_categories == mat.fd_categories
        for name in ("A", "x", "S", "Y", "F_Y"):
            np.testing.assert_array_equal(getattr(m, name), getattr(mat, name))
        assert (m.meta["version"], m.meta["year"], m.meta["system"]) == (
            "24ed", 2022, "ixi" if item == "Ii" else "pxp")


def test_flatfile_problems(tmp_path):
    p = tmp_path / "flatfile_eu-ic-io_ind-by-ind_2022.csv"
    p.write_text("refArea,rowIi,counterpartArea,colIi,obsValue\nAT,A01,AT,A01,1\nAT,A01,AT,A01,2\n")
    with pytest.raises(sp.InputFileError, match=r"\(AT_A01, AT_A01\) appears on more than one"):
        read_figaro(p)
    p.write_text("refArea,rowIi,colIi,obsValue\nAT,A01,A01,1\n")
    with pytest.raises(sp.InputFileError, match="without a counterpartArea column"):
        read_figaro(p)
