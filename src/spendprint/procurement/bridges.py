"""Classification bridges between MRIO product lists, and concordances projected across models.

A concordance says which products of one model a procurement category buys (e.g. the demo
concordance, written for EXIOBASE 3 pxp). To run the same ledger on GLORIA, OECD ICIO, FIGARO or
USEEIO, each source product is sent to the products of the target model that a *bridge* links it
to, and its weight is split over them in proportion to the target model's gross output:

``w'[c, t] = sum_s w[c, s] * b[s, t] * xbar[t] / sum_t' b[s, t'] xbar[t']``

with ``b[s, t]`` = 1 when the bridge links source product ``s`` to target product ``t``,
``xbar[t] = sum_r x[(r, t)]`` the target model's output of ``t`` summed over regions (money unit
of the target model; only ratios matter). Weights stay summing to one per category. A source
product with no target in the target model is an error naming it, so nothing is silently lost.

Bridges ship as CSV files in `spendprint/data/bridges/` (sources and licences in
`spendprint/data/BRIDGES.md`): EXIOBASE 3 pxp (200 products) to FIGARO (64 CPA 2.1 products),
OECD ICIO (45 ISIC Rev. 4 groups), GLORIA (120 sectors, 119 of them in the public USEPA table)
and USEEIO (BEA detail commodities). Any other pair is composed through EXIOBASE 3 pxp.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import LedgerError, ValidationError
from .concordance import Concordance

if TYPE_CHECKING:
    from ..core.model import MRIO

#: The hub classification: every shipped bridge goes from it to one other system.
HUB = "exiobase3_pxp"

#: Shipped bridge files, by target system (source is always [HUB][spendprint.procurement.bridges.HUB]).
BRIDGE_FILES: dict[str, str] = {
    "figaro64": "exio3_pxp__figaro64.csv",
    "gloria120": "exio3_pxp__gloria120.csv",
    "icio45": "exio3_pxp__icio45.csv",
    "useeio_bea": "exio3_pxp__useeio_bea.csv",
}

#: Canonical system names.
SYSTEMS: tuple[str, ...] = (HUB, *BRIDGE_FILES)

_ALIASES: dict[str, str] = {
    "exiobase": HUB, "exiobase3": HUB, "exiobase_3": HUB, "exio3": HUB, "exio3_pxp": HUB,
    "exiobase3_pxp": HUB, "exiobase_pxp": HUB, "pxp": HUB,
    "figaro": "figaro64", "figaro64": "figaro64", "cpa64": "figaro64", "cpa": "figaro64",
    "gloria": "gloria120", "gloria120": "gloria120",
    "icio": "icio45", "icio45": "icio45", "oecd_icio": "icio45", "oecdicio": "icio45",
    "oecd": "icio45",
    "useeio": "useeio_bea", "useeio_bea": "useeio_bea", "bea": "useeio_bea",
    "bea_detail": "useeio_bea",
}


def canonical_system(name: str) -> str:
    """The canonical name of a classification system (`"GLORIA"` -> `"gloria120"`).

    Raises
    ------
    ValidationError
        The name is not a known system; the message lists the known ones.
    """
    key = re.sub(r"[\s\-.]+", "_", str(name).strip().lower())
    key = re.sub(r"_?v?\d+(_\d+)*$", "", key) if key not in _ALIASES else key
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValidationError(f"unknown classification system {name!r}; known: {', '.join(SYSTEMS)}")


#: Other labels of the ICIO 45 groups: the 2021 edition's ISIC codes (`01T02`, `36T39`) and the
#: 2023 edition's splits (`C24A`/`C24B`, `C301`/`C302T309`), all of which receive the group.
_ICIO_ALIASES: dict[str, tuple[str, ...]] = {
    "A01_02": ("01T02",), "A03": ("03",), "B05_06": ("05T06",), "B07_08": ("07T08",),
    "B09": ("09",), "C10T12": ("10T12",), "C13T15": ("13T15",), "C16": ("16",),
    "C17_18": ("17T18",), "C19": ("19",), "C20": ("20",), "C21": ("21",), "C22": ("22",),
    "C23": ("23",), "C24": ("24", "C24A", "C24B"), "C25": ("25",), "C26": ("26",),
    "C27": ("27",), "C28": ("28",), "C29": ("29",), "C30": ("30", "C301", "C302T309"),
    "C31T33": ("31T33",), "D": ("35",), "E": ("36T39",), "F": ("41T43",), "G": ("45T47",),
    "H49": ("49",), "H50": ("50",), "H51": ("51",), "H52": ("52",), "H53": ("53",),
    "I": ("55T56",), "J58T60": ("58T60",), "J61": ("61",), "J62_63": ("62T63",),
    "K": ("64T66",), "L": ("68",), "M": ("69T75",), "N": ("77T82",), "O": ("84",),
    "P": ("85",), "Q": ("86T88",), "R": ("90T93",), "S": ("94T96",), "T": ("97T98",),
}


def _norm(label: str) -> str:
    return re.sub(r"\s+", " ", str(label)).strip().lower()


def _label_keys(code: str, name: str) -> list[str]:
    """Labels a model may use for a bridge product: its code, its name, FIGARO's `CPA_` prefix,
    ICIO's other editions' codes (a product split in the model receives all its parts)."""
    keys = [code, name, f"CPA_{code}", f"CPA{code}", *_ICIO_ALIASES.get(code, ())]
    return [_norm(k) for k in keys if k]


@dataclass(frozen=True, eq=False)
class Bridge:
    """Links between the products of two classifications (0/1, many-to-many).

    Attributes
    ----------
    src_system, dst_system : str
        Canonical system names.
    frame : DataFrame
        Columns `src_code`, `src_name`, `dst_code`, `dst_name`, one row per link.
    note : str
        How the bridge was made (shipped file, reversed, composed through the hub).
    """

    src_system: str
    dst_system: str
    frame: pd.DataFrame
    note: str = ""

    @functools.cached_property
    def _src_lookup(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for code, name in zip(self.frame["src_code"], self.frame["src_name"], strict=True):
            for k in _label_keys(code, name):
                out.setdefault(k, code)
        return out

    @functools.cached_property
    def _targets(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for s, c, n in zip(self.frame["src_code"], self.frame["dst_code"], self.frame["dst_name"],
                           strict=True):
            lst = out.setdefault(s, [])
            if (c, n) not in lst:
                lst.append((c, n))
        return out

    def source_code(self, label: str) -> str | None:
        """The source product code for a label (code or name, case and spacing ignored)."""
        return self._src_lookup.get(_norm(label))

    def targets(self, label: str) -> list[tuple[str, str]]:
        """`(dst_code, dst_name)` pairs a source product (code or name) is linked to."""
        code = self.source_code(label)
        return [] if code is None else list(self._targets.get(code, []))

    def reversed(self) -> Bridge:
        f = self.frame.rename(columns={"src_code": "dst_code", "src_name": "dst_name",
                                       "dst_code": "src_code", "dst_name": "src_name"})
        return Bridge(self.dst_system, self.src_system,
                      f[["src_code", "src_name", "dst_code", "dst_name"]].reset_index(drop=True),
                      note=f"reverse of {self.src_system} -> {self.dst_system}")

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"<Bridge {self.src_system} -> {self.dst_system}: {len(self)} links, "
                f"{self.frame['src_code'].nunique()} -> {self.frame['dst_code'].nunique()} "
                f"products>")


@functools.lru_cache(maxsize=8)
def _shipped(dst: str) -> Bridge:
    path = resources.files("spendprint.data").joinpath("bridges").joinpath(BRIDGE_FILES[dst])
    with resources.as_file(path) as p:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    return Bridge(HUB, dst, frame, note=f"shipped file bridges/{BRIDGE_FILES[dst]}")


def load_bridge(src_system: str, dst_system: str) -> Bridge:
    """The bridge from one classification to another.

    Shipped bridges go from EXIOBASE 3 pxp to each other system; the reverse direction swaps the
    columns, and a pair of two non-hub systems is composed through EXIOBASE 3 pxp (a source
    product links to every target reached through any hub product it links to; coarse, which is
    fine because [project_concordance][spendprint.procurement.bridges.project_concordance]
    splits by target output anyway).

    Parameters
    ----------
    src_system, dst_system : str
        System names or aliases: `exiobase3_pxp` (`EXIOBASE`), `figaro64` (`FIGARO`), `icio45`
        (`OECD ICIO`), `gloria120` (`GLORIA`), `useeio_bea` (`USEEIO`).

    Returns
    -------
    Bridge
    """
    src, dst = canonical_system(src_system), canonical_system(dst_system)
    if src == dst:
        raise ValidationError(f"source and target classification are the same ({src}): "
                              f"no bridge is needed")
    if src == HUB:
        return _shipped(dst)
    if dst == HUB:
        return _shipped(src).reversed()
    a, b = _shipped(src).reversed().frame, _shipped(dst).frame
    f = a.merge(b, left_on="dst_code", right_on="src_code", suffixes=("", "_b"))
    f = f[["src_code", "src_name", "dst_code_b", "dst_name_b"]].drop_duplicates()
    f.columns = ["src_code", "src_name", "dst_code", "dst_name"]
    return Bridge(src, dst, f.reset_index(drop=True), note=f"composed {src} -> {HUB} -> {dst}")


def _label_sets() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {HUB: set()}
    for dst in BRIDGE_FILES:
        f = _shipped(dst).frame
        out[dst] = {k for c, n in zip(f["dst_code"], f["dst_name"], strict=True)
                    for k in _label_keys(c, n)}
        out[HUB] |= {k for c, n in zip(f["src_code"], f["src_name"], strict=True)
                     for k in _label_keys(c, n)}
    return out


def system_of_labels(labels: Iterable[str]) -> str | None:
    """The classification whose product labels (codes or names) cover the most of `labels`.

    Returns the system covering every label, or the best one covering at least 90 %, or None.
    """
    labs = {_norm(x) for x in labels}
    if not labs:
        return None
    cover = {s: len(labs & keys) / len(labs) for s, keys in _label_sets().items()}
    best = max(cover, key=lambda s: cover[s])
    return best if cover[best] >= 0.9 else None


def classification_of(mrio: MRIO | str) -> str:
    """The classification of a model's products (or a system name, canonicalised).

    Uses `mrio.meta["classification"]` when set, else the system whose labels cover the model's
    sector labels (see [system_of_labels][spendprint.procurement.bridges.system_of_labels]).

    Raises
    ------
    ValidationError
        No known system matches; the message names the model's source and a few labels.
    """
    if isinstance(mrio, str):
        return canonical_system(mrio)
    meta: Mapping[str, object] = mrio.meta or {}
    if meta.get("classification"):
        return canonical_system(str(meta["classification"]))
    found = system_of_labels(mrio.sectors)
    if found is None:
        raise ValidationError(
            f"cannot tell the product classification of the model from {meta.get('source')!r} "
            f"(sectors {', '.join(list(mrio.sectors)[:4])}, ...); set meta['classification'] "
            f"to one of {', '.join(SYSTEMS)}")
    return found


def _resolve_targets(dst_mrio: MRIO) -> dict[str, str]:
    """Normalised label key -> the model's own sector label."""
    out: dict[str, str] = {}
    for s in dst_mrio.sectors:
        out.setdefault(_norm(s), s)
        m = re.match(r"(?i)^cpa_?(.+)$", str(s))
        if m:
            out.setdefault(_norm(m.group(1)), s)
    return out


