"""USEEIO reader: EPA's published total multipliers N reproduced, demand vectors, a fixture in the
USEEIO API JSON layout, detection and the native-store round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import spendprint as sp
from spendprint.io.detect import FORMATS, detect_format, read_mrio
from spendprint.io.useeio import read_useeio, read_useeio_demands

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "useeio"
MODELS = ("USEEIOv1.2", "CAEEIOv1.0-s-20")


def _real(name: str) -> Path:
    folder = REAL / name
    if not (folder / "matrix" / "N.json").is_file():
        pytest.skip(f"real USEEIO model {name} not found under ../shared/realdata/useeio "
                    "(a fresh clone has no ../shared)")
    return folder


def _file_to_model_order(folder: Path, m) -> np.ndarray:
    """Index of each model sector (region-major) in the file's order, from sectors.json."""
    secs = json.loads((folder / "sectors.json").read_text())
    pos = {(s["location"], s["code"]): s["index"] for s in secs}
    return np.array([pos[(r, c)] for r in m.regions for c in m.sectors])


def _max_rel(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest |got - ref| / |ref| over entries, with a floor of 1e-12 x the row's largest |ref|."""
    floor = 1e-12 * np.abs(ref).max(axis=1, keepdims=True)
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), np.maximum(floor, 1e-300))))


# ---- the real models -------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_real_model_reproduces_epa_total_multipliers(name):
    folder = _real(name)
    m = read_useeio(folder)
    N = np.asarray(json.loads((folder / "matrix" / "N.json").read_text()))
    order = _file_to_model_order(folder, m)
    got = sp.multipliers(m, list(m.impacts)).values.reshape(len(m.impacts), m.n)
    rel = _max_rel(got, N[:, order])
    assert rel < 1e-9, f"{name}: max relative difference to EPA's N is {rel:.3g}"
    # D-only reading (indicators as stressors) gives the same N
    d_only = read_useeio(folder, flows=False)
    assert d_only.stressors == m.impacts and d_only.C is None
    got_d = sp.multipliers(d_only).values.reshape(len(d_only.stressors), m.n)
    assert _max_rel(got_d, N[:, order]) < 1e-9
    # labels, units and meta
    assert m.meta["source"] == "USEEIO" and m.meta["currency"] == "USD"
    assert m.meta["money_unit"] == "USD" and m.meta["system"] == "cxc"
    assert m.meta["price_basis"] == "producer" and m.meta["model"] == name
    ghg = m.impacts.index("GHG")
    assert m.impact_units[ghg].startswith("kg CO2")


def test_useeio_v12_labels_validation_and_derived_output():
    folder = _real("USEEIOv1.2")
    m = read_useeio(folder)
    assert m.regions == ("US",) and len(m.sectors) == 388 and m.sectors[0] == "1111A0"
    assert m.meta["version"] == "1.2" and m.meta["year"] == 2007
    assert len(m.stressors) == 2412 and len(m.impacts) == 24
    # the real model's quirks are warnings, not errors
    rep = sp.validate(m)
    assert rep.ok
    f = rep.figures
    assert f["negative_A_count"] == 93 and f["negative_A_sum"] == pytest.approx(-0.0387646, rel=1e-5)
    assert f["columns_above_one"] == 1 and f["colsum_max"] == pytest.approx(1.0028117, rel=1e-6)
    assert f["spectral_radius"] == pytest.approx(0.500668, rel=1e-5)
    assert f["zero_columns_A"] == 3
    assert any("93 negative coefficient" in w for w in rep.warnings)
    # no q.json in v1.2: x = (I - A)^-1 y(2007 production), and that y's footprint is N y
    y = read_useeio_demands(folder)["2007_us_production"]
    np.testing.assert_allclose(m.x, np.linalg.solve(np.eye(m.n) - m.A, y), rtol=1e-10)
    assert "2007_us_production" in m.meta["x_source"]
    N = np.asarray(json.loads((folder / "matrix" / "N.json").read_text()))
    ghg = m.impacts.index("GHG")
    fp = sp.footprint(m, y, stressors="GHG")
    assert float(fp.total.values[0]) == pytest.approx(N[ghg] @ y, rel=1e-10)


def test_state_model_regions_output_and_demand_vectors():
    folder = _real("CAEEIOv1.0-s-20")
    m = read_useeio(folder)
    assert m.regions == ("US-CA", "RoUS") and len(m.sectors) == 73 and m.n == 146
    q = np.asarray(json.loads((folder / "matrix" / "q.json").read_text()))[:, 0]
    assert np.array_equal(m.x, q[_file_to_model_order(folder, m)])  # x is q, not industry x
    demands = read_useeio_demands(folder)
    assert len(demands) == 8
    # the complete production demand of both regions gives commodity output: x = (I - A)^-1 y
    y = demands["2020_US-CA_Production_Complete"] + demands["2020_RoUS_Production_Complete"]
    x_dense = np.linalg.solve(np.eye(m.n) - m.A, y)
    assert np.max(np.abs(x_dense - m.x)) / m.x.max() < 1e-5
    np.testing.assert_allclose(m.solver.solve(y), x_dense, rtol=1e-9, atol=1e-3)
    # Rho and Phi kept for the price layer, years inferred from the model-year column
    rho, phi = m.meta["useeio_rho"], m.meta["useeio_phi"]
    assert rho["years"][0] == 2002 and rho["years"][-1] == 2021 and len(rho["values"]) == 146
    assert rho["values"][0][rho["years"].index(2020)] == 1.0
    assert phi["years"] == rho["years"] and 0.5 < min(min(r) for r in phi["values"]) <= 1.0
    assert sp.validate(m).ok


