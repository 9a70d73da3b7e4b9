"""The concordance a run uses: the user's file first, the shipped CPV table for the rest.

A ledger category is mapped to MRIO products by the rows of the user's concordance when it has
any; otherwise, when rows of the category carry CPV codes, by the curated CPV -> EXIOBASE 3 table
(`spendprint.procurement.cpv`), the codes weighted by their spend. A category with neither is an
error (reported with the ledger's other problems by `Ledger.problems`). The result records where
each row came from (``source``: ``user file`` or ``CPV``) and is written to
``concordance_used.csv``; `coverage` gives the share of spend mapped each way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.model import MRIO
from .concordance import SOURCE_FILE, Concordance
from .cpv import cpv_concordance
from .ledger import Ledger

#: ``source`` of rows from the shipped CPV table.
SOURCE_CPV = "CPV"
#: Columns of ``concordance_used.csv``.
USED_COLUMNS = ("category", "sector", "weight", "origin_region", "source", "cpv")


@dataclass(frozen=True)
class UsedConcordance:
    """The concordance of a run and where its rows came from."""

    concordance: Concordance
    frame: pd.DataFrame
    coverage: dict


def cpv_categories(ledger: Ledger, known: set[str]) -> list[str]:
    """Categories not in ``known`` that have at least one row with a CPV code."""
    f = ledger.frame
    if "cpv" not in f.columns or not len(f):
        return []
    has = (f["cpv"].astype(str) != "").to_numpy()
    cats = f["category"].astype(str).to_numpy()
    return [c for c in dict.fromkeys(cats[has]) if c not in known]


def empty_concordance(source: str = "no concordance file") -> Concordance:
    """A concordance without rows (every category must then come through its CPV codes)."""
    frame = pd.DataFrame({"category": pd.Series(dtype=object), "sector": pd.Series(dtype=object),
                          "weight": pd.Series(dtype=np.float64),
                          "origin_region": pd.Series(dtype=object)})
    return Concordance(frame=frame, source=source)


def complete_concordance(ledger: Ledger, concordance: Concordance | None,
                         mrio: MRIO) -> UsedConcordance:
    """User rows for the ledger's categories it covers, CPV rows for the others.

    Parameters
    ----------
    ledger : Ledger
        The validated ledger (its ``cpv`` column holds normalised 8-digit codes or "").
    concordance : Concordance or None
        The user's file; ``None``: every category must come through its CPV codes.
    mrio : MRIO
        The model whose products the CPV table's names are matched to.

    Returns
    -------
    UsedConcordance
        ``concordance`` (validated, ``source`` names both origins), ``frame`` (columns
        `USED_COLUMNS`, only the categories of the ledger) and ``coverage``: spend shares
        (``user_file``, ``cpv``, ``unmapped``) of the ledger's positive net spend by category, and
        the categories of each.

    Raises
    ------
    LedgerError
        A CPV code that the table does not map (the ledger check reports it first).
    """
    user = concordance.frame if concordance is not None else empty_concordance().frame
    cats = ledger.categories
    have = set(user["category"])
    parts = [user[user["category"].isin(cats)].assign(source=SOURCE_FILE, cpv="")]
    todo = cpv_categories(ledger, have)
    if todo:
        f = ledger.frame
        sel = (f["category"].astype(str).isin(todo) & (f["cpv"].astype(str) != "")).to_numpy()
        sub = pd.DataFrame({"category": f["category"].astype(str).to_numpy()[sel],
                            "cpv": f["cpv"].astype(str).to_numpy()[sel],
                            "amount": f["amount"].to_numpy()[sel]}, index=f.index[sel])
        rows = cpv_concordance(sub, mrio.sectors, source=ledger.source)
        parts.append(rows.assign(source=SOURCE_CPV)[list(USED_COLUMNS)])
    used = pd.concat([p[list(USED_COLUMNS)] for p in parts], ignore_index=True)
    used["origin_region"] = used["origin_region"].fillna("").astype(str)
    src = concordance.source if concordance is not None else "no concordance file"
    label = f"{src} + CPV codes of {ledger.source}" if todo else src
    conc = Concordance.from_frame(used[["category", "sector", "weight", "origin_region"]],
                                  source=label)
    return UsedConcordance(concordance=conc, frame=used, coverage=coverage(ledger, have, todo))


def coverage(ledger: Ledger, user_categories: set[str], cpv_cats: list[str]) -> dict:
    """Shares of the ledger's spend mapped through the user file, through CPV, and unmapped.

    Shares of the sum of the positive net amounts per category (in the ledger's currencies as
    written; a share is only meaningful for one currency, which `currencies` states).
    """
    f = ledger.frame
    net = f.groupby(f["category"].astype(str), observed=True)["amount"].sum().clip(lower=0.0)
    total = float(net.sum())
    user = [c for c in net.index if c in user_categories]
    cpv = [c for c in net.index if c not in user_categories and c in set(cpv_cats)]
    rest = [c for c in net.index if c not in user_categories and c not in set(cpv_cats)]

    def share(cs: list[str]) -> float:
        return float(net.loc[cs].sum() / total) if total > 0 and cs else 0.0

    return {"user_file": share(user), "cpv": share(cpv), "unmapped": share(rest),
            "categories_user_file": user, "categories_cpv": cpv, "categories_unmapped": rest,
            "currencies": sorted(f["currency"].astype(str).unique())}
