"""WIOD reader on small workbooks in the 2013-release (xlsx) and 2016-release (xlsb) grids."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import spendprint as sp
from spendprint.errors import InputFileError
from spendprint.io.detect import detect_format, read_mrio
from spendprint.io.wiod import is_wiod, read_wiod

R13 = ["AUS", "ROM", "RoW"]  # ROM: early-year code of Romania
S13 = [("AtB", "Agriculture, Hunting, Forestry and Fishing"), ("C", "Mining and Quarrying"),
       ("15t16", "Food, Beverages and Tobacco")]
FD13 = [("c37", "Final consumption expenditure by households"),
        ("c38", "Final consumption expenditure by non-profit organisations serving households"),
        ("c39", "Final consumption expenditure by government"),
        ("c41", "Gross fixed capital formation"),
        ("c42", "Changes in inventories and valuables")]
VA13 = [("r61", "taxes less subsidies on products"), ("r62", "Cif/ fob adjustments on exports"),
        ("r63", "Direct purchases abroad by residents"),
        ("r64", "Purchases on the domestic territory by non-residents"),
        ("r65", "Value added at basic prices"), ("r66", "International Transport Margins")]
R16 = ["AUS", "DEU", "ROW"]
S16 = [("A01", "Crop and animal production, hunting and related service activities"),
       ("B", "Mining and quarrying"), ("C10-C12", "Manufacture of food products"),
       ("D35", "Electricity, gas, steam and air conditioning supply")]
FD16 = [("CONS_h", "Final consumption expenditure by households"),
        ("CONS_np", "Final consumption expenditure by non-profit organisations serving households"),
        ("CONS_g", "Final consumption expenditure by government"),
        ("GFCF", "Gross fixed capital formation"), ("INVEN", "Changes in inventories and valuables")]
VA16 = [("TXSP", "taxes less subsidies on products"), ("EXP_adj", "Cif/ fob adjustments on exports"),
        ("PURR", "Direct purchases abroad by residents"),
        ("PURNR", "Purchases on the domestic territory by non-residents"),
        ("VA", "Value added at basic prices"), ("IntTTM", "International Transport Margins")]


def make_flows(R: int, P: int, nf: int, nv: int, seed: int) -> dict[str, np.ndarray]:
    """Flows with 6 decimals (as WIOD publishes), so the workbook's decimal text is exact."""
    rng = np.random.default_rng(seed)
    n = R * P
    Z = np.round(rng.random((n, n)) * 10, 6)
    Z[0, 1] = -0.25  # small negative flow
    Y = np.round(rng.random((n, R * nf)) * 30, 6)
    Y[2, nf - 1] = -4.0  # negative inventory change
    VA = np.round(rng.random((nv, n)) * 8, 6)
    FY = np.zeros((nv, R * nf))
    FY[3, 0] = 2.5  # purchases by non-residents booked against final demand
    x = np.round(Z.sum(axis=0) + VA.sum(axis=0), 6)  # output at basic prices: column total
    return {"Z": Z, "Y": Y, "VA": VA, "FY": FY, "x": x}


def grid_2013(f: dict[str, np.ndarray], year: int = 1995) -> list[list]:
    """The 2013-release sheet: title rows, four header rows (A3/A4 hold system and unit)."""
    cols = [(r, c, nm, f"c{j + 1}") for r in R13 for j, (c, nm) in enumerate(S13)]
    cols += [(r, "", nm, num) for r in R13 for num, nm in FD13]
    cols += [("TOT", "", "Total output", "c62")]
    head = [[f"World Input-Output Table {year}"] + [None] * (3 + len(cols)), [None] * (4 + len(cols)),
            ["(industry-by-industry)", None, None, None] + [c[1] for c in cols],
            ["(millions of US$)", None, None, None] + [c[2] for c in cols],
            [None] * 4 + [c[0] for c in cols], [None] * 4 + [c[3] for c in cols]]
    ZY = np.hstack([f["Z"], f["Y"]])
    rows = []
    for i, (r, (code, nm)) in enumerate((r, s) for r in R13 for s in S13):
        rows.append([code, nm, r, f"c{i % len(S13) + 1}", *ZY[i], ZY[i].sum()])
    n = f["Z"].shape[0]
    rows.append([None, "Total intermediate consumption", None, "r60",
                 *np.hstack([f["Z"].sum(axis=0), f["Y"].sum(axis=0)]), None])
    for k, (num, nm) in enumerate(VA13):
        rows.append([None, nm, None, num, *f["VA"][k], *f["FY"][k], None])
    rows.append([None, "Output at basic prices", None, "r69", *f["x"],
                 *np.zeros(f["Y"].shape[1]), None])
    assert len(rows[0]) == 4 + n + f["Y"].shape[1] + 1
    return head + rows


def grid_2016(f: dict[str, np.ndarray], year: int = 2014) -> list[list]:
    cols = [(r, c, nm, f"c{j + 1}") for r in R16 for j, (c, nm) in enumerate(S16)]
    cols += [(r, c, nm, f"c{57 + k}") for r in R16 for k, (c, nm) in enumerate(FD16)]
    cols += [("TOT", "GO", "Total output", "c62")]
    head = [["World Input-Output Table", None, None, None] + [None] * len(cols),
            ["(millions of US$)", None, None, None] + [None] * len(cols),
            [None, None, None, None] + [c[1] for c in cols],
            [None, None, None, None] + [c[2] for c in cols],
            [None, None, None, None] + [c[0] for c in cols],
            ["Code", "Description", "Country", "RNr"] + [c[3] for c in cols]]
    ZY = np.hstack([f["Z"], f["Y"]])
    rows = []
    for i, (r, (code, nm)) in enumerate((r, s) for r in R16 for s in S16):
        rows.append([code, nm, r, f"r{i % len(S16) + 1}", *ZY[i], ZY[i].sum()])
    rows.append(["II_fob", "Total intermediate consumption", "TOT", "r64",
                 *np.hstack([f["Z"].sum(axis=0), f["Y"].sum(axis=0)]), 0.0])
    for k, (code, nm) in enumerate(VA16):
        rows.append([code, nm, "TOT", f"r{65 + k}", *f["VA"][k], *f["FY"][k], 0.0])
    rows.append(["GO", "Output at basic prices", "TOT", "r71", *f["x"], *np.zeros(f["Y"].shape[1]),
                 0.0])
    return head + rows


