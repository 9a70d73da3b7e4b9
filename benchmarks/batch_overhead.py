"""Overhead of `spendprint batch` against the work: plan expansion and hashing, per-task set-up
(model, ledger, demand, Monte Carlo problem), scheduling on a local dask cluster, and the merge.

    python -m benchmarks.batch_overhead --regions 8 --sectors 60 --models 2 --ledgers 4 \
        --samples 256 --chunk 64 --workers 2

Prints one JSON object. The reference is one ``spendprint run --samples`` (the same model and
the demo ledger, ``--workers`` processes): its Monte Carlo seconds per sample against the batch's
wall seconds per sample over every (model, ledger).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regions", type=int, default=8)
    ap.add_argument("--sectors", type=int, default=60)
    ap.add_argument("--models", type=int, default=2)
    ap.add_argument("--ledgers", type=int, default=4)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--folder", type=Path, default=None, help="Work folder (default: a temp one).")
    args = ap.parse_args(argv)

    import pandas as pd
    import yaml
    from threadpoolctl import threadpool_limits

    import spendprint as sp
    from spendprint.jobs.batch_merge import merge
    from spendprint.jobs.batch_plan import expand, load_plan, plan_hash
    from spendprint.jobs.batch_run import run_tasks, sample_setup
    from spendprint.jobs.main_job import RunConfig, run_job
    from spendprint.procurement import demo_paths

    root = args.folder or Path(tempfile.mkdtemp(prefix="batch-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    for i in range(args.models):
        sp.synthetic_mrio(regions=args.regions, sectors=args.sectors, seed=i + 1).to_zarr(
            root / f"model{i}.zarr")
    ledger = pd.read_csv(demo_paths()["ledger"])
    for j in range(args.ledgers):
        led = ledger.copy()
        led["amount"] = led["amount"] * (1 + 0.1 * j)
        led.to_csv(root / f"ledger{j}.csv", index=False)
    (root / "plan.yaml").write_text(yaml.safe_dump({
        "name": "bench", "models": ["model*.zarr"], "ledgers": ["ledger*.csv"],
        "samples": args.samples, "sample_chunk": args.chunk, "seed": 1, "out": "out",
        "cluster": {"kind": "local", "jobs": args.workers}}))

    res: dict = {"size": {"sectors": args.regions * args.sectors, "models": args.models,
                          "ledgers": args.ledgers, "samples": args.samples, "chunk": args.chunk,
                          "workers": args.workers}}
    t0 = time.perf_counter()
    plan = load_plan(root / "plan.yaml")
    tasks = expand(plan)
    phash = plan_hash(plan)
    res["plan_load_expand_hash_s"] = round(time.perf_counter() - t0, 4)
    res["tasks"] = len(tasks)

    # per-task fixed cost of a Monte Carlo chunk, and its samples' cost, on one thread
    mc_task = next(t for t in tasks if t.kind == "mc")
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        setup = sample_setup(plan, mc_task)
        res["mc_task_setup_cold_s"] = round(time.perf_counter() - t0, 4)  # first imports too
        t0 = time.perf_counter()
        setup = sample_setup(plan, mc_task)
        res["mc_task_setup_s"] = round(time.perf_counter() - t0, 4)
        from spendprint.uncertainty.sampler import run_samples

        t0 = time.perf_counter()
        run_samples(setup.problem, 1, 0, args.chunk)
        res["mc_seconds_per_sample_1thread"] = round((time.perf_counter() - t0) / args.chunk, 5)

    # reference: one plain run of the same size with --workers processes
    t0 = time.perf_counter()
    ref = run_job(RunConfig(mrio=plan.models[0], ledger=plan.ledgers[0], out=str(root / "ref"),
                            samples=args.samples, seed=1, workers=args.workers, spa_top=0))
    res["plain_run_total_s"] = round(time.perf_counter() - t0, 3)
    mc_s = ref.provenance["timings_s"].get("monte_carlo")
    res["plain_run_mc_seconds_per_sample"] = round(mc_s / args.samples, 5) if mc_s else None

    t0 = time.perf_counter()
    results = run_tasks(plan, tasks, in_process=False, phash=phash)
    wall = time.perf_counter() - t0
    assert {r["status"] for r in results.values()} == {"done"}, results
    secs = {t.id: results[t.id]["seconds"] for t in tasks}
    busy = sum(secs.values())
    res["batch_wall_s"] = round(wall, 3)
    res["batch_task_seconds_sum"] = round(busy, 3)
    res["det_task_mean_s"] = round(sum(v for k, v in secs.items() if k.endswith("-det"))
                                   / (args.models * args.ledgers), 3)
    n_mc = sum(1 for t in tasks if t.kind == "mc")
    res["mc_task_mean_s"] = round(sum(v for k, v in secs.items() if "-mc" in k) / n_mc, 3)
    res["batch_wall_seconds_per_sample"] = round(wall / (args.models * args.ledgers
                                                         * args.samples), 5)
    # scheduling: cluster start, task shipping and result return, beyond the tasks' own time
    res["scheduling_overhead_s"] = round(wall - busy / args.workers, 3)
    res["mc_setup_share_of_mc_task"] = round(res["mc_task_setup_s"] / res["mc_task_mean_s"], 3)

    t0 = time.perf_counter()
    merge(plan)
    res["merge_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    again = run_tasks(plan, tasks, in_process=True, phash=phash)
    assert {r["status"] for r in again.values()} == {"skipped"}
    res["rerun_all_skipped_s"] = round(time.perf_counter() - t0, 3)
    res["folder"] = str(root)
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
