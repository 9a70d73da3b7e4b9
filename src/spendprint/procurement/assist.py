"""The concordance assistant: a template to fill in, ranked suggestions, and a check with did-you-mean.

Nothing here is used silently: [suggest][spendprint.procurement.assist.suggest] writes a *draft*
(column `reviewed` = `no`) that [check][spendprint.procurement.assist.check] refuses until a person
has reviewed it.

Suggestion score. Text is folded (lower case, accents removed), split into words, stop words
dropped and each word cut to a light stem (`gloves` -> `glove`, `supplies` -> `supply`). With the
inverse document frequency `idf(t) = ln(1 + N / n_t)` over the `N` texts of the index (product
names and CPV labels) and `v(x)` the L2-normalised idf-weighted word vector of a text `x`, the
similarity of a category `q` to a text is the cosine `cos(q, x) = v(q) . v(x)`. A product `s` scores

    name(s)  = cos(q, name of s)
    label(s) = max over CPV codes c with s among their products of cos(q, label of c) * w_c(s)
    score(s) = max(name(s), label(s)) + 0.25 * min(name(s), label(s))

(`w_c(s)`: the weight of `s` in the curated CPV table for code `c`). A category with CPV codes in
the ledger ranks the products of those codes first, with score `1 + w(s)`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import ValidationError
from ..io.tabular import ROW_OFFSET
from .cpv import _by_prefix, cpv_labels, cpv_prefix, cpv_to_products, fold, normalise_cpv
from .ledger import sort_problems

#: Words that carry no product meaning.
STOP = frozenset("""a an and or of for the to in on with without by from at as other others nec n e c
incl including excluding except related associated various miscellaneous misc etc""".split())
#: Weight of the weaker of the two signals (name, CPV labels) added to the stronger.
SECOND = 0.25


# ---- text ---------------------------------------------------------------------------------------
def _stem(w: str) -> str:
    """A light English stemmer: plural and a few derivational endings."""
    if len(w) <= 3:
        return w
    for suf, rep in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if w.endswith(suf) and len(w) > len(suf) + 2:
            return w[: -len(suf)] + rep
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suf in ("ical", "ation", "al"):
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            return w[: -len(suf)]
    return w


#: Letters that Unicode does not decompose into a base letter and an accent.
_FOLD = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss",
                       "đ": "d", "ł": "l", "Ł": "l", "þ": "th"})


def _words(text: object) -> list[str]:
    s = unicodedata.normalize("NFKD", str(text).translate(_FOLD))
    s = s.encode("ascii", "ignore").decode().lower()
    return [w for w in re.findall(r"[a-z]+", s) if w not in STOP and len(w) > 1]


def tokens(text: object) -> list[str]:
    """Folded, stop-word-free, lightly stemmed words of a text (digits dropped)."""
    return [_stem(w) for w in _words(text)]


@dataclass(frozen=True)
class _Index:
    sectors: tuple[str, ...]
    vocab: dict[str, int]
    idf: np.ndarray
    names: sparse.csr_matrix     # (n_sectors, V) normalised name vectors
    labels: sparse.csr_matrix    # (n_labels, V) normalised CPV label vectors
    label_codes: tuple[str, ...]
    label_text: tuple[str, ...]
    # (code, sector, weight) triples sorted by sector: the products of each CPV code
    pair_code: np.ndarray
    pair_sector: np.ndarray
    pair_w: np.ndarray
    sector_start: np.ndarray     # first pair of each sector (len n_sectors + 1)


def _vectors(docs: list[list[str]], vocab: dict[str, int], idf: np.ndarray) -> sparse.csr_matrix:
    """Rows: L2-normalised binary-term idf vectors of the documents (CSR)."""
    indptr = [0]
    indices: list[int] = []
    for d in docs:
        js = sorted({vocab[t] for t in d if t in vocab})
        indices.extend(js)
        indptr.append(len(indices))
    ind = np.asarray(indices, dtype=np.int64)
    data = idf[ind] if len(ind) else np.zeros(0)
    m = sparse.csr_matrix((data, ind, np.asarray(indptr)), shape=(len(docs), len(vocab)))
    norm = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sparse.diags(1.0 / np.where(norm > 0, norm, 1.0)) @ m


@lru_cache(maxsize=8)
def _index(sectors: tuple[str, ...]) -> _Index:
    labels = cpv_labels()
    pos = {fold(s): i for i, s in enumerate(sectors)}
    codes: list[str] = []
    texts: list[str] = []
    pc: list[int] = []
    ps: list[int] = []
    pw: list[float] = []
    table = _by_prefix()
    for code, lab in labels.items():
        p = next((code[:n] for n in range(8, 1, -1) if code[:n] in table), None)
        if p is None:
            continue
        hits = [(pos[fold(s)], x) for s, x in table[p] if fold(s) in pos]
        if not hits:
            continue
        for i, x in hits:
            pc.append(len(codes))
            ps.append(i)
            pw.append(x)
        codes.append(code)
        texts.append(lab)
    name_docs = [tokens(s) for s in sectors]
    label_docs = [tokens(t) for t in texts]
    df: dict[str, int] = {}
    for d in [*name_docs, *label_docs]:
        for t in set(d):
            df[t] = df.get(t, 0) + 1
    words = sorted(df)
    vocab = {t: j for j, t in enumerate(words)}
    n = len(name_docs) + len(label_docs)
    idf = np.array([np.log(1.0 + n / df[t]) for t in words])
    order = np.argsort(np.asarray(ps, dtype=np.int64), kind="stable")
    pair_sector = np.asarray(ps, dtype=np.int64)[order]
    start = np.searchsorted(pair_sector, np.arange(len(sectors) + 1))
    return _Index(sectors=sectors, vocab=vocab, idf=idf,
                  names=_vectors(name_docs, vocab, idf), labels=_vectors(label_docs, vocab, idf),
                  label_codes=tuple(codes), label_text=tuple(texts),
                  pair_code=np.asarray(pc, dtype=np.int64)[order], pair_sector=pair_sector,
                  pair_w=np.asarray(pw, dtype=np.float64)[order], sector_start=start)


def default_sectors() -> list[str]:
    """The 200 EXIOBASE 3 pxp product names shipped in `data/exio3_pxp_products.tsv`."""
    from importlib import resources

    with resources.files("spendprint").joinpath("data", "exio3_pxp_products.tsv").open(
            "r", encoding="utf-8") as f:
        df = pd.read_csv(f, sep="\t", dtype=str, keep_default_na=False)
    return df["name"].tolist()


# ---- template -----------------------------------------------------------------------------------
def concordance_template(ledger_frame: pd.DataFrame) -> pd.DataFrame:
    """A concordance to fill in: one row per ledger category, in order of first appearance.

    Parameters
    ----------
    ledger_frame : DataFrame
        A ledger (`category`; optional `amount`, `currency`, `cpv`).

    Returns
    -------
    DataFrame
        Columns `category`, `sector` (empty: to fill in), `weight` (1.0), `origin_region` (empty)
        and, for the person filling it in, `rows` (ledger rows of the category), `spend` (sum of
        `amount` per currency, e.g. `12000 NOK`) and `cpv` (the distinct CPV codes seen).
        Extra columns are ignored when the file is read as a concordance.
    """
    if "category" not in ledger_frame.columns:
        raise ValidationError("ledger: field 'category': required column is missing")
    df = ledger_frame
    cat = df["category"].astype("string").fillna("").str.strip()
    keep = cat != ""
    cats = list(dict.fromkeys(cat[keep].tolist()))
    out = pd.DataFrame({"category": cats, "sector": "", "weight": 1.0, "origin_region": ""})
    sub = df.loc[keep.to_numpy()]
    key = cat[keep].to_numpy()
    out["rows"] = pd.Series(key).value_counts().reindex(cats).to_numpy()
    if "amount" in df.columns:
        amt = pd.to_numeric(sub["amount"], errors="coerce").fillna(0.0).to_numpy()
        cur = (sub["currency"].astype("string").fillna("").str.upper().to_numpy()
               if "currency" in df.columns else np.full(len(sub), "", dtype=object))
        g = pd.DataFrame({"c": key, "cur": cur, "a": amt}).groupby(["c", "cur"], sort=False)["a"].sum()
        spend: dict[str, list[str]] = {}
        for (c, u), a in g.items():
            spend.setdefault(c, []).append(f"{a:.0f} {u}".strip())
        out["spend"] = ["; ".join(spend.get(c, [])) for c in cats]
    if "cpv" in df.columns:
        codes: dict[str, list[str]] = {}
        for c, v in zip(key, sub["cpv"].to_numpy(dtype=object), strict=True):
            if v is None or (isinstance(v, float) and np.isnan(v)) or not str(v).strip():
                continue
            try:
                v = normalise_cpv(v)
            except ValidationError:
                v = str(v).strip()
            codes.setdefault(c, [])
            if v not in codes[c]:
                codes[c].append(v)
        out["cpv"] = [" ".join(codes.get(c, [])) for c in cats]
    return out


# ---- suggest ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One suggested product for a category."""

    category: str
    rank: int
    sector: str
    score: float
    reason: str
    weight: float = 1.0


