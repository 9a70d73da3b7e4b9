"""Scenario sets: named lists of levers on the demand ``y``, the intensities ``S`` and ``A``.

A scenario set is a lever table, one lever per row, with the columns `COLUMNS`; a blank field
means "all" (every category, region, sector, input or stressor). Read one from YAML, CSV, xlsx
or Parquet with [ScenarioSet.read][spendprint.scenarios.ScenarioSet.read], or build one with the
generators `grid`, `latin_hypercube` and `combine`.

| lever | meaning (``value`` range) |
|---|---|
| volume | demand of ``category`` times ``1 + value`` (value >= -1) |
| substitute | a share ``value`` (default 1) of the demand for ``sector`` (blank: every other product) moves to ``to_sector``, in ``to_region`` (or ``region``; blank: the regions it came from) |
| origin | a share ``value`` (default 1) of the demand for ``sector`` (blank: all) moves to ``region`` |
| intensity | the direct intensity of the sectors supplying ``category`` falls by the share ``value`` (``stressor``; blank: all), as in `spendprint.procurement.scenarios` (value in [0, 1]) |
| stressor | ``S[stressor, (region, sector)] *= 1 + value`` (value >= -1) |
| technology | ``A[(from_region, from_sector), (region, sector)] *= 1 + value`` (value >= -1) |
| input_shift | a share ``value`` of the input (from_region, from_sector) moves to (to_region, to_sector) in the columns (region, sector); blank to_region: the input's own region (value in [0, 1]) |
| mix | rows with the same (region, sector) columns form one mix: the inputs ``from_sector`` (of ``from_region``; blank: of each region separately) get the shares ``value`` of their sum in every column (shares in [0, 1] adding up to 1) |

The A levers of one scenario act on the baseline coefficients and their changes add up, like
several intensity cuts on one sector.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputFileError, LedgerError, ValidationError
from ..io.tabular import read_table, read_yaml

COLUMNS = ("scenario", "lever", "value", "category", "region", "sector", "from_region",
           "from_sector", "to_region", "to_sector", "stressor")
DEMAND_LEVERS = ("volume", "substitute", "origin")
S_LEVERS = ("intensity", "stressor")
A_LEVERS = ("technology", "input_shift", "mix")
LEVERS = DEMAND_LEVERS + S_LEVERS + A_LEVERS
#: value range per lever (inclusive); a blank value means the default where there is one
RANGES = {"volume": (-1.0, np.inf), "substitute": (0.0, 1.0), "origin": (0.0, 1.0),
          "intensity": (0.0, 1.0), "stressor": (-1.0, np.inf), "technology": (-1.0, np.inf),
          "input_shift": (0.0, 1.0), "mix": (0.0, 1.0)}
DEFAULTS = {"substitute": 1.0, "origin": 1.0}


def _suggest(value: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    unknown = [c for c in df.columns if c not in (*COLUMNS, "where", "description", "name")]
    if unknown:
        raise ValidationError(f"unknown scenario column(s) {unknown}; expected {list(COLUMNS)}")
    if "scenario" not in df.columns and "name" in df.columns:
        df["scenario"] = df["name"]
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].where(df[c].notna(), "").astype(str).str.strip()
        df.loc[df[c].str.lower() == "nan", c] = ""
    df["lever"] = df["lever"].str.lower()
    if "where" not in df.columns:
        df["where"] = [f"lever {i + 1}" for i in range(len(df))]
    return df[[*COLUMNS, "where"]].reset_index(drop=True)


def _records(data: Any, source: str) -> pd.DataFrame:
    if isinstance(data, dict):
        data = data.get("scenarios", [])
    if not isinstance(data, list):
        raise LedgerError([f"{source}: expected a list of scenarios"], source)
    rows = []
    for i, sc in enumerate(data, start=1):
        if not isinstance(sc, dict):
            raise LedgerError([f"{source} scenario {i}: expected a mapping with name and levers"],
                              source)
        name = str(sc.get("name", f"scenario {i}"))
        levers = sc.get("levers") or []
        if not levers:
            rows.append({"scenario": name, "lever": "", "where": f"{source} scenario {i} ({name})"})
        for j, lv in enumerate(levers, start=1):
            rec = {k: v for k, v in (lv.items() if isinstance(lv, dict) else [])}
            rec["scenario"] = name
            rec["where"] = f"{source} scenario {i} ({name}) lever {j}"
            rows.append(rec)
    return _normalise(pd.DataFrame(rows))


def _productive(mrio, rec, v: float, where: str) -> list[str]:
    """A technology lever that raises a column sum of A from below 1 to 1 or more (no value
    added left) is refused: the changed economy need not be productive."""
    import scipy.sparse as sps

    R, P = len(mrio.regions), len(mrio.sectors)

    def idx(region: str, sector: str) -> np.ndarray:
        rr = np.arange(R) if not region else np.array([mrio.regions.index(region)])
        pp = np.arange(P) if not sector else np.array([mrio.sectors.index(sector)])
        return (rr[:, None] * P + pp[None, :]).ravel()

    A = sps.csc_array(mrio.A) if sps.issparse(mrio.A) else np.asarray(mrio.A)
    J = idx(rec.region, rec.sector)
    I = idx(rec.from_region, rec.from_sector)  # noqa: E741
    cols = A[:, J]
    cols = cols.toarray() if sps.issparse(cols) else np.asarray(cols)
    before = cols.sum(axis=0)
    after = before + v * cols[I].sum(axis=0)
    bad = np.flatnonzero((before < 1.0) & (after >= 1.0))
    if not bad.size:
        return []
    j = int(J[bad[0]])
    return [f"{where}, field 'value': {v:g} raises the input coefficients of column "
            f"{mrio.regions[j // P]}/{mrio.sectors[j % P]} to a sum of {after[bad[0]]:.3g} "
            f"(no value added left; {bad.size} column(s) in all)"]


class ScenarioSet:
    """Named scenarios, each a list of levers (the lever table, one lever per row).

    Parameters
    ----------
    levers : DataFrame, list of records or mapping
        A lever table with (some of) the columns `COLUMNS`, or YAML-like records
        ``{scenarios: [{name, levers: [{lever, value, ...}, ...]}, ...]}``.
    source : str
        Name used in messages (the file name when read from a file).
    """

    def __init__(self, levers: pd.DataFrame | Sequence[Mapping] | Mapping, source: str = "scenarios"):
        if isinstance(levers, ScenarioSet):
            levers = levers.table
        if isinstance(levers, pd.DataFrame):
            self.table = _normalise(levers)
        else:
            self.table = _records(levers, source)
        self.source = source

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path) -> ScenarioSet:
        """Read a YAML (``.yaml``/``.yml``) or table (CSV, xlsx, Parquet) scenario file."""
        path = Path(path)
        if not path.is_file():
            raise InputFileError(path, "no such scenario file")
        if path.suffix.lower() in (".yaml", ".yml"):
            return cls(read_yaml(path) or [], source=path.name)
        df = read_table(path, as_text=True)
        df["where"] = [f"{path.name} row {r + 2}" for r in range(len(df))]  # row 1: header
        return cls(df, source=path.name)

    @classmethod
    def grid(cls, template: Mapping[str, Any], name: str = "grid", **axes: Sequence[Any]
             ) -> ScenarioSet:
        """One scenario per point of the grid over the fields in ``axes``.

        ``ScenarioSet.grid({"lever": "technology", "region": "NO"}, sector=[...], value=[-.1, -.2])``
        gives ``len(sector) * len(value)`` scenarios of one lever each, named
        ``grid[sector=...,value=...]``. A template may also be a list of lever mappings (every
        point then has all of them, each with the grid's fields).
        """
        temps = [dict(template)] if isinstance(template, Mapping) else [dict(t) for t in template]
        keys = list(axes)
        rows = []
        for point in itertools.product(*(axes[k] for k in keys)):
            label = ",".join(f"{k}={v}" for k, v in zip(keys, point, strict=True))
            for t in temps:
                rows.append({**t, **dict(zip(keys, point, strict=True)),
                             "scenario": f"{name}[{label}]"})
        return cls(pd.DataFrame(rows), source=name)

    @classmethod
    def latin_hypercube(cls, levers: Sequence[Mapping[str, Any]], n: int, seed: int = 0,
                        name: str = "lhs") -> ScenarioSet:
        """``n`` scenarios whose lever values form a Latin hypercube over the given ranges.

        Each lever mapping gives its ``value`` as a range ``(low, high)``; every scenario has all
        the levers, with values drawn so that each lever's range is cut into ``n`` equal strata
        and every stratum is used once (numpy ``default_rng(seed)``: the design is a pure
        function of ``seed``).
        """
        rng = np.random.default_rng(int(seed))
        d = len(levers)
        u = (rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1).T + rng.random((n, d))) / n
        rows = []
        for i in range(n):
            for j, lv in enumerate(levers):
                lo, hi = (float(v) for v in lv["value"])
                rows.append({**dict(lv), "value": lo + (hi - lo) * u[i, j],
                             "scenario": f"{name}[{i}]"})
        return cls(pd.DataFrame(rows), source=name)

    def combine(self, groups: Sequence[Sequence[str]] | None = None, sep: str = " + ",
                keep: bool = True) -> ScenarioSet:
        """Scenarios made of the levers of several named ones.

        ``groups`` lists the names to join (default: every pair); the combined scenario is
        named by the names joined with ``sep``. With ``keep`` the original scenarios stay.
        """
        names = self.names
        if groups is None:
            groups = list(itertools.combinations(names, 2))
        missing = [g for grp in groups for g in grp if g not in names]
        if missing:
            raise ValidationError(f"combine: unknown scenario(s) {missing}"
                                  + _suggest(missing[0], names))
        parts = [self.table] if keep else []
        for grp in groups:
            rows = pd.concat([self.table[self.table["scenario"] == g] for g in grp])
            rows = rows.assign(scenario=sep.join(grp))
            parts.append(rows)
        return ScenarioSet(pd.concat(parts, ignore_index=True), source=self.source)

    def __add__(self, other: ScenarioSet) -> ScenarioSet:
        return ScenarioSet(pd.concat([self.table, other.table], ignore_index=True), self.source)

    # ---- access -----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Scenario names in order of first appearance."""
        return list(dict.fromkeys(self.table["scenario"]))

    def __len__(self) -> int:
        return len(self.names)

    def levers(self, name: str) -> pd.DataFrame:
        return self.table[(self.table["scenario"] == name) & (self.table["lever"] != "")]

    def __repr__(self) -> str:
        return f"ScenarioSet({len(self)} scenarios, {len(self.table)} levers from {self.source})"

    # ---- validation -------------------------------------------------------------------------
    def problems(self, mrio, categories: Sequence[str]) -> list[str]:
        """Every problem of the lever table against the model and the categories (no solve)."""
        out: list[str] = []
        regions, sectors = list(mrio.regions), list(mrio.sectors)
        stressors = list(mrio.stressors)
        cats = [str(c) for c in categories]
        mixes: dict[tuple, list[float]] = {}
        for rec in self.table.itertuples(index=False):
            w = rec.where
            if not rec.scenario:
                out.append(f"{w}, field 'scenario': a lever needs a scenario name")
            if not rec.lever:
                continue
            if rec.lever not in LEVERS:
                out.append(f"{w}, field 'lever': {rec.lever!r} is not one of {', '.join(LEVERS)}"
                           + _suggest(rec.lever, LEVERS))
                continue
            lo, hi = RANGES[rec.lever]
            if rec.value:
                try:
                    v = float(rec.value)
                except ValueError:
                    out.append(f"{w}, field 'value': {rec.value!r} is not a number")
                    v = None
                if v is not None and not (lo <= v <= hi):
                    out.append(f"{w}, field 'value': {v:g} is outside [{lo:g}, {hi:g}] for a "
                               f"{rec.lever} lever")
            elif rec.lever not in DEFAULTS:
                out.append(f"{w}, field 'value': a {rec.lever} lever needs a value")
                v = None
            else:
                v = DEFAULTS[rec.lever]
            if rec.category and rec.category != "*" and rec.category not in cats:
                out.append(f"{w}, field 'category': {rec.category!r} is not a category of the "
                           "demand" + _suggest(rec.category, cats))
            for fld, options, what in (("region", regions, "region"), ("from_region", regions,
                                       "region"), ("to_region", regions, "region"),
                                       ("sector", sectors, "product"),
                                       ("from_sector", sectors, "product"),
                                       ("to_sector", sectors, "product"),
                                       ("stressor", stressors, "stressor")):
                val = getattr(rec, fld)
                if val and val not in options:
                    out.append(f"{w}, field '{fld}': {val!r} is not a {what} of the MRIO"
                               + _suggest(val, options))
            need = {"substitute": ("to_sector",), "origin": ("region",),
                    "input_shift": ("from_sector", "to_sector"), "mix": ("from_sector",)}
            for fld in need.get(rec.lever, ()):
                if not getattr(rec, fld):
                    out.append(f"{w}, field '{fld}': a {rec.lever} lever needs {fld}")
            if (rec.lever == "technology" and v is not None and v > 0
                    and not any(p.startswith(w + ",") for p in out)):
                out.extend(_productive(mrio, rec, v, w))
            if rec.lever == "mix" and v is not None:
                key = (rec.scenario, rec.region, rec.sector, rec.from_region)
                mixes.setdefault(key, []).append(v)
                mixes.setdefault(key + ("where",), []).append(w)
        for key, vals in mixes.items():
            if key[-1] == "where":
                continue
            total = float(np.sum(vals))
            if abs(total - 1.0) > 1e-9:
                first = mixes[key + ("where",)][0]
                out.append(f"{first}: the shares of mix (scenario {key[0]!r}, columns "
                           f"{key[1] or 'all'}/{key[2] or 'all'}, inputs of {key[3] or 'each region'})"
                           f" add up to {total:g}, not 1")
        return out

    def check(self, mrio, categories: Sequence[str]) -> ScenarioSet:
        """Raise `LedgerError` with every problem at once (file and row named); return self."""
        problems = self.problems(mrio, categories)
        if problems:
            raise LedgerError(problems, self.source)
        return self