# ---- a fixture written by the test in the same layout ------------------------------------------
A_FIX = np.array([[0.10, 0.20, 0.05, 0.00],   # file order: a/R1, a/R2, b/R1, b/R2 (interleaved)
                  [0.05, 0.10, 0.00, 0.10],
                  [0.30, -0.01, 0.20, 0.05],
                  [0.00, 0.10, 0.10, 0.30]])
B_FIX = np.array([[1.0, 2.0, 0.5, 0.1],       # flows: co2, ch4, land
                  [0.01, 0.0, 0.3, 0.2],
                  [5.0, 1.0, 0.0, 2.0]])
C_FIX = np.array([[1.0, 28.0, 0.0],           # GHG (kg CO2 eq), LAND (m2*yr)
                  [0.0, 0.0, 1.0]])
Q_FIX = np.array([100.0, 80.0, 60.0, 50.0])


def _write_fixture(folder: Path, with_b: bool = True) -> Path:
    (folder / "matrix").mkdir(parents=True)
    (folder / "demands").mkdir()
    locs, codes = ["R1", "R2", "R1", "R2"], ["a", "a", "b", "b"]
    secs = [{"id": f"{c}/{r}", "index": i, "name": f"Product {c}", "code": c, "location": r}
            for i, (c, r) in enumerate(zip(codes, locs, strict=True))]
    inds = [{"id": "GHG", "index": 0, "code": "GHG", "name": "Greenhouse Gases", "unit": "kg CO2 eq"},
            {"id": "LAND", "index": 1, "code": "LAND", "name": "Land use", "unit": "m2*yr"}]
    flows = [{"id": f"air/{n}/kg", "index": i, "unit": u}
             for i, (n, u) in enumerate((("co2", "kg"), ("ch4", "kg"), ("land", "m2*yr")))]
    (folder / "sectors.json").write_text(json.dumps(secs))
    (folder / "indicators.json").write_text(json.dumps(inds))
    (folder / "flows.json").write_text(json.dumps(flows))
    (folder / "demands.json").write_text(json.dumps(
        [{"id": "2019_R1_Production", "year": 2019, "type": "Production", "system": "Complete",
          "location": "R1"}]))
    (folder / "demands" / "2019_R1_Production.json").write_text(json.dumps(
        [{"sector": "a/R1", "amount": 10.0}, {"sector": "b/R2", "amount": 4.0}]))
    mats = {"A": A_FIX, "D": C_FIX @ B_FIX, "q": Q_FIX[:, None],
            "Rho": np.array([[1.1, 1.0, 0.9]] * 4), "Phi": np.array([[0.8, 0.8, 0.7]] * 4)}
    if with_b:
        mats.update(B=B_FIX, C=C_FIX)
    for name, arr in mats.items():
        (folder / "matrix" / f"{name}.json").write_text(json.dumps(arr.tolist()))
    return folder


def test_fixture_reader_against_dense_solve(tmp_path):
    folder = _write_fixture(tmp_path / "TESTEIOv2.0.1")
    m = read_useeio(folder)
    assert m.regions == ("R1", "R2") and m.sectors == ("a", "b")
    assert m.stressors == ("air/co2/kg", "air/ch4/kg", "air/land/kg")
    assert m.stressor_units == ("kg", "kg", "m2*yr")
    assert m.impacts == ("GHG", "LAND") and m.impact_units == ("kg CO2 eq", "m2*yr")
    assert m.meta["version"] == "2.0.1" and m.meta["year"] == 2019
    assert m.meta["sector_names"] == ["Product a", "Product b"]
    # region-major reordering of the interleaved file: model i -> file perm[i]
    perm = [0, 2, 1, 3]
    np.testing.assert_array_equal(m.A, A_FIX[np.ix_(perm, perm)])
    np.testing.assert_array_equal(m.x, Q_FIX[perm])
    # total multipliers N = C B (I - A)^-1, computed in the file's order by a dense solve
    N_file = np.linalg.solve((np.eye(4) - A_FIX).T, (C_FIX @ B_FIX).T).T
    got = sp.multipliers(m, ["GHG", "LAND"]).values.reshape(2, 4)
    np.testing.assert_allclose(got, N_file[:, perm], rtol=1e-13)
    # demand vectors in model order; x = q; Rho years from the all-ones column
    y = read_useeio_demands(folder)["2019_R1_Production"]
    np.testing.assert_array_equal(y, [10.0, 0.0, 0.0, 4.0])
    assert m.meta["useeio_rho"]["years"] == [2018, 2019, 2020]
    assert m.meta["useeio_phi"]["values"][0] == [0.8, 0.8, 0.7]
    # one negative coefficient: a warning, and the footprint is still the dense one
    rep = sp.validate(m)
    assert rep.ok and rep.figures["negative_A_count"] == 1
    assert rep.figures["negative_A_worst"][0] == {"row": "R1/b", "column": "R2/a", "value": -0.01}
    fp = sp.footprint(m, y, stressors="GHG")
    assert float(fp.total.values[0]) == pytest.approx(N_file[0, perm] @ y, rel=1e-13)