def _matched(q: dict[str, str], text: str) -> list[str]:
    """The category's own words (as written) whose stems occur in `text`."""
    hit = set(tokens(text))
    return [w for t, w in q.items() if t in hit]


def suggest(categories: Iterable[str], sectors: Sequence[str] | None = None,
            cpv: Mapping[str, Iterable[object]] | None = None, top: int = 3) -> list[Candidate]:
    """Ranked candidate products for each category, each with a score and the reason.

    Parameters
    ----------
    categories : iterable of str
        Category names as in the ledger (English words match best: the index is English).
    sectors : sequence of str, optional
        The MRIO's product names (default: the 200 EXIOBASE 3 pxp products).
    cpv : mapping, optional
        `{category: [CPV codes]}`; a category's codes rank their products first.
    top : int
        Candidates per category.

    Returns
    -------
    list of Candidate
        `top` candidates per category (fewer when fewer products match at all), best first.
        `weight` is a draft share: the CPV weight for CPV candidates, else 1 for rank 1 and 0
        for the others, so that the draft is a valid concordance once reviewed.
    """
    sectors = tuple(sectors) if sectors is not None else tuple(default_sectors())
    ix = _index(sectors)
    labels = cpv_labels()
    out: list[Candidate] = []
    cats = list(dict.fromkeys(str(c).strip() for c in categories))
    qdocs = [tokens(c) for c in cats]
    Q = _vectors(qdocs, ix.vocab, ix.idf)                       # (n_cat, V)
    name_sim = (Q @ ix.names.T).toarray()                       # (n_cat, n_sectors)
    lab_sim = (Q @ ix.labels.T).toarray()                       # (n_cat, n_labels)
    pair_score = lab_sim[:, ix.pair_code] * ix.pair_w           # (n_cat, n_pairs)
    nsec = len(sectors)
    lab_best = np.zeros((len(cats), nsec))
    nonempty = np.flatnonzero(np.diff(ix.sector_start) > 0)
    if len(nonempty) and pair_score.size:
        starts = ix.sector_start[nonempty]
        lab_best[:, nonempty] = np.maximum.reduceat(pair_score, starts, axis=1)
    for k, cat in enumerate(cats):
        cands: list[Candidate] = []
        qset = {_stem(w): w for w in _words(cat)}
        given = []
        for v in (cpv or {}).get(cat, []):
            try:
                given.append(normalise_cpv(v))
            except ValidationError:
                continue
        seen: set[str] = set()
        if given:
            agg: dict[str, float] = {}
            why: dict[str, list[str]] = {}
            for c in dict.fromkeys(given):
                try:
                    pairs = cpv_to_products(c, sectors)
                except ValidationError:
                    continue
                for s, w in pairs:
                    agg[s] = agg.get(s, 0.0) + w / len(set(given))
                    why.setdefault(s, []).append(f"CPV {c} ({labels.get(c, '?')}, prefix "
                                                 f"{cpv_prefix(c)})")
            for s, w in sorted(agg.items(), key=lambda x: -x[1]):
                cands.append(Candidate(cat, len(cands) + 1, s, 1.0 + w,
                                       "; ".join(why[s]), weight=w))
                seen.add(s)
        lab_score = lab_best[k]
        nm = name_sim[k]
        score = np.maximum(nm, lab_score) + SECOND * np.minimum(nm, lab_score)
        order = np.argsort(-score, kind="stable")
        for j in order:
            if len(cands) >= max(top, len(seen)) or score[j] <= 0:
                break
            s = sectors[j]
            if s in seen:
                continue
            parts = []
            wn = _matched(qset, s)
            if nm[j] > 0 and wn:
                parts.append(f"words in the product name: {', '.join(wn)}")
            if lab_score[j] > 0:
                a, b = ix.sector_start[j], ix.sector_start[j + 1]
                p = a + int(np.argmax(pair_score[k, a:b]))
                i = ix.pair_code[p]
                wl = _matched(qset, ix.label_text[i])
                parts.append(f"words in CPV {ix.label_codes[i]} '{ix.label_text[i]}' "
                             f"(maps here with weight {ix.pair_w[p]:.2g}): {', '.join(wl)}")
            w = 0.0 if cands else 1.0
            cands.append(Candidate(cat, len(cands) + 1, s, float(score[j]), "; ".join(parts), w))
        if not cands:
            cands.append(Candidate(cat, 1, "", 0.0, "no word of the category matches a product "
                                   "name or a CPV label; choose by hand", 1.0))
        out.extend(cands[:max(top, len(seen))])
    return out


