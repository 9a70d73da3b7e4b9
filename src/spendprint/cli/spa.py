"""``spendprint spa``: the supply-chain paths of one procurement category (structural path analysis)."""

from __future__ import annotations

import difflib
import time
from pathlib import Path

import typer

from ._app import app, console, console_err

_OUT_FORMATS = (".csv", ".parquet")


def pick_category(categories: list[str], wanted: str, known: list[str] | None = None) -> str:
    """The category named ``wanted`` (exact, else case-insensitive), or a clear error.

    Raises
    ------
    ValidationError
        Unknown category: the message lists the closest matches and says how many there are;
        a category of the concordance (``known``) without spend says so.
    """
    from ..errors import ValidationError

    if wanted in categories:
        return wanted
    folded = {c.casefold(): c for c in categories}
    if wanted.strip().casefold() in folded:
        return folded[wanted.strip().casefold()]
    if known and wanted in known:
        raise ValidationError(f"category {wanted!r} has no spend in the ledger; categories with "
                              f"spend: {', '.join(repr(c) for c in categories[:10])}"
                              + (" ..." if len(categories) > 10 else ""))
    lower = [c.casefold() for c in categories]
    close = [folded[c] for c in difflib.get_close_matches(wanted.casefold(), lower, n=5, cutoff=0.4)]
    close += [c for c in categories if wanted.casefold() in c.casefold() and c not in close]
    hint = (f"did you mean {', '.join(repr(c) for c in close[:5])}?" if close
            else f"categories: {', '.join(repr(c) for c in categories[:10])}"
            + (" ..." if len(categories) > 10 else ""))
    raise ValidationError(f"unknown category {wanted!r} ({len(categories)} categories in the "
                          f"ledger); {hint}")


def _write(df, out: Path) -> None:
    from ..errors import ValidationError
    from ..io.atomic import atomic_path

    suffix = out.suffix.lower()
    if suffix not in _OUT_FORMATS:
        raise ValidationError(f"--out {out}: unknown format {suffix!r}; use .csv or .parquet")
    with atomic_path(out) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


@app.command("spa")
def spa(
    category: str = typer.Option(..., "--category", "-c",
                                 help="Procurement category (as in the ledger/concordance)."),
    stressor: str | None = typer.Option(None, "--stressor", "-s",
                                        help="Indicator traced (default CO2e; see `spendprint "
                                             "mrio info`)."),
    threshold: float = typer.Option(1e-3, "--threshold", "-t",
                                    help="Share of the category's total below which paths are "
                                         "pruned and not listed."),
    max_depth: int = typer.Option(8, "--max-depth", "-d", help="Deepest supply-chain tier."),
    top: int | None = typer.Option(None, "--top", help="Keep only the N largest paths."),
    mrio: Path | None = typer.Option(None, "--mrio",
                                     help="Native store or EXIOBASE 3 zip/folder (default: the "
                                          "synthetic world, not real data)."),
    ledger: Path | None = typer.Option(None, "--ledger",
                                       help="Spend ledger (CSV, xlsx, Parquet); default the demo."),
    concordance: Path | None = typer.Option(None, "--concordance",
                                            help="Category -> product concordance; default the "
                                                 "demo's."),
    buyer_region: str = typer.Option("NO", "--buyer-region", help="MRIO region of the buyer."),
    risk: Path | None = typer.Option(None, "--risk",
                                     help="Labour-risk table (region, sector, risk; `example` for "
                                          "the shipped one): trace risk-weighted working hours "
                                          "instead of a stressor (the due-diligence list)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the paths to FILE.csv or "
                                                              "FILE.parquet."),
    show: int = typer.Option(15, "--show", help="Number of paths printed."),
) -> None:
    """List the supply-chain paths (product, country, tier) that carry a category's footprint."""
    from ..errors import ValidationError
    from ..labelled.structural_paths import risk_paths, structural_paths
    from ..procurement import Concordance, Ledger, demo_inputs, procurement_demand
    from .mrio import load_mrio

    if risk is not None and stressor is not None:
        raise ValidationError("give --stressor or --risk, not both")
    if out is not None and out.suffix.lower() not in _OUT_FORMATS:
        raise ValidationError(f"--out {out}: unknown format {out.suffix!r}; use .csv or .parquet")
    t0 = time.perf_counter()
    if mrio is None:
        from ..io.world_cache import cached_synthetic_mrio

        console_err.print("no --mrio given: using the synthetic world (NOT real data)")
        model = cached_synthetic_mrio()
    else:
        model = load_mrio(mrio)
    if ledger is None or concordance is None:
        demo_ledger, demo_conc = demo_inputs()
    conc = Concordance.read(concordance) if concordance is not None else demo_conc
    led = Ledger.read(ledger, concordance=conc) if ledger is not None else demo_ledger
    demand = procurement_demand(model, led, conc, buyer_region=buyer_region)
    cats = [str(c) for c in demand["category"].values]
    cat = pick_category(cats, category, known=list(conc.categories))
    y = demand.sel(category=cat)
    _ = model.solver  # factorise (I - A) once, for the multipliers
    t1 = time.perf_counter()
    if risk is not None:
        from ..procurement import read_risk_table, risk_intensity

        table = read_risk_table(None if str(risk) == "example" else risk)
        df = risk_paths(model, y, risk_intensity(model, table), threshold=threshold,
                        max_depth=max_depth, top=top)
        vcol, dcol, unit = "risk_weighted_hours", "tier", "risk-weighted h"
    else:
        df = structural_paths(model, y, stressor=stressor or "CO2e", threshold=threshold,
                              max_depth=max_depth, top=top)
        vcol, dcol, unit = "value", "depth", df.attrs["unit"]
    t2 = time.perf_counter()
    a = df.attrs
    console.print(f"{cat}: total {a['total']:.4g} {unit} ({a['stressor']}); {len(df)} paths "
                  f"cover {a['coverage']:.1%} (threshold {threshold:g}, depth {max_depth}); "
                  f"model, demand and factorisation {t1 - t0:.1f} s, paths {t2 - t1:.1f} s", highlight=False)
    _print_table(df.head(show), vcol, dcol, unit)
    rem = ", ".join(f"{i}: {r / a['total']:.1%}" for i, r in enumerate(a["remainder"])
                    if a["total"] > 0 and r > 1e-4 * a["total"])
    if rem:
        console.print(f"not listed, by stage: {rem}", highlight=False)
    if out is not None:
        table = df.copy()
        table.insert(0, "category", cat)
        _write(table, out)
        console.print(f"wrote {out} ({len(df)} paths)", highlight=False)


def _print_table(df, vcol: str, dcol: str, unit: str) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (("#", "right"), ("share", "right"), (unit, "right"), ("tier", "right"),
                          ("path (product bought <- its inputs)", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, r in enumerate(df.itertuples(index=False), start=1):
        row = r._asdict()
        table.add_row(str(i), f"{row['share']:.2%}", f"{row[vcol]:.4g}", str(row[dcol]), row["path"])
    console.print(table, highlight=False)


__all__ = ["pick_category", "spa"]