def write_xlsx(path: Path, grid: list[list], sheet: str) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in grid:
        ws.append([float(v) if isinstance(v, np.floating) else v for v in row])
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def wiod13(tmp_path_factory):
    f = make_flows(len(R13), len(S13), len(FD13), len(VA13), seed=1)
    p = tmp_path_factory.mktemp("wiod") / "wiot95_row_apr12.xlsx"
    return write_xlsx(p, grid_2013(f), "WIOT_95"), f


def check_numbers(m: sp.MRIO, f: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(m.x, f["x"])
    xi = 1 / f["x"]
    np.testing.assert_array_equal(m.dense_A(), f["Z"] * xi[None, :])
    np.testing.assert_array_equal(m.Y, f["Y"])
    np.testing.assert_array_equal(m.S, f["VA"] * xi[None, :])
    np.testing.assert_array_equal(m.F_Y, f["FY"])
    assert m.dense_A()[0, 1] < 0 and (m.Y < 0).any()
    M = sp.multipliers(m).values.reshape(len(m.stressors), -1)
    ref = np.linalg.solve((np.eye(m.n) - m.dense_A()).T, m.S.T).T
    np.testing.assert_allclose(M, ref, rtol=1e-12, atol=1e-15)


def test_2013_release_xlsx(wiod13):
    p, f = wiod13
    m = read_wiod(p)
    check_numbers(m, f)
    assert m.regions == ("AUS", "ROU", "RoW") and m.sectors == tuple(c for c, _ in S13)
    assert m.fd_categories == tuple(nm for _, nm in FD13)
    assert m.stressors == tuple(nm for _, nm in VA13)
    assert m.stressor_units == ("M USD",) * 6
    assert {k: m.meta[k] for k in ("source", "version", "year", "currency", "money_unit",
                                   "price_basis", "system")} == {
        "source": "WIOD", "version": "2013 release", "year": 1995, "currency": "USD",
        "money_unit": "M USD", "price_basis": "basic", "system": "ixi"}


def test_2013_without_calamine_uses_openpyxl(wiod13, monkeypatch):
    monkeypatch.setitem(sys.modules, "python_calamine", None)
    check_numbers(read_wiod(wiod13[0]), wiod13[1])


def test_2016_release_xlsb(tmp_path):
    pytest.importorskip("python_calamine", reason="xlsb needs python-calamine")
    xlsb = pytest.importorskip("pyxlsbwriter", reason="the xlsb fixture needs pyxlsbwriter")
    f = make_flows(len(R16), len(S16), len(FD16), len(VA16), seed=2)
    p = tmp_path / "WIOT2014_Nov16_ROW.xlsb"
    grid = [[float(v) if isinstance(v, np.floating) else ("" if v is None else v) for v in r]
            for r in grid_2016(f)]
    with xlsb.XlsbWriter(str(p)) as w:
        w.add_sheet("2014")
        w.write_sheet(grid)
    m = read_wiod(p)
    check_numbers(m, f)
    assert m.regions == tuple(R16) and m.sectors == tuple(c for c, _ in S16)
    assert m.fd_categories == tuple(c for c, _ in FD16)
    assert m.stressors == tuple(nm for _, nm in VA16)
    assert m.meta["version"] == "2016 release" and m.meta["year"] == 2014
    # the same grid saved as xlsx, inside WIOTS_in_EXCEL.zip with another year
    x = write_xlsx(tmp_path / "WIOT2014_Nov16_ROW.xlsx", grid_2016(f), "2014")
    z = tmp_path / "WIOTS_in_EXCEL.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(x, x.name)
        zf.write(x, "WIOT2013_Nov16_ROW.xlsx")
    check_numbers(read_wiod(z, year=2014), f)
    assert is_wiod(z) and is_wiod(p) and not is_wiod(tmp_path / "nothing.xlsx")
    assert detect_format(p) == detect_format(z) == "wiod"
    np.testing.assert_array_equal(read_mrio(z, year=2014).x, f["x"])
    with pytest.raises(InputFileError, match="several WIOD world table"):
        read_wiod(z)


def test_bad_files_name_the_file(tmp_path, wiod13):
    f = wiod13[1]
    g = grid_2013(f)
    g[7][6] = "n/a"
    p = write_xlsx(tmp_path / "wiot96_row_apr12.xlsx", g, "WIOT_96")
    with pytest.raises(InputFileError, match=r"wiot96_row_apr12\.xlsx: cell G8: 'n/a' is not a "
                                             "number"):
        read_wiod(p)
    g = grid_2013(f)[:2] + [[None] * 30] * 4 + grid_2013(f)[6:]
    p = write_xlsx(tmp_path / "wiot97_row_apr12.xlsx", g, "WIOT_97")
    with pytest.raises(InputFileError, match="no WIOD header row"):
        read_wiod(p)
    (tmp_path / "wiot98_row_apr12.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(InputFileError, match="not a readable workbook"):
        read_wiod(tmp_path / "wiot98_row_apr12.xlsx")
    with pytest.raises(InputFileError, match="no WIOD table for 2001"):
        read_wiod(tmp_path, year=2001)
