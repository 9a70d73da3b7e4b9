"""Latency of a 100-category footprint request over HTTP on a loaded n = 9,800 model.

    python -m benchmarks.api_latency [--data-dir DIR] [--requests 100] [--regions 49 --sectors 200]

Writes the synthetic world (``sp.synthetic_mrio()``, 49 x 200 = 9,800 sectors) to
``DIR/models/world`` if it is not there, starts ``spendprint serve`` on a free loopback port with
the model preloaded (opened and factorised before timing starts), sends a few warm-up requests and
then ``--requests`` sequential ``POST /models/world/footprints`` requests of a 100-category ledger
(the demo ledger's 80 categories, 20 of them repeated under new names with an inline concordance),
and prints p50/p90/p99 of the client-side latency (request sent -> response parsed).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(data_dir: Path, regions: int, sectors: int) -> str:
    import spendprint as sp
    from spendprint.api.auth import KeyStore

    store = data_dir / "models" / "world"
    if not (store / "zarr.json").exists():
        t0 = time.perf_counter()
        sp.synthetic_mrio(regions=regions, sectors=sectors, seed=0).to_zarr(store)
        print(f"wrote {store} in {time.perf_counter() - t0:.1f} s", flush=True)
    return KeyStore(data_dir / "spendprint.sqlite").create("benchmark")[1]


def request_body(categories: int) -> dict:
    """A ledger of ``categories`` categories (one row each) with its concordance inline."""
    from spendprint.procurement.demo import demo_inputs

    ledger, conc = demo_inputs()
    spend = ledger.frame.groupby("category", observed=True)["amount"].sum()
    conc_rows = conc.frame.reset_index(drop=True)
    base = list(dict.fromkeys(conc_rows["category"]))
    names = base + [f"{c} (lot {i // len(base) + 2})" for i, c in
                    enumerate(base * (categories // len(base) + 1))][: max(0, categories - len(base))]
    names = names[:categories]
    rows_c, rows_l = [], []
    for name in names:
        orig = name.split(" (lot ")[0]
        for r in conc_rows[conc_rows["category"] == orig].itertuples():
            rows_c.append({"category": name, "sector": r.sector, "weight": float(r.weight),
                           "origin_region": r.origin_region or None})
        rows_l.append({"category": name, "amount": float(spend.get(orig, 1.0e5)),
                       "currency": "NOK", "year": 2023})
    return {"ledger": rows_l, "concordance": rows_c, "buyer_region": "NO"}


def percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--categories", type=int, default=100)
    ap.add_argument("--regions", type=int, default=49)
    ap.add_argument("--sectors", type=int, default=200)
    ap.add_argument("--stressors", nargs="*", default=None,
                    help="Indicators to request (default: all of the model).")
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = ap.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="spendprint-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    key = prepare(data_dir, args.regions, args.sectors)
    body = request_body(args.categories)
    if args.stressors:
        body["stressors"] = args.stressors
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(data_dir / "bench-server.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "spendprint.cli", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--preload", "world"], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        t0 = time.perf_counter()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # bounded: server up and the model loaded
            try:
                if "world" in httpx.get(f"{url}/health", timeout=2).json()["models_loaded"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if server.poll() is not None:
                raise SystemExit(f"server exited; see {data_dir / 'bench-server.log'}")
            time.sleep(0.25)
        else:
            raise SystemExit("model did not load within 600 s")
        print(f"server up, model opened and factorised in {time.perf_counter() - t0:.1f} s",
              flush=True)
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=300) as c:
            for _ in range(args.warmup):
                r = c.post("/models/world/footprints", json=body)
                r.raise_for_status()
            ncat = r.json()["categories"]
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                r = c.post("/models/world/footprints", json=body)
                r.raise_for_status()
                r.json()
                times.append(time.perf_counter() - t)
        info = httpx.get(f"{url}/models/world").json()
        figures = {
            "n": info["n"], "categories": ncat, "requests": len(times),
            "stressors": body.get("stressors") or [i["name"] for i in info["indicators"]],
            "p50_ms": 1e3 * percentile(times, 0.50), "p90_ms": 1e3 * percentile(times, 0.90),
            "p99_ms": 1e3 * percentile(times, 0.99), "mean_ms": 1e3 * statistics.fmean(times),
            "min_ms": 1e3 * min(times), "max_ms": 1e3 * max(times),
        }
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
