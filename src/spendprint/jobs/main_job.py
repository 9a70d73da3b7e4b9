"""The main job behind ``spendprint run``: model + ledger -> category footprints, hotspots, savings,
scenarios, labour risk, optional Monte Carlo and supply-chain paths -> files in an output folder.

The outputs are written as one set into a folder the run holds exclusively
(`spendprint.io.output_folder.OutputSet`), after every result was checked to be finite;
``run.json`` records inputs (sha256), versions, settings, solver counts and timings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from ..core.plan import SolvePlan
from ..errors import ValidationError
from ..io.output_folder import OutputSet
from ..io.world_cache import cached_synthetic_mrio
from ..labelled.structural_paths import structural_paths
from ..procurement.demand import ProcurementDemand
from ..procurement.mapping import complete_concordance, empty_concordance
from ..procurement.years import ledger_years, results_by_year
from .outputs import RunOutputs, write_outputs
from .provenance import Timer, sha256_path, versions

Progress = Callable[[str], None]


@dataclass
class RunConfig:
    """Settings of one run; ``None`` inputs mean the embedded default."""

    mrio: str | None = None
    ledger: str | None = None
    concordance: str | None = None
    prices: str | None = None
    scenarios: str | None = None
    risk: str | None = None
    buyer_region: str = "NO"
    out: str = "spendprint-out"
    stressor: str = "CO2e"
    samples: int = 0
    seed: int = 0
    uncertainty: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    chunk_size: int | None = None
    memory_budget: str | None = None
    max_flagged_share: float = 0.05
    spa_top: int = 3
    spa_threshold: float = 0.01
    spa_depth: int = 6
    #: ledger import: header mapping ("Sum NOK=amount,Gruppe=category"), xlsx sheet, VAT mode
    #: ("excluded" or "included") and a VAT table overriding the shipped rates
    columns: str | None = None
    sheet: str | None = None
    vat: str | None = None
    vat_rates: str | None = None
    #: report heading
    title: str | None = None
    organisation: str | None = None
    synthetic: dict[str, int] = field(default_factory=lambda: {"regions": 49, "sectors": 200, "seed": 0})


@dataclass
class RunResult:
    out: Path
    categories: pd.DataFrame
    dataset: xr.Dataset
    provenance: dict[str, Any]


def load_model(path: str | None, synthetic: dict[str, int]) -> MRIO:
    """The model of a run: a file or store read by `spendprint.io.detect.read_mrio`, or the
    synthetic default world (cached in the user's cache folder, `spendprint.io.world_cache`)."""
    if path is None:
        return cached_synthetic_mrio(**synthetic)
    from ..io.detect import read_mrio

    return read_mrio(Path(path))


@dataclass
class Analyses:
    """What the main job computes from one demand (every part from one solve plan)."""

    demand: ProcurementDemand
    footprints: xr.Dataset
    savings: xr.Dataset
    risk: xr.Dataset
    scenarios: xr.Dataset | None
    solves: dict[str, int]


def analyse(mrio: MRIO, demand: ProcurementDemand, stressor: str,
            scenarios: pd.DataFrame | None = None, risk_table: pd.DataFrame | None = None,
            say: Progress | None = None, timer: Timer | None = None) -> Analyses:
    """Footprints, savings potential, scenarios and the labour-risk screen of one demand.

    Every analysis declares what it needs in one `SolvePlan`: the multiplier rows of all
    indicators (one adjoint solve: totals of baseline, best-origin and scenario demands, the
    best-origin choice and the path search read them), and the outputs ``x = L y`` of the
    baseline (footprints by origin, labour risk) and of scenarios with intensity levers (one
    forward solve). The analyses then read the model's cache and solve nothing.
    """
    from .. import procurement as pc

    say = say or (lambda msg: None)
    timer = timer or Timer()
    if stressor not in mrio.indicators:
        raise ValidationError(f"--stressor {stressor!r} is not an indicator of the model; choose one "
                              f"of {list(mrio.indicators)[:12]}")
    engine_set = None
    if scenarios is not None and not isinstance(scenarios, pd.DataFrame):
        engine_set, scenarios = scenarios, None  # levers on A or S: the scenario engine
    batch = pc.prepare_scenarios(mrio, demand, scenarios) if scenarios is not None else None
    say("factorising (I - A) and solving every analysis as one batch")
    with timer.step("solve"):
        plan = SolvePlan(mrio).multipliers(mrio.indicators).outputs(demand.key, demand.Y)
        for key, Y in (batch.output_columns() if batch is not None else {}).items():
            plan.outputs(key, Y)
        solves = plan.solve()
    with timer.step("footprints"):
        ds = pc.procurement_footprint(mrio, demand)
    say("savings potential (best available origin)")
    with timer.step("savings"):
        sav = pc.savings_potential(mrio, demand, target=stressor)
    scen = None
    if batch is not None:
        say("scenarios")
        with timer.step("scenarios"):
            scen = pc.run_scenarios(mrio, demand, batch)
    elif engine_set is not None:
        say(f"scenarios: {len(engine_set)} on A, S and y (exact batched engine)")
        with timer.step("scenarios"):
            scen = engine_scenarios(mrio, demand, engine_set)
    say("labour-risk screen")
    with timer.step("labour_risk"):
        risk = pc.labour_risk(mrio, demand, risk_table)
    return Analyses(demand=demand, footprints=ds, savings=sav, risk=risk, scenarios=scen,
                    solves=solves)


#: Levers only the scenario engine (`spendprint.scenarios`) solves: changes to A and S.
ENGINE_LEVERS = frozenset({"technology", "input_shift", "mix", "stressor"})


def read_levers(path: str | Path):
    """A scenario file: the procurement lever table when it uses only demand and intensity
    levers (solved from cached multipliers), else a `ScenarioSet` for the scenario engine."""
    from ..procurement import read_scenarios
    from ..scenarios import ScenarioSet

    sset = ScenarioSet.read(path)
    levers = {str(v).strip().lower() for v in sset.table["lever"]}
    if levers & ENGINE_LEVERS:
        return sset
    return read_scenarios(path)


def engine_scenarios(mrio: MRIO, demand: ProcurementDemand, sset) -> xr.Dataset:
    """Scenarios with levers on A or S through `scenario_footprints`, in the layout of
    `spendprint.procurement.run_scenarios` (dims scenario, category, stressor)."""
    from ..scenarios import scenario_footprints

    res = scenario_footprints(mrio, demand.to_dataarray(), sset,
                              origin_shares=demand.origin_shares)
    fp = res["footprint"].transpose("scenario", "category", "stressor")
    base = res["baseline"].transpose("category", "stressor")
    change = fp - base
    with np.errstate(divide="ignore", invalid="ignore"):
        share = xr.where(base != 0, change / base.where(base != 0, 1.0), 0.0)
    units = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
    out = xr.Dataset({"footprint": fp, "change": change, "change_share": share,
                      "baseline": base, "total": fp.sum("category"),
                      "baseline_total": base.sum("category")})
    out = out.assign_coords(unit=("stressor", [units[str(s)] for s in out["stressor"].values]))
    out.attrs["engine"] = "spendprint.scenarios.scenario_footprints"
    return out


def read_inputs(cfg: RunConfig, mrio: MRIO, ledger_path: str, concordance_path: str | None,
                prices_path: str | None):
    """Prices, ledger and the concordance a run uses, read and validated as ``spendprint run``
    does (also for the tasks of `spendprint.jobs.batch_run`).

    The ledger is validated in one pass against the user's concordance (or none), the CPV table,
    the price tables and the model; categories the concordance lacks are mapped through their
    CPV codes (`spendprint.procurement.mapping.complete_concordance`).

    Returns
    -------
    (Prices, Ledger, UsedConcordance)
        The ledger is marked as checked against the completed concordance, so building the
        demand does not validate it again.
    """
    from .. import procurement as pc

    prices = pc.Prices.read(prices_path) if prices_path else pc.Prices.default()
    user_conc = pc.Concordance.read(concordance_path) if concordance_path else None
    sheet: str | int | None = cfg.sheet
    if isinstance(sheet, str) and sheet.isdigit():
        sheet = int(sheet)
    ledger = pc.Ledger.read(ledger_path, columns=cfg.columns, sheet=sheet, vat=cfg.vat,
                            vat_rates=cfg.vat_rates, concordance=user_conc or empty_concordance(),
                            prices=prices, mrio=mrio)
    used = complete_concordance(ledger, user_conc, mrio)
    # validated above against the user's file and the CPV table (`Ledger.problems` accepts
    # exactly the categories the completed concordance maps): no second validation
    ledger = dataclasses.replace(ledger, checked_with=(id(used.concordance), id(prices),
                                                       id(mrio)))
    return prices, ledger, used


def run_uncertainty(path: str | None):
    """The uncertainty specification of a run: the file, or the one shipped default."""
    from ..uncertainty import Uncertainty

    return Uncertainty.from_yaml(path) if path else Uncertainty.default()


def check_settings(cfg: RunConfig) -> None:
    """Refuse impossible settings before any work (`ValidationError`, CLI exit 2)."""
    problems = []
    if cfg.samples < 0:
        problems.append(f"--samples must be 0 (deterministic) or a positive count, not {cfg.samples}")
    if cfg.workers is not None and cfg.workers < 1:
        problems.append(f"--workers must be at least 1, not {cfg.workers}")
    if cfg.chunk_size is not None and cfg.chunk_size < 1:
        problems.append(f"--chunk-size must be at least 1, not {cfg.chunk_size}")
    if cfg.spa_top < 0:
        problems.append(f"--spa-top must be 0 or more, not {cfg.spa_top}")
    if problems:
        raise ValidationError("; ".join(problems))


def check_results(*parts: tuple[str, xr.Dataset | None, list[str]]) -> None:
    """Refuse to write non-finite results: every named variable must be finite everywhere.

    A footprint of NaN or inf comes from inputs (amounts near the float limit, a model with
    non-finite values); the message names the variable and the first categories affected.
    """
    for what, ds, names in parts:
        if ds is None:
            continue
        for name in names:
            if name not in ds:
                continue
            v = ds[name]
            if v.dtype.kind != "f":
                continue
            bad = ~np.isfinite(v.values)
            if bad.any():
                cats = []
                if "category" in v.dims:
                    ax = v.dims.index("category")
                    hit = np.moveaxis(bad, ax, 0).reshape(bad.shape[ax], -1).any(axis=1)
                    cats = [str(c) for c in v["category"].values[hit]][:5]
                raise ValidationError(
                    f"{what}: {int(bad.sum())} value(s) of {name!r} are not finite"
                    + (f" (categories {cats})" if cats else "")
                    + "; nothing was written. Check the ledger amounts (values near 1e308 "
                      "overflow) and the model.")


def run_job(cfg: RunConfig, progress: Progress | None = None,
            mc_progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Run the whole analysis and write the outputs into ``cfg.out`` (see module docstring).

    The run owns ``cfg.out`` from start to end (`spendprint.io.output_folder.OutputSet`): a
    second run into the same folder is refused, every output is staged and moved into place as
    one set after the results were checked, and a failure leaves the previous set intact.
    """
    check_settings(cfg)
    with OutputSet(cfg.out, "run") as outset:
        return _run(cfg, outset, progress, mc_progress)


def _run(cfg: RunConfig, outset: OutputSet, progress: Progress | None,
         mc_progress: Callable[[int, int], None] | None) -> RunResult:
    from .. import procurement as pc

    say = progress or (lambda msg: None)
    timer = Timer()
    demo = pc.demo_paths()
    default_inputs = cfg.ledger is None and cfg.concordance is None
    # a user's ledger without a concordance file is mapped through its CPV codes only: the demo
    # concordance belongs to the demo ledger's categories
    paths = {
        "mrio": cfg.mrio,
        "ledger": cfg.ledger or demo["ledger"],
        "concordance": cfg.concordance or (demo["concordance"] if cfg.ledger is None else None),
        "prices": cfg.prices,
        "scenarios": cfg.scenarios or (demo["scenarios"] if default_inputs else None),
        "risk": cfg.risk or demo["risk"],
        "uncertainty": cfg.uncertainty,
        "vat_rates": cfg.vat_rates,
    }

    say("loading the MRIO model" if cfg.mrio else "loading the synthetic default world")
    with timer.step("load_model"):
        mrio = load_model(cfg.mrio, cfg.synthetic)
    say("reading ledger, concordance, price, scenario and risk tables")
    with timer.step("read_inputs"):
        prices, ledger, used = read_inputs(cfg, mrio, paths["ledger"], paths["concordance"],
                                           paths["prices"])
        concordance = used.concordance
        for w in ledger.import_info.get("warnings", []):
            say(f"warning: {w}")
        mapped = {k: v for k, v in ledger.import_info.get("columns", {}).items() if k != v}
        if mapped:
            say("ledger columns: " + ", ".join(f"{k} -> {v}" for k, v in mapped.items()))
        if used.coverage["categories_cpv"]:
            say(f"{len(used.coverage['categories_cpv'])} categories mapped through their CPV "
                f"codes ({used.coverage['cpv']:.0%} of spend); see concordance_used.csv")
        levers = read_levers(paths["scenarios"]) if paths["scenarios"] else None
        risk_table = pc.read_risk_table(cfg.risk)
    with timer.step("demand"):
        demand = pc.ProcurementDemand.build(mrio, ledger, concordance, prices, cfg.buyer_region)
    stressor = cfg.stressor
    years = ledger_years(ledger)
    res = analyse(mrio, demand, stressor, levers, risk_table, say, timer)
    ds, sav, risk, scen = res.footprints, res.savings, res.risk, res.scenarios
    check_results(("footprints", ds, ["footprint", "direct", "intensity", "by_origin_region"]),
                  ("savings potential", sav, ["best_origin", "savings"]),
                  ("scenarios", scen, ["footprint", "change"]),
                  ("labour-risk screen", risk, ["hours", "risk_hours"]))

    mc = None
    if cfg.samples > 0:
        mc = _monte_carlo(cfg, mrio, demand, paths, say, timer, mc_progress,
                          store=outset.path("samples.zarr"))
        check_results(("Monte Carlo", mc, ["mean", "sd"]))

    paths_df = None
    if cfg.spa_top > 0:
        paths_df = _paths(cfg, mrio, demand, ds, stressor, say, timer)

    by_year = None
    if len(years) > 1:
        say(f"results per year ({years[0]}-{years[-1]}: {len(years)} years, each deflated on "
            "its own) and the year-over-year decomposition")
        with timer.step("years"):
            by_year = results_by_year(mrio, ledger, concordance, prices, cfg.buyer_region,
                                      categories=demand.categories)
        check_results(("per-year footprints", by_year.dataset, ["footprint", "spend"]))
        check_yoy(by_year.yoy)

    out = Path(cfg.out)
    extra: dict[str, xr.DataArray] = {
        "best_origin_footprint": sav["best_origin"],
        "best_origin_savings": sav["savings"],
        "best_origin_savings_share": sav["savings_share"],
        "risk_hours": risk["risk_hours"],
        "labour_flag": risk["flag"],
    }
    if mc is not None:
        for name in ("mean", "sd", "p2.5", "p5", "p50", "p95", "p97.5", "p_top5", "p_top10",
                     "rank_lo", "rank_hi", "mcse", "converged", "enough_samples"):
            if name in mc:
                extra[name] = mc[name].reindex(stressor=ds["stressor"].values)
    prov = {
        "spendprint_run": 1,
        "settings": asdict(cfg),
        "inputs": {k: ({"path": str(v), "sha256": sha256_path(v)} if v else None) for k, v in paths.items()},
        "model": {"repr": repr(mrio), "meta": json.loads(json.dumps(dict(mrio.meta), default=str)),
                  "solver": {"method": mrio.solver.method, **mrio.solver.stats},
                  "solve_plan": res.solves},
        "monte_carlo": None if mc is None else {
            k: mc.attrs.get(k) for k in ("execution", "flagged_samples", "fallbacks",
                                         "nonfinite_samples", "negative_samples",
                                         "flagged_share") if k in mc.attrs},
        "versions": versions(),
        "ledger": {**json.loads(json.dumps(ledger.import_info, default=str)),
                   "years": years, "period": _period(years)},
        "concordance": {"source": concordance.source, "coverage": used.coverage},
    }
    say(f"writing results to {out}")
    with timer.step("write"):
        outputs = RunOutputs(mrio=mrio, demand=demand, footprints=ds, savings=sav, risk=risk,
                             scenarios=scen, monte_carlo=mc, paths=paths_df, extra=extra,
                             stressor=stressor, buyer_region=cfg.buyer_region,
                             timings=timer.as_dict(), provenance=prov,
                             years=None if by_year is None else by_year.dataset,
                             yoy=None if by_year is None else by_year.yoy,
                             concordance_used=used.frame, title=cfg.title,
                             organisation=cfg.organisation)
        table, full = write_outputs(outset, outputs)  # concordance_used.csv included
        if by_year is not None:
            by_year.yoy.to_csv(outset.path("yoy.csv"), index=False)
    staged = sorted(p.name for p in outset.staging.iterdir())
    prov["timings_s"] = timer.as_dict()
    prov["timings_s"]["total"] = round(sum(timer.as_dict().values()), 3)
    prov["outputs"] = sorted([*staged, "run.json"])
    outset.path("run.json").write_bytes(json.dumps(prov, indent=2, default=str).encode())
    return RunResult(out=out, categories=table, dataset=full, provenance=prov)


def _period(years: list[int]) -> str:
    """``2023`` or ``2022-2024 (3 years)``."""
    if not years:
        return ""
    return str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]} ({len(years)} years)"


def check_yoy(yoy: pd.DataFrame) -> None:
    """Refuse a decomposition whose parts do not add up to the change (never expected)."""
    if not len(yoy):
        return
    parts = yoy[["volume", "price", "mix", "intensity"]].sum(axis=1).to_numpy()
    change = yoy["change"].to_numpy()
    scale = np.maximum(np.abs(yoy[["footprint_from", "footprint_to"]].to_numpy()).max(axis=1),
                       np.finfo(float).tiny)
    bad = ~np.isfinite(parts) | (np.abs(parts - change) > 1e-9 * scale)
    if bad.any():
        row = yoy[bad].iloc[0]
        raise RuntimeError(f"year-over-year decomposition of {row['category']!r} "
                           f"({row['stressor']}) does not add up; nothing was written (a bug)")


def default_uncertainty_path() -> str:
    from importlib import resources

    return str(resources.files("spendprint.data").joinpath("uncertainty_default.yaml"))


def _monte_carlo(cfg: RunConfig, mrio: MRIO, demand: ProcurementDemand, paths: dict, say: Progress,
                 timer: Timer, mc_progress: Callable[[int, int], None] | None,
                 store: Path) -> xr.Dataset:
    from ..uncertainty import monte_carlo, percentile_columns

    unc = run_uncertainty(paths["uncertainty"])  # the one default of CLI, Python and HTTP API
    if not paths["uncertainty"]:
        paths["uncertainty"] = default_uncertainty_path()
    if unc.is_certain:
        say("warning: the uncertainty specification leaves every parameter certain; the spread "
            "is zero")
    stressors = None if len(mrio.indicators) <= 20 else [cfg.stressor]
    say(f"Monte Carlo: {cfg.samples} samples ({Path(paths['uncertainty']).name})")
    # the memory budget and the settings are checked inside before any cluster starts
    client = cfg.scheduler
    if client is None and cfg.workers is not None:
        client = "sync" if cfg.workers == 1 else "local"
    with timer.step("monte_carlo"):
        mc = monte_carlo(mrio, demand.to_dataarray(), unc, samples=cfg.samples, seed=cfg.seed,
                         chunk_size=cfg.chunk_size, client=client, workers=cfg.workers,
                         store=str(store), stressors=stressors, progress=mc_progress,
                         memory_budget=cfg.memory_budget,
                         max_flagged_share=cfg.max_flagged_share)
    flagged = {k: mc.attrs.get(k) for k in ("flagged_samples", "fallbacks", "nonfinite_samples",
                                            "negative_samples", "flagged_share")}
    if flagged["flagged_samples"]:
        say(f"Monte Carlo: {flagged['flagged_samples']} of {cfg.samples} samples flagged "
            f"({flagged['fallbacks']} solver fallbacks, {flagged['nonfinite_samples']} non-finite, "
            f"{flagged['negative_samples']} negative footprints); below the "
            f"{cfg.max_flagged_share:.0%} threshold, kept")
    for name, var in percentile_columns(mc).items():
        mc[name.replace("_", ".")] = var
    return mc


def _paths(cfg: RunConfig, mrio: MRIO, demand: ProcurementDemand, ds: xr.Dataset, stressor: str,
           say: Progress, timer: Timer) -> pd.DataFrame | None:
    top = ds["rank"].sel(stressor=stressor).to_series().sort_values().index[: cfg.spa_top]
    say(f"supply-chain paths of the top {len(top)} categories")
    frames = []
    with timer.step("paths"):
        for cat in top:
            y = demand.y[:, :, demand.categories.index(str(cat))].reshape(-1)
            df = structural_paths(mrio, y, stressor=stressor, threshold=cfg.spa_threshold,
                                  max_depth=cfg.spa_depth, top=15)
            df.insert(0, "category", str(cat))
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else None
