"""Import speed of the GLORIA, Eora26 and WIOD readers on synthetic releases in the real layouts
(a script, not a test).

Writes a GLORIA-layout release (T/Y/V-Results CSVs in a zip, TQ/YQ satellites, ReadMe workbook)
with ``R`` regions x ``P`` sectors (full size is 164 x 120 = 19,680 products, a T table of
39,360 x 39,360) and a sparse random use table, then reads it in a fresh process with
`spendprint.io.gloria.read_gloria` and reports the wall time, the reader's peak resident memory
and seconds per GB of CSV text::

    python -m benchmarks.reader_speed --regions 40 --sectors 120 --density 0.02
    python -m benchmarks.reader_speed --regions 164 --sectors 120 --density 0.005 --loose

``--loose`` writes the CSVs as plain files instead of a zip (parsing a zip member also pays for
inflating it). The text is almost all ``0,`` (two bytes per zero), so a full-size T table is
about 3.1 GB even when it is sparse; it is written row by row from the non-zeros (``0,`` runs
sliced from one buffer), which takes seconds where formatting a dense block takes minutes.

The other formats reuse the layouts of the reader tests (``tests/test_read_eora.py``,
``tests/test_read_wiod.py``) scaled up to the real sizes::

    python -m benchmarks.reader_speed --format eora26                # 189 countries + ROW x 26
    python -m benchmarks.reader_speed --format wiod2016              # 43 + ROW = 44 x 56, .xlsb
    python -m benchmarks.reader_speed --format wiod2013              # 40 + RoW = 41 x 35, .xlsx
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

YEAR, VERSION, STEM = 2019, "059", "20240111_120secMother_AllCountries_002"


def _write_rows(fh, block: np.ndarray) -> int:
    """Write a dense block as CSV text (zeros as ``0``); returns bytes written."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_arrays([pa.array(block[:, j]) for j in range(block.shape[1])],
                                 names=[f"f{j}" for j in range(block.shape[1])])
    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    data = buf.getvalue().to_pybytes()
    fh.write(data)
    return len(data)


class _SparseRows:
    """CSV rows of ``ncols`` numbers written from their non-zeros (sorted columns, values)."""

    def __init__(self, fh, ncols: int) -> None:
        self.fh, self.ncols, self.nbytes = fh, ncols, 0
        self.zeros = b"0," * ncols

    def row(self, cols: np.ndarray, vals: np.ndarray) -> None:
        parts, prev = [], 0
        for c, v in zip(cols.tolist(), vals.tolist(), strict=True):
            parts.append(self.zeros[: 2 * (c - prev)])
            parts.append(repr(v).encode() + b",")
            prev = c + 1
        parts.append(self.zeros[: 2 * (self.ncols - prev)])
        line = b"".join(parts)[:-1] + b"\n"
        self.fh.write(line)
        self.nbytes += len(line)


