"""Category -> MRIO product concordance with weights (and optional fixed origin region)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import LedgerError
from ..io.tabular import ROW_OFFSET, read_table
from .ledger import ROW_NOTE, _did_you_mean
from .regions import map_regions

if TYPE_CHECKING:
    from ..core.model import MRIO

#: Tolerance on the sum of the weights of a category.
WEIGHT_TOL = 1e-6
#: Values of a `reviewed` column that mark a row as checked by a person.
REVIEWED_YES = ("yes", "y", "true", "1", "ok")
#: `source` of concordance rows from the user's file and from the CPV table (concordance_used.csv).
SOURCE_FILE = "user file"


@dataclass(frozen=True, eq=False)
class Concordance:
    """Which MRIO products (``sector``) a procurement category buys, and in what shares.

    Attributes
    ----------
    frame : DataFrame
        Columns ``category``, ``sector`` (MRIO product name), ``weight`` (share of the category's
        spend, summing to 1 per category), ``origin_region`` ("" when the origin follows the
        ledger or the MRIO's import shares); index = spreadsheet row number.
    source : str
        File name or label used in messages.
    """

    frame: pd.DataFrame
    source: str = "concordance"

    @classmethod
    def read(cls, path: str | Path) -> Concordance:
        """Read a concordance from CSV, xlsx or Parquet (columns category, sector, weight and
        optional origin_region) and validate it; `LedgerError` lists every problem."""
        path = Path(path)
        return cls.from_frame(read_table(path, as_text=True), source=path.name, _numbered=True)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "concordance", *,
                   _numbered: bool = False) -> Concordance:
        """Validate a DataFrame as a concordance (weights numeric, >= 0, summing to 1 within
        1e-6 per category; non-empty names)."""
        df = df.copy(deep=False)
        if not _numbered and isinstance(df.index, pd.RangeIndex) and df.index.start == 0:
            df.index = pd.RangeIndex(ROW_OFFSET, ROW_OFFSET + len(df), name="row")
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in ("category", "sector", "weight") if c not in df.columns]
        if missing:
            raise LedgerError([f"{source}, field '{c}': required column is missing (columns found: "
                               f"{list(df.columns)})" for c in missing], f"{source} ({ROW_NOTE})")
        problems: list[str] = []
        cat = df["category"].astype("string").str.strip().fillna("")
        sec = df["sector"].astype("string").fillna("")
        # keep the sector name as written (EXIOBASE has a name with two inner spaces); trim ends
        sec = sec.str.strip()
        w = pd.to_numeric(df["weight"], errors="coerce").astype(np.float64)
        for r in df.index[(cat == "").to_numpy()]:
            problems.append(f"{source} row {r}, field 'category': empty category")
        for r in df.index[(sec == "").to_numpy()]:
            problems.append(f"{source} row {r}, field 'sector': empty sector")
        bad = (w.isna() | (w < 0) | ~np.isfinite(w)).to_numpy()
        for r, v in zip(df.index[bad], df["weight"].to_numpy()[bad], strict=True):
            problems.append(f"{source} row {r}, field 'weight': {v!r} is not a number >= 0")
        if not bad.any():
            sums = w.groupby(cat.to_numpy()).sum()
            rows = pd.Series(df.index, index=df.index).groupby(cat.to_numpy()).agg(list)
            for c, s in sums.items():
                if c and abs(s - 1.0) > WEIGHT_TOL:
                    problems.append(f"{source} rows {', '.join(map(str, rows[c]))}, field 'weight': "
                                    f"weights of category {c!r} sum to {s:.6g}, not 1")
        if "reviewed" in df.columns:
            # a draft from `concordance suggest` is never used silently
            rv = df["reviewed"].astype("string").fillna("").str.strip().str.lower()
            todo = df.index[~rv.isin(list(REVIEWED_YES)).to_numpy()]
            if len(todo):
                shown = ", ".join(map(str, todo[:20])) + (", ..." if len(todo) > 20 else "")
                problems.append(
                    f"{source} row{'s' if len(todo) > 1 else ''} {shown}, field 'reviewed': "
                    f"{len(todo)} row(s) of a draft from `concordance suggest` not yet reviewed "
                    "(check each row, then set 'reviewed' to yes or delete the column)")
        if "origin_region" in df.columns:
            orig = df["origin_region"].astype("string").str.strip().fillna("")
        else:
            orig = pd.Series("", index=df.index, dtype="string")
        if problems:
            raise LedgerError(problems, f"{source} ({ROW_NOTE})")
        frame = pd.DataFrame({"category": cat.to_numpy(dtype=object),
                              "sector": sec.to_numpy(dtype=object),
                              "weight": w.to_numpy(),
                              "origin_region": orig.to_numpy(dtype=object)}, index=df.index)
        return cls(frame=frame, source=source)

    @property
    def categories(self) -> list[str]:
        """Categories in the order of the file."""
        return list(dict.fromkeys(self.frame["category"]))

    @property
    def sectors(self) -> list[str]:
        return list(dict.fromkeys(self.frame["sector"]))

    def problems(self, mrio: MRIO) -> list[str]:
        """Rows whose sector is not an MRIO product or whose origin_region maps to no region."""
        out: list[str] = []
        known = set(mrio.sectors)
        f, src = self.frame, self.source
        m = ~f["sector"].isin(known).to_numpy()
        for r, s in zip(f.index[m], f["sector"].to_numpy()[m], strict=True):
            out.append(f"{src} row {r}, field 'sector': {s!r} is not a product of the MRIO"
                       f"{_did_you_mean(s, list(mrio.sectors), cutoff=0.8)}")
        mapping = self.origin_mapping(mrio)
        o = f["origin_region"].to_numpy()
        bad = np.array([bool(v) and mapping.get(v) is None for v in o], dtype=bool)
        for r, v in zip(f.index[bad], o[bad], strict=True):
            hint = _did_you_mean(v, list(mrio.regions), cutoff=0.8)
            if not hint:
                from .countries import suggest_country

                near = suggest_country(v, 1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
            out.append(f"{src} row {r}, field 'origin_region': {v!r} maps to no region of the MRIO"
                       f"{hint}")
        return out

    def raise_problems(self, mrio: MRIO) -> None:
        out = self.problems(mrio)
        if out:
            raise LedgerError(out, f"{self.source} ({ROW_NOTE})")

    def origin_mapping(self, mrio: MRIO) -> dict[str, str | None]:
        return map_regions([v for v in set(self.frame["origin_region"]) if v], mrio.regions)

    def project(self, src: MRIO | str, dst: MRIO) -> Concordance:
        """This concordance, written for ``src``'s products (a model or a classification name
        such as ``"exiobase3_pxp"``), projected onto ``dst``'s classification; weights split by
        ``dst``'s output where one product maps to several (see
        [project_concordance][spendprint.procurement.bridges.project_concordance])."""
        from .bridges import project_concordance

        return project_concordance(self, src, dst)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"<Concordance {self.source}: {len(self.categories)} categories -> "
                f"{len(self.sectors)} products>")
