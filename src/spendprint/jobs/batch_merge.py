"""Merging the task outputs of a batch plan into one output set in ``out``.

* ``results.zarr``: the per-category results of every deterministic task with dimensions
  ``model`` and ``ledger`` in front (categories and stressors outer-joined; a category a ledger
  lacks is NaN), scenario results with ``scenario``; with samples, ``sample_footprint`` (model,
  ledger, sample, stressor, category) and the summaries of `spendprint.uncertainty.summarise`
  (``mc_mean``, ``mc_sd``, ``mc_p5``, ``mc_p50``, ``mc_p95``, ...), computed from the
  concatenated samples exactly as one ``spendprint run --samples`` computes them.
* ``categories.parquet``: the tidy table of every ``spendprint run`` with ``model`` and
  ``ledger`` columns (and the Monte Carlo columns).
* ``comparison.html``: total footprint of the plan's stressor for each (model, ledger).
* ``manifest.json``: plan hash, inputs' sha256, versions, every task with status, error and
  timings.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..io.output_folder import OutputSet
from .batch_plan import BatchPlan, expand, input_hashes, plan_hash
from .batch_run import plan_status, task_dir
from .outputs import clean_for_zarr
from .provenance import versions

MC_NAMES = ("mean", "sd", "p2.5", "p5", "p50", "p95", "p97.5", "p_top5", "p_top10", "rank_lo",
            "rank_hi", "mcse")


def labels(paths: tuple[str, ...]) -> list[str]:
    """Short unique labels (file stems; an index is added where two stems agree)."""
    stems = [Path(p).name.removesuffix(".zarr").rsplit(".", 1)[0] if "." in Path(p).name
             else Path(p).name for p in paths]
    return [s if stems.count(s) == 1 else f"{s}-{i}" for i, s in enumerate(stems)]


def _det_dataset(d: Path) -> xr.Dataset:
    ds = xr.open_zarr(d / "results.zarr", consolidated=False).load()
    keep = {n: v for n, v in ds.data_vars.items()
            if set(v.dims) <= {"stressor", "category", "scenario"}}
    return xr.Dataset(keep)


def _mc_dataset(plan: BatchPlan, chunks: list) -> xr.Dataset:
    from ..uncertainty.summary import percentile_columns, summarise

    parts = []
    for t in sorted(chunks, key=lambda t: t.start):
        with np.load(task_dir(plan, t) / "samples.npz") as z:
            parts.append({k: z[k] for k in z.files})
    E = np.concatenate([p["footprint"] for p in parts])
    names = [str(s) for s in parts[0]["stressor"]]
    cats = [str(c) for c in parts[0]["category"]]
    fp = xr.DataArray(E, dims=("sample", "stressor", "category"),
                      coords={"sample": np.concatenate([p["sample"] for p in parts]),
                              "stressor": names, "category": cats})
    det = xr.DataArray(parts[0]["deterministic"], dims=("stressor", "category"),
                       coords={"stressor": names, "category": cats})
    summ = summarise(fp, det, category_dim="category")
    for name, var in percentile_columns(summ).items():
        summ[name.replace("_", ".")] = var
    out = xr.Dataset({"sample_footprint": fp,
                      "sample_fallback": ("sample", np.concatenate([p["fallback"] for p in parts]))})
    for name in MC_NAMES:
        if name in summ:
            out[f"mc_{name}"] = summ[name]
    return out


def merge(plan: BatchPlan, say=None) -> dict[str, Any]:
    """Merge every finished task into ``plan.out``; returns the manifest (also written)."""
    say = say or (lambda m: None)
    t0 = time.perf_counter()
    inputs = input_hashes(plan)
    phash = plan_hash(plan, inputs)
    status = plan_status(plan, phash)
    tasks = expand(plan)
    mlab, llab = labels(plan.models), labels(plan.ledgers)
    per_model = []
    tables = []
    complete: list[tuple[int, int]] = []
    for i in range(len(plan.models)):
        per_ledger = []
        for j in range(len(plan.ledgers)):
            pair = [t for t in tasks if t.model_index == i and t.ledger_index == j]
            det = pair[0]
            if status[det.id]["status"] != "done":
                continue
            ds = _det_dataset(task_dir(plan, det))
            table = pd.read_parquet(task_dir(plan, det) / "categories.parquet")
            chunks = pair[1:]
            if chunks and all(status[t.id]["status"] == "done" for t in chunks):
                mc = _mc_dataset(plan, chunks)
                ds = ds.merge(mc)
                mc_cols = xr.Dataset({n.removeprefix("mc_"): mc[n] for n in mc.data_vars
                                      if n.startswith("mc_")}).to_dataframe().reset_index()
                mc_cols = mc_cols.drop(columns=[c for c in mc_cols.columns
                                                if c not in ("stressor", "category")
                                                and c not in MC_NAMES])
                table = table.drop(columns=[c for c in MC_NAMES if c in table.columns])
                table = table.merge(mc_cols, on=["category", "stressor"], how="left")
            complete.append((i, j))
            table.insert(0, "ledger", llab[j])
            table.insert(0, "model", mlab[i])
            tables.append(table)
            per_ledger.append(ds.expand_dims(ledger=[llab[j]]))
        if per_ledger:
            per_model.append(xr.concat(per_ledger, dim="ledger", join="outer")
                             .expand_dims(model=[mlab[i]]))
    counts: dict[str, int] = {}
    for st in status.values():
        counts[st["status"]] = counts.get(st["status"], 0) + 1
    manifest: dict[str, Any] = {
        "spendprint_batch": 1, "name": plan.name, "plan": plan.source, "plan_hash": phash,
        "inputs": [{"path": p, "sha256": h} for p, h in inputs.items()],
        "models": dict(zip(mlab, plan.models, strict=True)),
        "ledgers": dict(zip(llab, plan.ledgers, strict=True)),
        "versions": versions(), "counts": counts,
        "complete": len(complete) == len(plan.models) * len(plan.ledgers),
        "tasks": [_task_entry(t.id, status[t.id]) for t in tasks],
    }
    with OutputSet(plan.out, "batch", resumable=()) as outset:
        if per_model:
            full = xr.concat(per_model, dim="model", join="outer")
            full.attrs.update(plan=plan.name, plan_hash=phash)
            clean_for_zarr(full).to_zarr(outset.path("results.zarr"), mode="w",
                                         consolidated=False)
            pd.concat(tables, ignore_index=True).to_parquet(outset.path("categories.parquet"),
                                                            index=False)
            outset.path("comparison.html").write_text(comparison_html(plan, full), "utf-8")
        manifest["merge_seconds"] = round(time.perf_counter() - t0, 3)
        outset.path("manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    say(f"merged {len(complete)} of {len(plan.models) * len(plan.ledgers)} (model, ledger) "
        f"pair(s) into {plan.out} in {manifest['merge_seconds']} s")
    return manifest


def _task_entry(tid: str, st: dict[str, Any]) -> dict[str, Any]:
    keep = ("status", "host", "seconds", "started", "error", "resumed_groups", "fallbacks",
            "groups_done", "holder")
    return {"id": tid, **{k: st[k] for k in keep if k in st}}


def comparison_html(plan: BatchPlan, full: xr.Dataset) -> str:
    """A small table: total footprint and spend per (model, ledger), with the Monte Carlo 90 %
    interval of the total where samples were drawn."""
    s = plan.stressor
    fp = full["footprint"].sel(stressor=s) if s in full["stressor"].values else None
    unit = str(full["unit"].sel(stressor=s).values) if fp is not None and "unit" in full else ""
    rows = []
    for m in full["model"].values:
        for ledger in full["ledger"].values:
            total = float(fp.sel(model=m, ledger=ledger).sum()) if fp is not None else float("nan")
            spend = (float(full["spend"].sel(model=m, ledger=ledger).isel(stressor=0).sum())
                     if "stressor" in full["spend"].dims
                     else float(full["spend"].sel(model=m, ledger=ledger).sum()))
            ci = ""
            if "sample_footprint" in full and fp is not None:
                tot = full["sample_footprint"].sel(model=m, ledger=ledger, stressor=s).sum(
                    "category")
                if bool(np.isfinite(tot).all()):
                    lo, hi = np.percentile(tot.values, [5, 95])
                    ci = f"{lo:,.4g} – {hi:,.4g}"
            rows.append(f"<tr><td>{html.escape(str(m))}</td><td>{html.escape(str(ledger))}</td>"
                        f"<td>{spend:,.4g}</td><td>{total:,.4g}</td><td>{ci}</td></tr>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(plan.name)}</title><style>body{{font-family:sans-serif}}"
            "td,th{padding:2px 10px;text-align:right}</style></head><body>"
            f"<h1>{html.escape(plan.name)}: models and ledgers compared</h1>"
            f"<table><tr><th>model</th><th>ledger</th><th>spend</th><th>{html.escape(s)} "
            f"[{html.escape(unit)}]</th><th>90 % interval</th></tr>{''.join(rows)}</table>"
            "</body></html>")