def test_fixture_without_b_and_without_q(tmp_path):
    folder = _write_fixture(tmp_path / "m", with_b=False)
    (folder / "matrix" / "q.json").unlink()
    m = read_useeio(folder)
    assert m.stressors == ("GHG", "LAND") and m.impacts == () and m.C is None
    perm = [0, 2, 1, 3]
    y = read_useeio_demands(folder)["2019_R1_Production"]
    np.testing.assert_allclose(m.x, np.linalg.solve(np.eye(4) - A_FIX[np.ix_(perm, perm)], y),
                               rtol=1e-13)
    N_file = np.linalg.solve((np.eye(4) - A_FIX).T, (C_FIX @ B_FIX).T).T
    np.testing.assert_allclose(sp.multipliers(m).values.reshape(2, 4), N_file[:, perm], rtol=1e-13)


def test_fixture_errors_name_the_file(tmp_path):
    folder = _write_fixture(tmp_path / "bad")
    (folder / "matrix" / "A.json").write_text(json.dumps(A_FIX[:3].tolist()))
    with pytest.raises(sp.InputFileError, match=r"A\.json: shape \(3, 4\), expected \(4, 4\)"):
        read_useeio(folder)
    (folder / "matrix" / "A.json").unlink()
    with pytest.raises(sp.InputFileError, match=r"A\.json: missing file"):
        read_useeio(folder)
    folder = _write_fixture(tmp_path / "regions")
    secs = json.loads((folder / "sectors.json").read_text())
    secs[3]["code"] = "c"
    (folder / "sectors.json").write_text(json.dumps(secs))
    with pytest.raises(sp.InputFileError, match="region 'R2' has other sectors"):
        read_useeio(folder)
    (folder / "sectors.json").write_text("[{not json")
    with pytest.raises(sp.InputFileError, match=r"sectors\.json: not valid JSON"):
        read_useeio(folder)


def test_detection_dispatch_and_native_round_trip(tmp_path):
    folder = _write_fixture(tmp_path / "USEEIOv9")
    assert detect_format(folder) == "useeio"
    assert list(FORMATS) == sorted(FORMATS)  # the table stays sorted
    m = read_mrio(folder)
    store = tmp_path / "u.zarr"
    m.to_zarr(store)
    assert detect_format(store) == "native"
    back = read_mrio(store)
    for f in ("A", "x", "S", "C"):
        assert np.array_equal(getattr(back, f), getattr(m, f)), f
    assert back.indicators == m.indicators and back.indicator_units == m.indicator_units
    assert dict(back.meta) == dict(m.meta)  # Rho, Phi, sector names survive the store
    np.testing.assert_array_equal(sp.multipliers(back).values, sp.multipliers(m).values)
    with pytest.raises(sp.InputFileError, match="not a recognised MRIO database.*useeio: USEEIO"):
        read_mrio(tmp_path)
    with pytest.raises(sp.InputFileError, match="unknown format 'gloriax'"):
        read_mrio(folder, format="gloriax")
    # a folder that two detectors accept is not guessed at
    (folder / "A.txt").write_text("")
    with pytest.raises(sp.InputFileError, match=r"several formats \(exiobase3, useeio\)"):
        read_mrio(folder)
    assert read_mrio(folder, format="useeio").sectors == m.sectors


def test_cli_import_and_sectors_of_a_useeio_folder(tmp_path, monkeypatch, capsys):
    from spendprint.cli import main

    monkeypatch.setenv("COLUMNS", "400")
    folder = _write_fixture(tmp_path / "USEEIOv9")
    store = tmp_path / "u.zarr"
    assert main(["mrio", "import", str(folder), str(store), "--format", "useeio"]) == 0
    out = capsys.readouterr().out
    assert "warning: A has 1 negative coefficient(s)" in out and "wrote" in out
    assert main(["mrio", "sectors", str(store)]) == 0
    assert capsys.readouterr().out.splitlines() == ["a\tProduct a", "b\tProduct b"]
    assert main(["mrio", "info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "indicator: GHG [kg CO2 eq]" in out and "indicator: LAND [m2*yr]" in out
