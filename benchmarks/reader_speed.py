"""Import speed of the GLORIA reader on a synthetic release in the real layout (a script, not a test).

Writes a GLORIA-layout release (T/Y/V-Results CSVs in a zip, TQ/YQ satellites, ReadMe workbook)
with ``R`` regions x ``P`` sectors (full size is 164 x 120 = 19,680 products, a T table of
39,360 x 39,360) and a sparse random use table, then reads it in a fresh process with
`spendprint.io.gloria.read_gloria` and reports the wall time, the reader's peak resident memory
and seconds per GB of CSV text::

    python -m benchmarks.reader_speed --regions 40 --sectors 120 --density 0.02
    python -m benchmarks.reader_speed --regions 164 --sectors 120 --density 0.005 --loose

``--loose`` writes the CSVs as plain files instead of a zip (parsing a zip member also pays for
inflating it). The text is almost all ``0,`` (two bytes per zero), so a full-size T table is
about 3.1 GB even when it is sparse.
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
        for reg in range(R):  # one region's 2P rows: P industries (supply), P products (use)
            block = np.zeros((2 * P, nT))
            for p in range(P):
                m = max(1, rng.binomial(n, density))
                cols = rng.choice(n, m, replace=False)
                block[P + p, ind_cols[cols]] = np.round(rng.lognormal(-2.0, 1.5, m), 4)
            # diagonal supply: each industry makes its own product, q = U 1 + Y 1
            q = block[P:].sum(axis=1) + Y[reg * 2 * P + P: (reg + 1) * 2 * P].sum(axis=1)
            block[np.arange(P), reg * 2 * P + P + np.arange(P)] = q
            total += _write_rows(fh, block)
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


def read_once(root: Path) -> dict[str, float]:
    """Read the release in this process; wall time and peak resident memory."""
    from spendprint.io.gloria import read_gloria

    t = time.perf_counter()
    m = read_gloria(root)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    return {"seconds": dt, "peak_gib": peak, "n": m.n, "nnz_A": int(np.count_nonzero(
        m.A.toarray() if hasattr(m.A, "toarray") else m.A)), "sparse": bool(m.is_sparse)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--regions", type=int, default=40)
    ap.add_argument("--sectors", type=int, default=120)
    ap.add_argument("--density", type=float, default=0.02, help="non-zero share of the use table")
    ap.add_argument("--satellites", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loose", action="store_true", help="plain CSV files instead of a zip")
    ap.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    ap.add_argument("--read-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.read_only is not None:
        print(json.dumps(read_once(args.read_only)))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "gloria"
        t = time.perf_counter()
        nbytes = synthesise(root, args.regions, args.sectors, args.density, args.satellites,
                            args.seed, args.loose)
        t_write = time.perf_counter() - t
        on_disk = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        # a fresh process, so the peak memory is the reader's own
        res = subprocess.run([sys.executable, "-m", "benchmarks.reader_speed", "--read-only",
                              str(root)], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
    gb = nbytes / 1e9
    print(f"GLORIA layout {args.regions} x {args.sectors} = {r['n']:,} products "
          f"(T {2 * r['n']:,} x {2 * r['n']:,}), use density {args.density}, "
          f"{args.satellites} satellites, {'loose CSV' if args.loose else 'zip'}")
    print(f"  CSV text {gb:.3f} GB ({on_disk / 1e9:.3f} GB on disk), written in {t_write:.1f} s")
    print(f"  read_gloria: {r['seconds']:.1f} s, {r['seconds'] / gb:.1f} s/GB of text, "
          f"peak RSS {r['peak_gib']:.2f} GiB, A {'CSR' if r['sparse'] else 'dense'} "
          f"with {r['nnz_A']:,} non-zeros")


if __name__ == "__main__":
    main()