def synthesise(root: Path, R: int, P: int, density: float, k: int, seed: int, loose: bool) -> int:
    """Write the release under `root`; returns the bytes of CSV text."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n, nT, nf, nv = R * P, 2 * R * P, 6, 6
    root.mkdir(parents=True, exist_ok=True)
    tail = f"{YEAR}_{VERSION}_Markup001(full).csv"
    out_dir = root / "csv"
    out_dir.mkdir(exist_ok=True)
    total = 0
    ind_cols = np.array([r * 2 * P + p for r in range(R) for p in range(P)])
    Y = np.zeros((nT, R * nf))
    Y[ind_cols + P] = np.round(rng.lognormal(0.0, 1.0, (n, R * nf))
                               * (rng.random((n, R * nf)) < 0.3), 4)
    with open(out_dir / f"{STEM}_T-Results_{tail}", "wb") as fh:
        w = _SparseRows(fh, nT)
        for reg in range(R):  # one region's 2P rows: P industries (supply), P products (use)
            use = []
            for _ in range(P):
                m = max(1, rng.binomial(n, density))
                cols = np.sort(rng.choice(n, m, replace=False))
                use.append((ind_cols[cols], np.round(rng.lognormal(-2.0, 1.5, m), 4)))
            # diagonal supply: each industry makes its own product, q = U 1 + Y 1
            q = np.array([v.sum() for _, v in use]) + Y[reg * 2 * P + P: (reg + 1) * 2 * P].sum(axis=1)
            for p in range(P):
                w.row(np.array([reg * 2 * P + P + p]), q[p:p + 1])
            for cols, vals in use:
                w.row(cols, vals)
        total += w.nbytes
    with open(out_dir / f"{STEM}_Y-Results_{tail}", "wb") as fh:
        total += _write_rows(fh, Y)
    V = np.zeros((R * nv, nT))
    V[:, ind_cols] = np.round(rng.random((R * nv, n)), 4) * np.kron(np.eye(R), np.ones((nv, P)))
    with open(out_dir / f"{STEM}_V-Results_{tail}", "wb") as fh:
        total += _write_rows(fh, V)
    TQ = np.zeros((k, nT))
    TQ[:, ind_cols] = np.round(rng.random((k, n)), 4)
    with open(out_dir / f"20240110_120secMother_AllCountries_002_TQ-Results_{tail}", "wb") as fh:
        total += _write_rows(fh, TQ)
    with open(out_dir / f"20240110_120secMother_AllCountries_002_YQ-Results_{tail}", "wb") as fh:
        total += _write_rows(fh, np.round(rng.random((k, R * nf)), 4))
    if not loose:
        with zipfile.ZipFile(root / f"GLORIA_MRIOs_59_{YEAR}.zip", "w", zipfile.ZIP_DEFLATED,
                             compresslevel=1) as zf:
            for f in sorted(out_dir.iterdir()):
                zf.write(f, f.name)
                f.unlink()
        out_dir.rmdir()
    with pd.ExcelWriter(root / f"GLORIA_ReadMe_{VERSION}.xlsx") as xw:
        pd.DataFrame({"Region_acronyms": [f"R{i:03d}" for i in range(R)]}).to_excel(
            xw, sheet_name="Regions", index=False)
        pd.DataFrame({"Sector_names": [f"Sector {p}" for p in range(P)]}).to_excel(
            xw, sheet_name="Sectors", index=False)
        pd.DataFrame({"Value_added_names": [f"VA {i}" for i in range(nv)],
                      "Final_demand_names": [f"FD {i}" for i in range(nf)]}).to_excel(
            xw, sheet_name="Value added and final demand", index=False)
        pd.DataFrame({"Sat_head_indicator": ["Emissions"] * k,
                      "Sat_indicator": [f"gas {i}" for i in range(k)],
                      "Sat_unit": ["kt"] * k}).to_excel(xw, sheet_name="Satellites", index=False)
    return total


def synthesise_eora26(root: Path, countries: int, sectors: int, satellites: int, seed: int) -> int:
    """An Eora26 year (zip with T, FD, VA, Q, QY and labels) in the layout of the reader test,
    with ``countries`` + ROW x ``sectors``; returns the bytes of text."""
    import tests.test_read_eora as layout

    layout.COUNTRIES = [(f"Country {i}", f"C{i:02d}"[:3] if i < 100 else f"{i:03d}")
                        for i in range(countries)]
    layout.SECTORS = [f"Sector {p}" for p in range(sectors)]
    layout.Q = [(f"Satellite {i} (Gg)", "Total") for i in range(satellites)]
    z = layout.write_year(root, layout.make_world(seed))
    with zipfile.ZipFile(z) as zf:
        return sum(i.file_size for i in zf.infolist())


def synthesise_wiod(root: Path, release: str, regions: int, sectors: int, seed: int) -> int:
    """A WIOD world table (2013 release: xlsx; 2016 release: xlsb) in the layout of the reader
    test, with ``regions`` (the last one the rest of the world) x ``sectors``; returns the size of
    the workbook in bytes."""
    import tests.test_read_wiod as layout

    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}X" for i in range(regions - 1)]
    root.mkdir(parents=True, exist_ok=True)
    if release == "2013":
        layout.R13, layout.S13 = [*codes, "RoW"], [(f"s{p}", f"Sector {p}") for p in range(sectors)]
        f = layout.make_flows(regions, sectors, len(layout.FD13), len(layout.VA13), seed)
        grid, path = layout.grid_2013(f), root / "wiot09_row_apr12.xlsx"
        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("WIOT_09")
        for row in grid:
            ws.append([float(v) if isinstance(v, np.floating) else v for v in row])
        wb.save(path)
    else:
        import pyxlsbwriter

        layout.R16, layout.S16 = [*codes, "ROW"], [(f"S{p:02d}", f"Sector {p}") for p in range(sectors)]
        f = layout.make_flows(regions, sectors, len(layout.FD16), len(layout.VA16), seed)
        path = root / "WIOT2014_Nov16_ROW.xlsb"
        grid = [[float(v) if isinstance(v, np.floating) else ("" if v is None else v) for v in r]
                for r in layout.grid_2016(f)]
        with pyxlsbwriter.XlsbWriter(str(path)) as w:
            w.add_sheet("2014")
            w.write_sheet(grid)
    return path.stat().st_size


def read_once(root: Path) -> dict[str, float]:
    """Read the release in this process; wall time and peak resident memory."""
    from spendprint.io.detect import read_mrio

    t = time.perf_counter()
    m = read_mrio(root)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    return {"seconds": dt, "peak_gib": peak, "n": m.n, "nnz_A": int(np.count_nonzero(
        m.A.toarray() if hasattr(m.A, "toarray") else m.A)), "sparse": bool(m.is_sparse)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--format", choices=["gloria", "eora26", "wiod2013", "wiod2016"],
                    default="gloria")
    ap.add_argument("--regions", type=int, default=None,
                    help="default: 40 (GLORIA), 189 (Eora26), 41 (WIOD 2013), 44 (WIOD 2016)")
    ap.add_argument("--sectors", type=int, default=None,
                    help="default: 120 (GLORIA), 26 (Eora26), 35 (WIOD 2013), 56 (WIOD 2016)")
    ap.add_argument("--density", type=float, default=0.02, help="non-zero share of the use table")
    ap.add_argument("--satellites", type=int, default=None,
                    help="default: 50 (GLORIA), 2,720 (Eora26, as shipped)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loose", action="store_true", help="plain CSV files instead of a zip")
    ap.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    ap.add_argument("--read-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.read_only is not None:
        print(json.dumps(read_once(args.read_only)))
        return
    R0, P0, K0 = {"gloria": (40, 120, 50), "eora26": (189, 26, 2720), "wiod2013": (41, 35, 0),
                  "wiod2016": (44, 56, 0)}[args.format]
    R, P = args.regions or R0, args.sectors or P0
    K = K0 if args.satellites is None else args.satellites
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / args.format
        t = time.perf_counter()
        if args.format == "gloria":
            nbytes = synthesise(root, R, P, args.density, K, args.seed, args.loose)
        elif args.format == "eora26":
            nbytes = synthesise_eora26(root, R, P, K, args.seed)
        else:
            nbytes = synthesise_wiod(root, args.format[-4:], R, P, args.seed)
        t_write = time.perf_counter() - t
        on_disk = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        target = next(root.iterdir()) if args.format != "gloria" else root
        # a fresh process, so the peak memory is the reader's own
        res = subprocess.run([sys.executable, "-m", "benchmarks.reader_speed", "--read-only",
                              str(target)], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
    gb = nbytes / 1e9
    what = {"gloria": f"(T {2 * r['n']:,} x {2 * r['n']:,}), use density {args.density}, "
                      f"{K} satellites, {'loose CSV' if args.loose else 'zip'}",
            "eora26": f"+ ROW, {K:,} satellites, zip of tab-separated text",
            "wiod2013": "2013 release, xlsx", "wiod2016": "2016 release, xlsb"}[args.format]
    unit = "CSV text" if args.format == "gloria" else (
        "text" if args.format == "eora26" else "workbook")
    print(f"{args.format} layout {R} x {P} = {r['n']:,} sectors {what}")
    print(f"  {unit} {gb:.3f} GB ({on_disk / 1e9:.3f} GB on disk), written in {t_write:.1f} s")
    print(f"  read: {r['seconds']:.1f} s, {r['seconds'] / gb:.1f} s/GB of {unit}, "
          f"peak RSS {r['peak_gib']:.2f} GiB, A {'CSR' if r['sparse'] else 'dense'} "
          f"with {r['nnz_A']:,} non-zeros")


if __name__ == "__main__":
    main()
