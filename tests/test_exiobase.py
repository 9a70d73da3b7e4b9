"""EXIOBASE 3 reader and writer: round trips, an independent writer (pymrio), bad files, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import spendprint as sp
from spendprint.cli import main
from spendprint.io.exiobase import read_exiobase3, read_exiobase_table, write_exiobase3_like


@pytest.fixture(scope="module")
def world() -> sp.MRIO:
    """4 regions x 30 products with final-demand stressors, so F_Y is exercised too."""
    m = sp.synthetic_mrio(regions=4, sectors=30, seed=3)
    rng = np.random.default_rng(5)
    F_Y = rng.lognormal(0.0, 1.0, (len(m.stressors), m.Y.shape[1])) * (rng.random(m.Y.shape[1]) < 0.5)
    return m.replace(F_Y=F_Y)


def assert_same_model(got: sp.MRIO, ref: sp.MRIO) -> None:
    """``got`` (impacts as plain rows) carries exactly the numbers and labels of ``ref``."""
    np.testing.assert_array_equal(got.dense_A(), ref.dense_A())
    np.testing.assert_array_equal(got.x, ref.x)
    np.testing.assert_array_equal(got.Y, ref.Y)
    np.testing.assert_array_equal(got.S, ref.S_all())
    C = np.asarray(ref.C)
    np.testing.assert_array_equal(got.F_Y, np.vstack([ref.F_Y, C @ ref.F_Y]))
    assert got.regions == ref.regions and got.sectors == ref.sectors
    assert got.fd_categories == ref.fd_categories
    assert got.stressors == ref.indicators
    assert got.stressor_units == ref.indicator_units


def _path(tmp_path: Path, layout: str, as_zip: bool) -> Path:
    return tmp_path / (f"IOT_2022_pxp_{layout}.zip" if as_zip else f"IOT_2022_pxp_{layout}")


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("layout", ["3.8", "3.9"])
def test_round_trip_files_model_zarr(world, tmp_path, layout, as_zip):
    src = write_exiobase3_like(world, _path(tmp_path, layout, as_zip), zip=as_zip, layout=layout)
    if as_zip:
        with zipfile.ZipFile(src) as zf:  # one top folder, as EXIOBASE's downloads
            assert {n.split("/")[0] for n in zf.namelist()} == {"IOT_2022_pxp"}
            assert "IOT_2022_pxp/A.txt" in zf.namelist()
    else:
        folders = sorted(p.name for p in src.iterdir() if p.is_dir())
        assert folders == (["impacts", "satellite"] if layout == "3.8"
                           else ["air_emissions", "employment", "impacts"])
    m = read_exiobase3(src)
    assert_same_model(m, world)
    assert m.meta["source"].startswith(f"EXIOBASE {layout}")
    assert (m.meta["year"], m.meta["system"], m.meta["currency"], m.meta["money_unit"]) == (
        2022, "pxp", "EUR", "M EUR")
    m.validate()

    store = tmp_path / "store.zarr"
    m.to_zarr(store)
    back = sp.open_mrio(store)
    for name in ("A", "x", "S", "Y", "F_Y"):
        np.testing.assert_array_equal(getattr(back, name), getattr(m, name))
    for name in ("regions", "sectors", "stressors", "stressor_units", "fd_categories"):
        assert getattr(back, name) == getattr(m, name)
    assert dict(back.meta) == dict(m.meta)
    # the numbers that come out are those of the original model
    np.testing.assert_allclose(sp.multipliers(back).values, sp.multipliers(world).values,
                               rtol=1e-12)


def test_parent_folder_and_top_folder_are_both_accepted(world, tmp_path):
    top = write_exiobase3_like(world, tmp_path / "download" / "IOT_2022_pxp")
    a = read_exiobase3(top)
    b = read_exiobase3(tmp_path / "download")
    np.testing.assert_array_equal(a.A, b.A)


def test_legacy_names_and_z_only(world, tmp_path):
    """F_hh.txt instead of F_Y.txt (older 3.x); a system with Z but no A gets A = Z diag(x)^-1."""
    src = write_exiobase3_like(world, tmp_path / "IOT_2011_ixi", legacy_F_hh=True, include_Z=True)
    (src / "A.txt").unlink()
    m = read_exiobase3(src)
    np.testing.assert_allclose(m.A, world.A, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(m.F_Y[: len(world.stressors)], world.F_Y)


def test_stressor_selection(world, tmp_path):
    src = write_exiobase3_like(world, tmp_path / "e.zip", zip=True, layout="3.9")
    m = read_exiobase3(src, stressors=["N2O", "CO2*"], impacts=True)
    assert m.stressors == ("N2O", "CO2", "CO2e")
    np.testing.assert_array_equal(m.S[0], world.S[2])
    m2 = read_exiobase3(src, impacts=False)
    assert m2.stressors == world.stressors
    assert m2.meta["extensions"] == ["air_emissions", "employment"]
    with pytest.raises(sp.LabelMismatchError, match="CO3.*did you mean"):
        read_exiobase3(src, stressors="CO3")


def test_reads_files_written_by_pymrio(tmp_path):
    """An independent writer: pymrio's own text export (two-level stressor index, no F_Y in one
    extension); the model gives pymrio's multipliers and footprints."""
    pymrio = pytest.importorskip("pymrio")
    io = pymrio.load_test().calc_all()
    io.save_all(tmp_path / "pm")
    m = read_exiobase3(tmp_path / "pm")
    np.testing.assert_allclose(m.A, io.A.to_numpy(), rtol=1e-11)  # pymrio writes 12 digits
    assert m.meta["money_unit"] == "M USD" and m.meta["source"].startswith("pymrio")
    ref = {}
    for ext in (io.emissions, io.factor_inputs):
        for label, row in ext.M.iterrows():
            name = " - ".join(label) if isinstance(label, tuple) else label
            ref[name] = row.to_numpy()
    assert set(ref) == set(m.stressors)
    M = sp.multipliers(m)
    for name, row in ref.items():
        got = M.sel(stressor=name).values.ravel()
        np.testing.assert_allclose(got, row, rtol=1e-9, atol=1e-12 * np.abs(row).max())


