"""``spendprint concordance template|suggest|check``: help with the category -> product table."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ._app import app, console, console_err

concordance_app = typer.Typer(help="Write, draft and check the category -> MRIO product table.",
                              no_args_is_help=True)
app.add_typer(concordance_app, name="concordance")

_MRIO_HELP = ("Native MRIO store or EXIOBASE 3 zip/folder whose products to use (default: the "
              "200 EXIOBASE 3 pxp products shipped with spendprint).")


def _ledger_frame(path: Path):
    """The validated ledger's frame, with the file's `cpv` column when it has one."""
    from ..io.tabular import read_table
    from ..procurement import Ledger

    ledger = Ledger.read(path)
    frame = ledger.frame
    if "cpv" not in frame.columns:
        raw = read_table(path, as_text=True)
        cols = {str(c).strip().lower(): c for c in raw.columns}
        if "cpv" in cols:
            frame = frame.assign(cpv=raw[cols["cpv"]].reindex(frame.index).to_numpy(dtype=object))
    return frame


def _sectors(mrio: Path | None) -> list[str]:
    if mrio is None:
        from ..procurement.assist import default_sectors

        return default_sectors()
    from .mrio import load_mrio

    return list(load_mrio(mrio).sectors)


def _regions(mrio: Path | None) -> list[str] | None:
    if mrio is None:
        return None
    from .mrio import load_mrio

    return list(load_mrio(mrio).regions)


def _write(df, out: Path | None) -> None:
    if out is None:
        df.to_csv(sys.stdout, index=False, lineterminator="\n")
        return
    if out.suffix.lower() == ".xlsx":
        df.to_excel(out, index=False)
    else:
        df.to_csv(out, index=False, lineterminator="\n")
    console_err.print(f"wrote {out} ({len(df)} rows)", highlight=False)


@concordance_app.command("template")
def template(
    ledger: Path = typer.Argument(..., help="Spend ledger: CSV, xlsx or Parquet."),
    out: Path | None = typer.Option(None, help="File to write (.csv or .xlsx; default: stdout)."),
) -> None:
    """A concordance with one row per ledger category, ready to fill in."""
    from ..procurement.assist import concordance_template

    _write(concordance_template(_ledger_frame(ledger)), out)


@concordance_app.command("suggest")
def suggest(
    ledger: Path = typer.Argument(..., help="Spend ledger: CSV, xlsx or Parquet."),
    mrio: Path | None = typer.Option(None, help=_MRIO_HELP),
    out: Path | None = typer.Option(None, help="Draft concordance to write (.csv or .xlsx); "
                                               "without it the candidates are printed."),
    top: int = typer.Option(3, min=1, max=20, help="Candidates per category."),
) -> None:
    """Ranked candidate products per category, with score and reason: a draft for review.

    The draft has a `reviewed` column set to `no`; `concordance check` (and a run) refuse it
    until a person has set it to `yes` or deleted the column.
    """
    from ..procurement.assist import suggest as _suggest
    from ..procurement.assist import suggestions_frame

    frame = _ledger_frame(ledger)
    cats = list(dict.fromkeys(str(c) for c in frame["category"] if str(c).strip()))
    cpv: dict[str, list[object]] = {}
    if "cpv" in frame.columns:
        for c, v in zip(frame["category"].astype(str), frame["cpv"], strict=True):
            if v is not None and str(v).strip() and str(v) != "nan":
                cpv.setdefault(c, []).append(v)
    cands = _suggest(cats, _sectors(mrio), cpv=cpv, top=top)
    df = suggestions_frame(cands)
    if out is not None:
        _write(df, out)
        console_err.print("a draft: review every row, then set 'reviewed' to yes", highlight=False)
        return
    from rich.table import Table

    table = Table(title=f"suggested products for {len(cats)} categories (draft, review it)")
    for col in ("category", "rank", "sector", "score", "reason"):
        table.add_column(col, overflow="fold")
    for c in cands:
        table.add_row(c.category if c.rank == 1 else "", str(c.rank), c.sector, f"{c.score:.2f}",
                      c.reason)
    console.print(table)


@concordance_app.command("check")
def check(
    concordance: Path = typer.Argument(..., help="Concordance: CSV, xlsx or Parquet."),
    mrio: Path | None = typer.Option(None, help=_MRIO_HELP),
    ledger: Path | None = typer.Option(None, help="Ledger whose categories must all be covered."),
) -> None:
    """Every problem of a concordance at once, with did-you-mean (exit 2 when there are any)."""
    from ..errors import LedgerError
    from ..io.tabular import read_table
    from ..procurement.assist import check as _check
    from ..procurement.ledger import ROW_NOTE

    df = read_table(concordance, as_text=True)
    cats = None
    if ledger is not None:
        cats = list(dict.fromkeys(str(c) for c in _ledger_frame(ledger)["category"]))
    res = _check(df, _sectors(mrio), regions=_regions(mrio), source=concordance.name,
                 categories=cats)
    for n in res.notes:
        console_err.print(f"note: {n}", highlight=False, markup=False)
    if res.problems:
        raise LedgerError(res.problems, f"{concordance.name} ({ROW_NOTE})")
    ncat = res.frame["category"].nunique()
    console.print(f"{concordance.name}: OK, {len(res.frame)} rows, {ncat} categories",
                  highlight=False)
