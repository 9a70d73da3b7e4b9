"""``spendprint scenarios run``: a scenario set (A, S and y levers) on a ledger's demand."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ._app import app, console

scenarios_app = typer.Typer(help="Scenario sets: levers on demand, intensities and technology, "
                                 "solved exactly in batches.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")


@scenarios_app.command("run")
def run(
    file: Path = typer.Argument(..., help="Scenario levers: YAML, CSV, xlsx or Parquet."),
    mrio: Path | None = typer.Option(None, help="Native MRIO store or EXIOBASE 3 zip/folder "
                                               "(default: the synthetic demo world)."),
    ledger: Path | None = typer.Option(None, help="Spend ledger (default: the demo ledger)."),
    concordance: Path | None = typer.Option(None, help="Category -> MRIO sector table."),
    buyer_region: str = typer.Option("NO", help="MRIO region of the buyer."),
    samples: int = typer.Option(0, help="Monte Carlo samples (0 = deterministic)."),
    seed: int = typer.Option(0, help="Monte Carlo seed."),
    uncertainty: Path | None = typer.Option(None, help="Uncertainty specification (YAML)."),
    stressor: list[str] | None = typer.Option(None, help="Indicators (repeatable; default all)."),
    chunk_size: int = typer.Option(256, help="Scenarios per batched solve and Zarr chunk."),
    out: Path = typer.Option(Path("spendprint-scenarios"), help="Output folder."),
) -> None:
    """Footprints of every scenario and category: scenarios.zarr and a tidy scenarios.csv."""
    from .. import procurement as pc
    from ..io.atomic import atomic_path, write_bytes_atomic
    from ..jobs.main_job import RunConfig, load_model
    from ..jobs.outputs import clean_for_zarr
    from ..scenarios import ScenarioSet, scenario_footprints
    from ..uncertainty.spec import Uncertainty

    t0 = time.perf_counter()
    ss = ScenarioSet.read(file)          # file errors before the model is loaded
    model = load_model(str(mrio) if mrio else None, RunConfig().synthetic)
    demo = pc.demo_paths()
    conc = pc.Concordance.read(concordance or demo["concordance"])
    prices = pc.Prices.default()
    led = pc.Ledger.read(ledger or demo["ledger"], concordance=conc, prices=prices, mrio=model)
    demand = pc.ProcurementDemand.build(model, led, conc, prices, buyer_region)
    spec = Uncertainty.from_yaml(uncertainty) if uncertainty else None
    out.mkdir(parents=True, exist_ok=True)
    shares = demand.origin_shares
    if shares is None:
        shares = pc.origin_shares(model, buyer_region)
    ds = scenario_footprints(model, demand.to_dataarray(), ss, stressors=stressor or None,
                             origin_shares=shares,
                             samples=samples, uncertainty=spec, seed=seed, chunk_size=chunk_size,
                             store=out / (".scenarios-samples.zarr" if samples
                                          else ".scenarios-chunks.zarr"))
    with atomic_path(out / "scenarios.zarr") as p:
        clean_for_zarr(ds).to_zarr(p, mode="w", consolidated=True)
    if samples:
        tidy = ds[["p_lower"]].assign(
            footprint_mean=ds.footprint.mean("sample"), baseline_mean=ds.baseline.mean("sample"),
            change_mean=ds.change.mean("sample")).to_dataframe()
    else:
        tidy = ds.assign(baseline=ds.baseline.broadcast_like(ds.footprint))[
            ["footprint", "baseline", "change"]].to_dataframe()
    write_bytes_atomic(out / "scenarios.csv", tidy.reset_index().to_csv(index=False).encode())
    console.print(f"{len(ss)} scenarios x {demand.n_categories} categories"
                  + (f" x {samples} samples" if samples else "")
                  + f": wrote {out}/scenarios.zarr and scenarios.csv in "
                  f"{time.perf_counter() - t0:.1f} s", highlight=False)
