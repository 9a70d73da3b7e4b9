"""``spendprint compare``: one ledger through several MRIO models, and the spread between them."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ._app import app, console


def _named(specs: list[str]) -> dict[str, Path]:
    """`NAME=PATH` or `PATH` (named after the file) -> {name: path}; names made unique."""
    out: dict[str, Path] = {}
    for s in specs:
        name, sep, path = s.partition("=")
        if not sep or not name or Path(s).exists():
            name, path = Path(s).stem or s, s
        base, i = name, 2
        while name in out:
            name, i = f"{base}-{i}", i + 1
        out[name] = Path(path)
    return out


@app.command()
def compare(
    mrio: list[str] = typer.Option(..., "--mrio", help="Model: NAME=PATH or PATH (native store or "
                                                       "any importable format); repeat."),
    ledger: Path = typer.Option(..., help="Spend ledger: CSV, xlsx or Parquet."),
    concordance: Path = typer.Option(..., help="Category -> product table, for one model's "
                                               "classification (projected onto the others)."),
    concordance_system: str | None = typer.Option(
        None, help="Classification of the concordance (exiobase3_pxp, figaro64, icio45, "
                   "gloria120, useeio_bea); default: detected from its labels."),
    prices: Path | None = typer.Option(None, help="Exchange rates / price indices / margins."),
    stressor: str = typer.Option("CO2e", help="Indicator to compare (same name in each model)."),
    buyer_region: str = typer.Option("NO", help="Buyer country code, mapped to each model."),
    out: Path = typer.Option(Path("spendprint-compare"), help="Output folder."),
) -> None:
    """Footprint per category in each model, min, max, mean and coefficient of variation.

    Writes compare.csv, compare.parquet and compare.svg into OUT (each written atomically).
    """
    from ..io.atomic import atomic_path
    from ..procurement import Concordance, Ledger, Prices
    from ..procurement.compare import compare_models, spread_chart
    from .mrio import load_mrio

    t0 = time.perf_counter()
    models = {name: load_mrio(p) for name, p in _named(mrio).items()}
    conc = Concordance.read(concordance)
    led = Ledger.read(ledger, concordance=conc)
    pr = Prices.read(prices) if prices else None
    table = compare_models(models, led, conc, concordance_system=concordance_system,
                           stressor=stressor, buyer_region=buyer_region, prices=pr)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "compare.csv") as p:
        table.to_csv(p)
    flat = table.copy()
    flat.attrs = {}
    with atomic_path(out / "compare.parquet") as p:
        flat.to_parquet(p)
    with atomic_path(out / "compare.svg") as p:
        p.write_text(spread_chart(table), encoding="utf-8")
    for note in table.attrs["notes"]:
        console.print(f"note: {note}", highlight=False)
    tot = table.loc["(total)"]
    units = table.attrs["units"]
    for name in models:
        console.print(f"  {name:<20} {tot[name]:>16.6g} {units[name]}  "
                      f"(system {table.attrs['systems'][name]}, buyer region "
                      f"{table.attrs['regions'][name]['region']})", highlight=False)
    console.print(f"  total spread: cv {tot['cv']:.3f}, max/min {tot['max_over_min']:.3f}",
                  highlight=False)
    console.print(f"wrote {out}/compare.csv, compare.parquet, compare.svg in "
                  f"{time.perf_counter() - t0:.1f} s", highlight=False)