def project_concordance(concordance: Concordance, src_mrio: MRIO | str, dst_mrio: MRIO,
                        bridge: Bridge | None = None) -> Concordance:
    """A concordance written for one model's products, projected onto another model's products.

    For every row (category `c`, source product `s`, weight `w`, origin region) the weight goes
    to the target products `t` linked to `s` that exist in `dst_mrio`, split by their output:
    `w * xbar[t] / sum_t' xbar[t']` with `xbar[t] = sum_r x[(r, t)]` (equal shares when all of
    them have zero output). Rows landing on the same (category, product, origin region) are
    summed; the weights of each category still sum to 1.

    Parameters
    ----------
    concordance : Concordance
        Written for the source model's product labels (codes or names).
    src_mrio : MRIO or str
        The source model, or its classification name (e.g. `"exiobase3_pxp"`).
    dst_mrio : MRIO
        The target model (its `x` provides the split).
    bridge : Bridge, optional
        Default [load_bridge][spendprint.procurement.bridges.load_bridge] for the two systems.

    Returns
    -------
    Concordance
        `source` is `"<original> -> <dst system>"`; sector labels are the target model's own.

    Raises
    ------
    LedgerError
        Every source product that is not in the bridge or whose targets are all missing from the
        target model, each named with the concordance row.
    """
    src_sys = classification_of(src_mrio)
    dst_sys = classification_of(dst_mrio)
    if bridge is None:
        bridge = load_bridge(src_sys, dst_sys)
    resolve = _resolve_targets(dst_mrio)
    P = len(dst_mrio.sectors)
    xbar = dict(zip(dst_mrio.sectors, np.asarray(dst_mrio.x, dtype=np.float64)
                    .reshape(-1, P).sum(axis=0), strict=True))
    f = concordance.frame
    rows: list[tuple[str, str, float, str]] = []
    problems: list[str] = []
    for r, cat, sec, w, orig in zip(f.index, f["category"], f["sector"], f["weight"],
                                    f["origin_region"], strict=True):
        if bridge.source_code(sec) is None:
            problems.append(f"{concordance.source} row {r}, field 'sector': {sec!r} is not a "
                            f"{bridge.src_system} product of the bridge to {bridge.dst_system}")
            continue
        targets: list[str] = []
        for code, name in bridge.targets(sec):
            for hit in (resolve[k] for k in _label_keys(code, name) if k in resolve):
                if hit not in targets:
                    targets.append(hit)
        if not targets:
            linked = ", ".join(c for c, _ in bridge.targets(sec)) or "none"
            problems.append(f"{concordance.source} row {r}, field 'sector': {sec!r} has no "
                            f"target in the {dst_sys} model (bridge targets: {linked})")
            continue
        xs = np.array([max(float(xbar[t]), 0.0) for t in targets])
        share = xs / xs.sum() if xs.sum() > 0 else np.full(len(targets), 1.0 / len(targets))
        rows += [(cat, t, float(w) * float(s), orig) for t, s in zip(targets, share, strict=True)]
    if problems:
        raise LedgerError(problems, f"{concordance.source} projected onto {dst_sys}")
    df = pd.DataFrame(rows, columns=["category", "sector", "weight", "origin_region"])
    df = df.groupby(["category", "sector", "origin_region"], sort=False, as_index=False)["weight"].sum()
    df["weight"] = df["weight"] / df.groupby("category", sort=False)["weight"].transform("sum")
    order = {c: i for i, c in enumerate(concordance.categories)}
    df = df.sort_values("category", key=lambda s: s.map(order), kind="stable")
    df = df[["category", "sector", "weight", "origin_region"]].reset_index(drop=True)
    return Concordance.from_frame(df, source=f"{concordance.source} -> {dst_sys}")