def suggestions_frame(cands: Sequence[Candidate]) -> pd.DataFrame:
    """Candidates as a draft concordance: `category, sector, weight, origin_region, rank, score,
    reason, reviewed` (`reviewed` = `no`: [check][spendprint.procurement.assist.check] refuses
    the file until a person sets it to `yes` or deletes the column)."""
    return pd.DataFrame({
        "category": [c.category for c in cands], "sector": [c.sector for c in cands],
        "weight": [round(c.weight, 6) for c in cands], "origin_region": "",
        "rank": [c.rank for c in cands], "score": [round(c.score, 4) for c in cands],
        "reason": [c.reason for c in cands], "reviewed": "no"})


# ---- check --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """What [check][spendprint.procurement.assist.check] found.

    Attributes
    ----------
    problems : list of str
        Every problem, each with file, spreadsheet row and field (empty when the file is fine).
    frame : DataFrame
        The concordance with sector names spelled as in the model where they matched case- and
        whitespace-insensitively.
    notes : list of str
        The names read that way (`row 5: 'chemicals  NEC' read as 'Chemicals nec'`).
    """

    problems: list[str]
    frame: pd.DataFrame
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def did_you_mean(value: str, choices: Sequence[str], n: int = 3) -> list[str]:
    """Up to `n` close spellings of `value` among `choices` (`difflib`, case-folded)."""
    by_fold: dict[str, str] = {}
    for c in choices:
        by_fold.setdefault(fold(c), c)
    keys = list(by_fold)
    v = fold(value)
    hits = difflib.get_close_matches(v, keys, n=n, cutoff=0.6)
    if len(hits) < n:  # a name without the EXIOBASE code suffix, or a partial name
        vt = set(tokens(value))
        if vt:
            scored = sorted(((len(vt & set(tokens(k))) / len(vt), k) for k in keys
                             if k not in hits), reverse=True)
            hits += [k for s, k in scored if s >= 0.6][: n - len(hits)]
    return [by_fold[h] for h in hits]


def _hint(value: str, choices: Sequence[str]) -> str:
    dym = did_you_mean(value, choices)
    return f"; did you mean {' or '.join(repr(d) for d in dym)}?" if dym else ""


def check(concordance_frame: pd.DataFrame, sectors: Sequence[str] | None = None,
          regions: Sequence[str] | None = None, source: str = "concordance",
          categories: Iterable[str] | None = None) -> CheckResult:
    """Every problem of a concordance at once, with did-you-mean.

    Checks: required columns `category`, `sector`, `weight`; no empty category or sector;
    weights numbers `>= 0` that sum to 1 within 1e-6 per category; every sector a product of the
    model (exact, else case- and whitespace-insensitive when that names one product only, else a
    problem with the closest names); `origin_region` (when given and `regions` is) a region of the
    model; with `categories` (the ledger's), every category covered and no unknown one; a
    `reviewed` column (drafts from `suggest`) all `yes`.

    Parameters
    ----------
    concordance_frame : DataFrame
        The table as read (index = spreadsheet row numbers, or a default RangeIndex, numbered
        from row 2).
    sectors : sequence of str, optional
        Product names (default: the EXIOBASE 3 pxp products).
    regions : sequence of str, optional
        Region labels for `origin_region`.
    source : str
        File name used in messages.
    categories : iterable of str, optional
        The ledger's categories.
    """
    from .concordance import WEIGHT_TOL

    sectors = list(sectors) if sectors is not None else default_sectors()
    df = concordance_frame.copy(deep=False)
    if isinstance(df.index, pd.RangeIndex) and df.index.start == 0:
        df.index = pd.RangeIndex(ROW_OFFSET, ROW_OFFSET + len(df), name="row")
    df.columns = [str(c).strip() for c in df.columns]
    problems: list[str] = []
    notes: list[str] = []
    missing = [c for c in ("category", "sector", "weight") if c not in df.columns]
    for c in missing:
        problems.append(f"{source}, field '{c}': required column is missing (columns found: "
                        f"{', '.join(map(str, df.columns))}){_hint(c, ['category', 'sector', 'weight', 'origin_region'])}")
    if missing:
        return CheckResult(problems, df, notes)
    cat = df["category"].astype("string").fillna("").str.strip()
    sec = df["sector"].astype("string").fillna("").str.strip()
    exact = set(sectors)
    folded: dict[str, list[str]] = {}
    for s in sectors:
        folded.setdefault(fold(s), []).append(s)
    fixed = sec.copy()
    for r, c, s in zip(df.index, cat.to_numpy(), sec.to_numpy(), strict=True):
        if not c:
            problems.append(f"{source} row {r}, field 'category': empty category")
        if not s:
            problems.append(f"{source} row {r}, field 'sector': empty sector")
            continue
        if s in exact:
            continue
        hit = folded.get(fold(s), [])
        if len(hit) == 1:
            fixed[r] = hit[0]
            notes.append(f"{source} row {r}: {s!r} read as {hit[0]!r}")
        elif len(hit) > 1:
            problems.append(f"{source} row {r}, field 'sector': {s!r} matches "
                            f"{' and '.join(map(repr, hit))} when case and spaces are ignored; "
                            "write it exactly")
        else:
            problems.append(f"{source} row {r}, field 'sector': {s!r} is not a product of the "
                            f"model{_hint(s, sectors)}")
    raw_w = df["weight"]
    w = pd.to_numeric(raw_w, errors="coerce").astype(np.float64)
    bad = (w.isna() | (w < 0) | ~np.isfinite(w)).to_numpy()
    for r, v in zip(df.index[bad], raw_w.to_numpy()[bad], strict=True):
        shown = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        problems.append(f"{source} row {r}, field 'weight': "
                        + (f"'{shown}' is not a number >= 0" if shown else "missing weight"))
    ok = ~bad & (cat != "").to_numpy()
    sums = w[ok].groupby(cat[ok].to_numpy()).sum()
    rows = pd.Series(df.index[ok], index=df.index[ok]).groupby(cat[ok].to_numpy()).agg(list)
    badcat = set(cat[~ok & (cat != "").to_numpy()])
    for c in dict.fromkeys(cat[ok]):
        if c in badcat:
            continue
        total = float(sums[c])
        if abs(total - 1.0) > WEIGHT_TOL:
            problems.append(f"{source} rows {', '.join(map(str, rows[c]))}, field 'weight': "
                            f"weights of category {c!r} sum to {total:.6g}, not 1")
    if "origin_region" in df.columns and regions is not None:
        from .regions import map_regions

        orig = df["origin_region"].astype("string").fillna("").str.strip()
        mapping = map_regions([v for v in set(orig) if v], list(regions))
        for r, v in zip(df.index, orig.to_numpy(), strict=True):
            if v and mapping.get(v) is None:
                problems.append(f"{source} row {r}, field 'origin_region': {v!r} maps to no region "
                                f"of the model{_hint(v, list(regions))}")
    if "reviewed" in df.columns:
        rv = df["reviewed"].astype("string").fillna("").str.strip().str.lower()
        todo = df.index[~rv.isin(["yes", "y", "true", "1", "ok"]).to_numpy()]
        if len(todo):
            shown = ", ".join(map(str, todo[:10])) + (", ..." if len(todo) > 10 else "")
            problems.append(f"{source} row{'s' if len(todo) > 1 else ''} {shown}, field 'reviewed': "
                            f"{len(todo)} row(s) of a draft from `concordance suggest` not yet "
                            "reviewed (set 'reviewed' to yes, or delete the column, once checked)")
    if categories is not None:
        ledger_cats = list(dict.fromkeys(str(c).strip() for c in categories if str(c).strip()))
        have = set(cat)
        for c in ledger_cats:
            if c not in have:
                problems.append(f"{source}, field 'category': ledger category {c!r} has no row"
                                f"{_hint(c, sorted(have))}")
        known = set(ledger_cats)
        for r, c in zip(df.index, cat.to_numpy(), strict=True):
            if c and c not in known:
                problems.append(f"{source} row {r}, field 'category': {c!r} is not a category of "
                                f"the ledger{_hint(c, ledger_cats)}")
    out = df.copy()
    out["sector"] = fixed.to_numpy(dtype=object)
    return CheckResult(sort_problems(problems), out, notes)


def hit_rate(cands: Sequence[Candidate], truth: pd.DataFrame) -> dict[str, Any]:
    """Top-1 and top-3 hit rates of suggestions against a reference concordance.

    A category's *main* product is its highest-weight row in `truth` (ties: any of them). Top-k
    hit: a main product is among the first k candidates. `any_top1`: the first candidate is any
    product of the category in `truth`.
    """
    t = truth.assign(weight=pd.to_numeric(truth["weight"]))
    main: dict[str, set[str]] = {}
    allp: dict[str, set[str]] = {}
    for c, g in t.groupby("category", sort=False):
        m = g["weight"].max()
        main[c] = set(g.loc[g["weight"] >= m - 1e-12, "sector"])
        allp[c] = set(g["sector"])
    by: dict[str, list[str]] = {}
    for cand in sorted(cands, key=lambda x: (x.category, x.rank)):
        by.setdefault(cand.category, []).append(cand.sector)
    n = len(main)
    top1 = sum(bool(by.get(c)) and by[c][0] in main[c] for c in main)
    top3 = sum(bool(main[c] & set(by.get(c, [])[:3])) for c in main)
    any1 = sum(bool(by.get(c)) and by[c][0] in allp[c] for c in main)
    return {"n": n, "top1": top1 / n, "top3": top3 / n, "any_top1": any1 / n,
            "misses": sorted(c for c in main if not main[c] & set(by.get(c, [])[:3]))}


__all__ = ["Candidate", "CheckResult", "check", "concordance_template", "default_sectors",
           "did_you_mean", "hit_rate", "suggest", "suggestions_frame", "tokens"]