def test_single_table_reader(world, tmp_path):
    src = write_exiobase3_like(world, tmp_path / "t")
    t = read_exiobase_table(src / "satellite" / "F.txt")
    assert t.rows == [(s,) for s in world.stressors] and t.index_names == ("stressor",)
    assert t.cols[0] == (world.regions[0], world.sectors[0])
    np.testing.assert_array_equal(t.values, world.S * world.x[None, :])


# ---- bad inputs ---------------------------------------------------------------------------------
@pytest.fixture
def folder(world, tmp_path) -> Path:
    return write_exiobase3_like(world, tmp_path / "IOT_2022_pxp")


def _lines(p: Path) -> list[bytes]:
    return p.read_bytes().split(b"\n")


def test_truncated_mid_row_names_file_and_row(folder):
    data = (folder / "A.txt").read_bytes()
    (folder / "A.txt").write_bytes(data[: len(data) // 2])
    with pytest.raises(sp.InputFileError, match=r"A\.txt: truncated or malformed at data row \d+") as e:
        read_exiobase3(folder)
    assert e.value.path.endswith("A.txt")


def test_truncated_at_row_boundary(folder):
    lines = _lines(folder / "Y.txt")
    (folder / "Y.txt").write_bytes(b"\n".join(lines[:40]) + b"\n")
    with pytest.raises(sp.InputFileError, match=r"Y\.txt: truncated: 37 data rows, expected 120"):
        read_exiobase3(folder)


def test_non_numeric_value_names_row(folder):
    lines = _lines(folder / "A.txt")
    cells = lines[12].split(b"\t")
    cells[7] = b"n/a?"
    lines[12] = b"\t".join(cells)
    (folder / "A.txt").write_bytes(b"\n".join(lines))
    with pytest.raises(sp.InputFileError, match=r"A\.txt: data row 10 \(line 13.*column 8: 'n/a\?' is not a number"):
        read_exiobase3(folder)


def test_empty_cell(folder):
    lines = _lines(folder / "satellite" / "S.txt")
    cells = lines[4].split(b"\t")
    cells[3] = b""
    lines[4] = b"\t".join(cells)
    (folder / "satellite" / "S.txt").write_bytes(b"\n".join(lines))
    with pytest.raises(sp.InputFileError, match=r"S\.txt: empty or non-finite value at data row 2"):
        read_exiobase3(folder)


@pytest.mark.parametrize("name", ["A.txt", "x.txt", "Y.txt"])
def test_missing_core_file(folder, name):
    (folder / name).unlink()
    with pytest.raises(sp.InputFileError, match=rf"{name.replace('.', '[.]')}: missing"):
        read_exiobase3(folder)


def test_wrong_shapes(world, folder, tmp_path):
    # an extension with fewer columns than A
    other = write_exiobase3_like(world.replace(F_Y=None), tmp_path / "o")
    small = sp.synthetic_mrio(regions=3, sectors=30, seed=3)
    write_exiobase3_like(small, tmp_path / "small")
    shutil.copy(tmp_path / "small" / "satellite" / "S.txt", other / "satellite" / "S.txt")
    with pytest.raises(sp.InputFileError, match=r"satellite.S\.txt: columns do not match A\.txt"):
        read_exiobase3(other)
    # x with fewer rows than A
    shutil.copy(tmp_path / "small" / "x.txt", folder / "x.txt")
    with pytest.raises(sp.InputFileError, match=r"A\.txt"):
        read_exiobase3(folder)


def test_zip_problems(world, tmp_path):
    z = write_exiobase3_like(world, tmp_path / "IOT_2022_pxp.zip", zip=True)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(z.read_bytes()[: z.stat().st_size // 2])
    with pytest.raises(sp.InputFileError, match=r"cut\.zip: not a readable zip"):
        read_exiobase3(cut)
    nox = tmp_path / "nox.zip"
    with zipfile.ZipFile(z) as zin, zipfile.ZipFile(nox, "w") as zout:
        for item in zin.infolist():
            if not item.filename.endswith("/x.txt"):
                zout.writestr(item, zin.read(item))
    with pytest.raises(sp.InputFileError, match=r"nox\.zip:IOT_2022_pxp/x\.txt: missing"):
        read_exiobase3(nox)
    with pytest.raises(sp.InputFileError, match="no such file"):
        read_exiobase3(tmp_path / "absent.zip")


# ---- CLI ----------------------------------------------------------------------------------------
def test_cli_import_and_info(world, tmp_path, capsys):
    z = write_exiobase3_like(world, tmp_path / "IOT_2022_pxp.zip", zip=True)
    store = tmp_path / "exio.zarr"
    assert main(["mrio", "import", str(z), str(store)]) == 0
    assert sp.open_mrio(store).stressors == world.indicators
    capsys.readouterr()
    assert main(["mrio", "info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "EXIOBASE 3.8" in out and "4 regions x 30 sectors" in out and "CO2e" in out
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    assert main(["mrio", "import", str(bad), str(tmp_path / "b.zarr")]) == 2
    assert not (tmp_path / "b.zarr").exists()


def test_cli_subprocess(world, tmp_path):
    z = write_exiobase3_like(world, tmp_path / "IOT_2022_pxp.zip", zip=True)
    exe = shutil.which("spendprint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                           os.environ.get("PATH", "")]))
    cmd = [exe] if exe else [sys.executable, "-c", "import sys; from spendprint.cli import main; "
                                                   "sys.exit(main(sys.argv[1:]))"]
    res = subprocess.run([*cmd, "mrio", "info", str(z)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "EXIOBASE 3.8" in res.stdout and "money_unit: M EUR" in res.stdout


# ---- full size ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_full_size_a_parses_in_seconds(tmp_path):
    m = sp.synthetic_mrio()
    src = write_exiobase3_like(m, tmp_path / "IOT_2022_pxp")
    t0 = time.perf_counter()
    back = read_exiobase3(src)
    elapsed = time.perf_counter() - t0
    np.testing.assert_array_equal(back.A, m.A)
    assert elapsed < 120, f"reading a 9,800-sector EXIOBASE-layout system took {elapsed:.0f} s"


def test_cli_imports_a_pymrio_saved_folder(tmp_path):
    pymrio = pytest.importorskip("pymrio")
    pymrio.load_test().calc_all().save_all(tmp_path / "pm")
    store = tmp_path / "pm.zarr"
    assert main(["mrio", "import", str(tmp_path / "pm"), str(store)]) == 0
    m = sp.open_mrio(store)
    assert m.n == 48 and m.meta["money_unit"] == "M USD"


def test_layout_is_detected_without_file_parameters(world, tmp_path):
    """Extracted text files alone (no file_parameters.json / metadata.json) still parse."""
    src = write_exiobase3_like(world, tmp_path / "IOT_2019_pxp", layout="3.9")
    for p in [*src.rglob("file_parameters.json"), src / "metadata.json"]:
        p.unlink()
    m = read_exiobase3(src)
    assert_same_model(m, world)
    assert m.meta["year"] == 2019 and m.meta["source"] == "EXIOBASE 3.9"
