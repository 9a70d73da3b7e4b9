"""``spendprint run``: the main job."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ._app import app, console


@app.command()
def run(
    mrio: Path | None = typer.Option(None, help="Native MRIO store or EXIOBASE 3 zip/folder "
                                               "(default: the synthetic demo world)."),
    ledger: Path | None = typer.Option(None, help="Spend ledger: CSV, xlsx or Parquet."),
    concordance: Path | None = typer.Option(None, help="Category -> MRIO sector table."),
    prices: Path | None = typer.Option(None, help="Exchange rates / price indices / margins."),
    scenarios: Path | None = typer.Option(None, help="Scenario levers (YAML or CSV)."),
    risk: Path | None = typer.Option(None, help="Country x sector labour-risk table."),
    buyer_region: str = typer.Option("NO", help="MRIO region of the buyer."),
    out: Path = typer.Option(Path("spendprint-out"), help="Output folder."),
    stressor: str = typer.Option("CO2e", help="Indicator for ranking, savings and report."),
    samples: int = typer.Option(0, help="Monte Carlo samples (0 = deterministic only)."),
    seed: int = typer.Option(0, help="Monte Carlo seed."),
    uncertainty: Path | None = typer.Option(None, help="Uncertainty specification (YAML)."),
    workers: int | None = typer.Option(None, help="Local dask workers (default: one per core)."),
    scheduler: str | None = typer.Option(None, help="Join an existing dask scheduler, e.g. tcp://host:8786."),
    chunk_size: int | None = typer.Option(None, help="Monte Carlo samples per task."),
    memory_budget: str | None = typer.Option(
        None, help="Refuse a Monte Carlo run whose estimated memory exceeds this (e.g. 8G; "
                   "default $SPENDPRINT_MEMORY_BUDGET or 8 GiB)."),
    max_flagged_share: float = typer.Option(
        0.05, help="Fail when more than this share of Monte Carlo samples needed a solver "
                   "fallback or gave non-finite or negative footprints."),
    spa_top: int = typer.Option(3, help="Trace supply-chain paths of the N largest categories."),
    columns: str | None = typer.Option(
        None, help='Ledger headers to map, e.g. "Beløp=amount,Kategori=category" (common '
                   "Norwegian, Swedish, Danish, German and English headers are recognised)."),
    sheet: str | None = typer.Option(None, help="xlsx ledger: sheet name or 0-based index."),
    vat: str | None = typer.Option(None, help="'excluded' (default) or 'included': remove VAT "
                                              "with the shipped rate table."),
    vat_rates: Path | None = typer.Option(None, help="VAT table overriding the shipped rates."),
    title: str | None = typer.Option(None, help="Report title."),
    organisation: str | None = typer.Option(None, help="Organisation named in the report."),
) -> None:
    """Footprints, hotspots, savings potential and labour risk of a procurement ledger."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..jobs.main_job import RunConfig, run_job

    cfg = RunConfig(
        mrio=str(mrio) if mrio else None, ledger=str(ledger) if ledger else None,
        concordance=str(concordance) if concordance else None, prices=str(prices) if prices else None,
        scenarios=str(scenarios) if scenarios else None, risk=str(risk) if risk else None,
        buyer_region=buyer_region, out=str(out), stressor=stressor, samples=samples, seed=seed,
        uncertainty=str(uncertainty) if uncertainty else None, workers=workers, scheduler=scheduler,
        chunk_size=chunk_size, memory_budget=memory_budget, max_flagged_share=max_flagged_share,
        spa_top=spa_top, columns=columns, sheet=sheet, vat=vat,
        vat_rates=str(vat_rates) if vat_rates else None, title=title, organisation=organisation,
    )
    t0 = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None, rate="")
        mc_task = None
        t_mc: list[float] = []

        def say(msg: str) -> None:
            bar.update(task, description=msg)
            console.log(msg)

        def mc_progress(done: int, total: int) -> None:
            nonlocal mc_task
            if mc_task is None:
                mc_task = bar.add_task("Monte Carlo samples", total=total, rate="")
                t_mc.append(time.perf_counter())
            rate = done / max(time.perf_counter() - t_mc[0], 1e-9)
            bar.update(mc_task, completed=done, rate=f"{rate:.2f} samples/s")

        res = run_job(cfg, progress=say, mc_progress=mc_progress)
    ds = res.dataset
    unit = str(ds["unit"].sel(stressor=stressor).values)
    period = res.provenance.get("ledger", {}).get("period", "")
    fp = ds["footprint"].sel(stressor=stressor).to_series()
    share = ds["share"].sel(stressor=stressor).to_series()
    console.print(f"\nTop 10 categories by {stressor}" + (f", {period}" if period else "")
                  + (" (all years summed; per year below)" if "(" in period else "") + ":",
                  highlight=False)
    for rank, cat in enumerate(fp.sort_values(ascending=False).index[:10], start=1):
        console.print(f"  {rank:>2}. {cat:<55} {fp[cat] / 1e6:>10.2f} million {unit}  "
                      f"({100 * share[cat]:.1f} %)", highlight=False, soft_wrap=True, markup=False)
    yfile = res.out / "yoy.csv"
    if yfile.exists():
        import pandas as pd

        yoy = pd.read_csv(yfile)
        yoy = yoy[yoy["stressor"] == stressor]
        console.print(f"\nTotal {stressor} per year:", highlight=False)
        tot = yoy.groupby(["year_from", "year_to"])[
            ["footprint_from", "footprint_to", "volume", "price", "mix", "intensity"]].sum()
        first = True
        for (y0, y1), r in tot.iterrows():
            if first:
                console.print(f"  {y0}: {r['footprint_from'] / 1e6:.2f} million {unit}",
                              highlight=False, markup=False)
                first = False
            console.print(f"  {y1}: {r['footprint_to'] / 1e6:.2f} million {unit}  (change "
                          f"{(r['footprint_to'] - r['footprint_from']) / 1e6:+.2f}: volume "
                          f"{r['volume'] / 1e6:+.2f}, price {r['price'] / 1e6:+.2f}, mix "
                          f"{r['mix'] / 1e6:+.2f}, intensity {r['intensity'] / 1e6:+.2f})",
                          highlight=False, markup=False)
    files = res.provenance.get("outputs") or ["report.html", "run.json"]
    console.print(f"\nwrote {res.out}/: {', '.join(files)} in {time.perf_counter() - t0:.1f} s",
                  highlight=False, markup=False)
