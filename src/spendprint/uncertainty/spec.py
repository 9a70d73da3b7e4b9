"""The uncertainty specification: what is uncertain, by how much, and how draws are correlated.

An ``Uncertainty()`` built by hand is certain unless its fields say otherwise: every field defaults
to ``None`` (no uncertainty). When the user gives no specification at all, CLI (`spendprint run
--samples N`), Python ([monte_carlo][spendprint.uncertainty.montecarlo.monte_carlo] with
``uncertainty=None``) and the HTTP API (a job without ``uncertainty``) all use
[Uncertainty.default][spendprint.uncertainty.spec.Uncertainty.default], the shipped file
``spendprint/data/uncertainty_default.yaml``:

| parameter | default | source |
|---|---|---|
| A (``a_size_rule``) | RSD 30 % for the smallest transactions ``Z_ij``, falling log-linearly to 5 % for the largest | Lenzen, Wood & Wiedmann (2010), Economic Systems Research 22(1) |
| S (``s_rsd``) | CO2 4 %, CH4 12 %, N2O 33 % (other stressors certain; gases the model lacks are skipped) | Schulte et al. (2024), median country inventory CVs |
| spend (``spend_rsd``) | 5 % per category | booking and price-conversion error (judgement) |
| composition (``dirichlet``) | concentration 100 | judgement: about +-10 % on a share of one half |

A specification that leaves every parameter certain (``is_certain``) gives a zero spread; the
console, the report and the HTTP job status say so.

Distributions
-------------
* ``A``: each nonzero ``a_ij`` is multiplied by a mean-preserving lognormal factor
  ``f = exp(sigma z - sigma^2 / 2)``, ``sigma = sqrt(log(1 + rsd^2))``, so ``E[f] = 1`` and
  ``sd[f] = rsd`` (relative standard deviation, dimensionless). The RSD is a constant, one value
  per region-pair block (``(R, R)`` array: origin region x using region), one value per element
  (``(n, n)`` array), or the size rule of Lenzen, Wood & Wiedmann (2010): larger transactions are
  better known, so the RSD falls from ``rsd_small`` at the smallest element to ``rsd_large`` at the
  largest, linearly in ``log10`` of the element size (``Z_ij = a_ij x_j`` in the money unit by
  default, or ``a_ij``), clamped outside ``size_range``.
* ``S``: the same lognormal factor per nonzero intensity, RSD per stressor, optionally per region
  of the emitting sector. Impacts (e.g. CO2e = C S) are recomputed from the perturbed stressors.
* Spend: each category's total demand gets a lognormal factor with the category's RSD.
* Demand composition: a category's demand column ``y_c`` over (region, sector) is a composition
  ``w_c = y_c / sum(y_c)`` (concordance weights times origin shares). With a Dirichlet
  concentration ``alpha_c`` the composition is redrawn as ``w'_c ~ Dirichlet(alpha_c w_c)`` on the
  nonzeros of ``w_c``: shares stay non-negative and sum to one, ``E[w'] = w`` and
  ``var(w'_i) = w_i (1 - w_i) / (alpha_c + 1)``. Larger ``alpha`` means less uncertainty. The
  category total is kept (or drawn with the spend RSD), so spend and composition are independent.
* Correlation: ``"independent"`` (every element its own draw) or ``"block"`` (one normal per
  region-pair block of A, and one per (stressor, region) of S, shared by all its elements; each
  element keeps its own sigma).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sps

from ..errors import InputFileError, LabelMismatchError, ValidationError

#: Median country-level coefficients of variation of national emission inventories, Schulte et al.
#: (2024), used only when asked for (``Uncertainty.with_literature_s_rsd()`` or
#: ``s_rsd: schulte2024`` in YAML).
SCHULTE_2024_S_RSD: dict[str, float] = {"CO2": 0.04, "CH4": 0.12, "N2O": 0.33}

CORRELATIONS = ("independent", "block")


def rsd_to_sigma(rsd: np.ndarray | float) -> np.ndarray:
    """Log-scale sd of a mean-preserving lognormal with relative sd ``rsd``: ``sqrt(log(1+rsd^2))``."""
    r = np.asarray(rsd, dtype=np.float64)
    return np.sqrt(np.log1p(r * r))


@dataclass(frozen=True)
class Uncertainty:
    """What is uncertain (see the module docstring for the distributions).

    Parameters
    ----------
    a_rsd : float, ndarray (R, R) or (n, n), or None
        RSD of the nonzeros of A: one value, per region-pair block (rows: origin region, columns:
        using region) or per element.
    a_size_rule : (rsd_small, rsd_large) or None
        Lenzen, Wood & Wiedmann (2010) size rule instead of ``a_rsd``.
    a_size_basis : {"Z", "A"}
        Element size for the size rule: transactions ``Z_ij = a_ij x_j`` (money) or ``a_ij``.
    a_size_range : (small, large) or None
        Sizes at which the RSD reaches ``rsd_small`` / ``rsd_large`` (default: the smallest and
        largest nonzero sizes).
    s_rsd : float, "schulte2024", mapping or None
        A number applies to every stressor (as ``a_rsd`` does); ``"schulte2024"`` selects
        [SCHULTE_2024_S_RSD][spendprint.uncertainty.spec.SCHULTE_2024_S_RSD]; or
        ``{stressor: rsd}`` / ``{stressor: {region: rsd, "*": default}}``. Unlisted stressors
        (and regions without a value and no ``"*"``) are certain. Anything else is a
        [ValidationError][spendprint.errors.ValidationError].
    spend_rsd : float, mapping {category: rsd} or None
        RSD of each category's spend (a float applies to every category).
    dirichlet : float, mapping {category: alpha} or None
        Dirichlet concentration of each category's demand composition.
    correlation : {"independent", "block"}
    meta : mapping
        Free notes (``name``, ``source``); ``s_rsd_unknown: ignore`` skips ``s_rsd`` stressors the
        model lacks instead of raising (the default specification sets it, so that it applies to
        models without CH4 or N2O).
    """

    a_rsd: Any = None
    a_size_rule: tuple[float, float] | None = None
    a_size_basis: str = "Z"
    a_size_range: tuple[float, float] | None = None
    s_rsd: Mapping[str, Any] | None = None
    spend_rsd: Any = None
    dirichlet: Any = None
    correlation: str = "independent"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.correlation not in CORRELATIONS:
            raise ValidationError(f"correlation must be one of {CORRELATIONS}, not "
                                  f"{_echo(self.correlation)}")
        if self.a_rsd is not None and self.a_size_rule is not None:
            raise ValidationError("give either a_rsd or a_size_rule for A, not both")
        if self.a_size_basis not in ("Z", "A"):
            raise ValidationError(f"a_size_basis must be 'Z' or 'A', not {_echo(self.a_size_basis)}")
        if self.a_size_rule is not None:
            lo, hi = _pair(self.a_size_rule, "a_size_rule", "(rsd_small, rsd_large)")
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi < 0:
                raise ValidationError(f"a_size_rule RSDs must be finite and >= 0, got {(lo, hi)}")
            object.__setattr__(self, "a_size_rule", (lo, hi))
        if self.a_size_range is not None:
            if self.a_size_rule is None:
                raise ValidationError("a_size_range needs a_size_rule")
            lo, hi = _pair(self.a_size_range, "a_size_range", "(small, large)")
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi <= lo:
                raise ValidationError(f"a_size_range must be two finite sizes 0 < small < large "
                                      f"(the rule is linear in log10 of the size), got {(lo, hi)}")
            object.__setattr__(self, "a_size_range", (lo, hi))
        if self.a_rsd is not None and not isinstance(self.a_rsd, Mapping):
            try:
                arr = np.asarray(self.a_rsd, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"a_rsd must be a number, an array or a mapping with "
                                      f"'default'/'blocks', not {_echo(self.a_rsd)}") from exc
            if not np.all(np.isfinite(arr)) or (arr < 0).any():
                raise ValidationError("a_rsd values must be finite and >= 0")
        for name in ("spend_rsd", "dirichlet"):
            v = getattr(self, name)
            vals = v.values() if isinstance(v, Mapping) else ([] if v is None else [v])
            for x in vals:
                f = _number(x, name)
                if not np.isfinite(f) or f < 0 or (name == "dirichlet" and f == 0):
                    raise ValidationError(f"{name} values must be finite and "
                                          f"{'> 0' if name == 'dirichlet' else '>= 0'}, got {_echo(x)}")
        object.__setattr__(self, "s_rsd", _normalise_s_rsd(self.s_rsd))
        if not isinstance(self.meta, Mapping):
            raise ValidationError(f"meta must be a mapping, not {_echo(self.meta)}")

    # ---- construction ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "uncertainty") -> Uncertainty:
        """Build from a mapping with the field names (as in YAML); unknown keys are an error.

        ``a_rsd`` may be a number, or ``{default: r, blocks: {"CN:NO": r2}}`` (origin:user region)
        which becomes a per-block specification resolved against the model's regions.
        ``s_rsd: schulte2024`` selects `SCHULTE_2024_S_RSD`.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputFileError(source, f"unknown key(s) {unknown}; known: {sorted(known)}")
        kw = dict(d)
        try:
            return cls(**kw)
        except InputFileError:
            raise
        except (TypeError, ValueError) as exc:
            raise InputFileError(source, str(exc)) from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> Uncertainty:
        """Read a YAML file, e.g.::

            a_size_rule: [0.3, 0.05]   # Lenzen et al. (2010): small elements 30 %, large 5 %
            s_rsd: {CO2: 0.04, CH4: {"*": 0.12, IN: 0.3}}
            spend_rsd: 0.05
            dirichlet: 50
            correlation: independent
        """
        from ..io.tabular import read_yaml

        p = Path(path)
        if not p.is_file():
            raise InputFileError(p, "uncertainty file not found")
        d = read_yaml(p) or {}  # region codes such as NO stay strings
        if not isinstance(d, dict):
            raise InputFileError(p, "expected a mapping of uncertainty settings")
        return cls.from_dict(d, source=str(p))

    @classmethod
    def default(cls) -> Uncertainty:
        """The shipped default specification (``spendprint/data/uncertainty_default.yaml``).

        Used whenever no specification is given: `spendprint run --samples N` without
        ``--uncertainty``, ``monte_carlo(..., uncertainty=None)`` and HTTP jobs without an
        ``uncertainty`` field. It perturbs A by the Lenzen et al. (2010) size rule (RSD 30 % for
        the smallest transactions to 5 % for the largest), S by the Schulte et al. (2024) inventory
        RSDs (CO2 4 %, CH4 12 %, N2O 33 %), each category's spend by 5 % and its demand
        composition by a Dirichlet of concentration 100 (see the module docstring).
        """
        from dataclasses import replace

        spec = cls.from_yaml(default_path())
        return replace(spec, meta={"s_rsd_unknown": "ignore", **dict(spec.meta)})

    def with_literature_s_rsd(self) -> Uncertainty:
        """A copy with the Schulte et al. (2024) stressor RSDs (CO2 4 %, CH4 12 %, N2O 33 %)."""
        from dataclasses import replace

        return replace(self, s_rsd={**SCHULTE_2024_S_RSD, **dict(self.s_rsd or {})})

    @property
    def is_empty(self) -> bool:
        """True when nothing is uncertain."""
        return (self.a_rsd is None and self.a_size_rule is None and not self.s_rsd
                and self.spend_rsd is None and self.dirichlet is None)

    @property
    def is_certain(self) -> bool:
        """True when every parameter is certain: nothing specified, or every RSD zero.

        (A Dirichlet concentration is always finite and positive, so a composition draw is never
        certain.) A Monte Carlo run of a certain specification has zero spread;
        [monte_carlo][spendprint.uncertainty.montecarlo.monte_carlo] marks it ``attrs["certain"] = 1``.
        """
        if self.is_empty:
            return True
        if self.dirichlet is not None and not (isinstance(self.dirichlet, Mapping)
                                               and not self.dirichlet):
            return False
        if self.a_size_rule is not None and any(float(v) > 0 for v in self.a_size_rule):
            return False
        a = self.a_rsd
        if isinstance(a, Mapping):
            vals = [a.get("default", 0.0), *dict(a.get("blocks") or {}).values()]
            if any(float(v) > 0 for v in vals):
                return False
        elif a is not None and np.any(np.asarray(a, dtype=np.float64) > 0):
            return False
        for v in (self.s_rsd or {}).values():
            vals = v.values() if isinstance(v, Mapping) else [v]
            if any(float(x) > 0 for x in vals):
                return False
        sp = self.spend_rsd
        vals = sp.values() if isinstance(sp, Mapping) else ([] if sp is None else [sp])
        return not any(float(x) > 0 for x in vals)

    def fingerprint(self) -> str:
        """A hash of the specification (for resuming stored runs)."""
        def enc(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return hashlib.sha256(np.ascontiguousarray(v, dtype=np.float64).tobytes()).hexdigest()
            if isinstance(v, Mapping):
                return {str(k): enc(x) for k, x in sorted(v.items(), key=lambda t: str(t[0]))}
            if isinstance(v, tuple | list):
                return [enc(x) for x in v]
            return v
        blob = json.dumps({f.name: enc(getattr(self, f.name)) for f in fields(self) if f.name != "meta"},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_path() -> Path:
    """Path of the shipped default specification ``spendprint/data/uncertainty_default.yaml``."""
    from importlib import resources

    return Path(str(resources.files("spendprint.data").joinpath("uncertainty_default.yaml")))


def _echo(v: Any, limit: int = 80) -> str:
    """``repr(v)`` cut to ``limit`` characters (errors never echo megabytes back)."""
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + f"... ({len(r)} characters)"


def _number(x: Any, name: str) -> float:
    if isinstance(x, bool):
        raise ValidationError(f"{name} must be a number, not {_echo(x)}")
    try:
        return float(x)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a number, not {_echo(x)}") from exc


def _pair(v: Any, name: str, what: str) -> tuple[float, float]:
    if isinstance(v, str | bytes | Mapping) or not hasattr(v, "__len__") or len(v) != 2:
        raise ValidationError(f"{name} must be two numbers {what}, not {_echo(v)}")
    return _number(v[0], name), _number(v[1], name)


def _normalise_s_rsd(v: Any) -> dict[str, Any] | None:
    """``s_rsd`` as ``{stressor: rsd | {region: rsd}}``; a number applies to every stressor
    (key ``"*"``), the string ``"schulte2024"`` selects [SCHULTE_2024_S_RSD][spendprint.uncertainty.spec.SCHULTE_2024_S_RSD]."""
    if v is None:
        return None
    if isinstance(v, str):
        if v.strip().lower() not in ("schulte2024", "schulte_2024"):
            raise ValidationError(f"unknown s_rsd preset {_echo(v)}; use 'schulte2024', a number "
                                  f"or a mapping {{stressor: rsd}}")
        return dict(SCHULTE_2024_S_RSD)
    if not isinstance(v, Mapping):
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise ValidationError(f"s_rsd must be a number, 'schulte2024' or a mapping "
                                  f"{{stressor: rsd}}, not {_echo(v)}")
        v = {"*": v}
    out: dict[str, Any] = {}
    for st, x in v.items():
        if isinstance(x, Mapping):
            vals = {str(r): _number(y, f"s_rsd[{st!r}]") for r, y in x.items()}
            bad = [y for y in vals.values() if not np.isfinite(y) or y < 0]
        else:
            vals = _number(x, f"s_rsd[{st!r}]")
            bad = [vals] if not np.isfinite(vals) or vals < 0 else []
        if bad:
            raise ValidationError(f"s_rsd for {_echo(st)} must be finite and >= 0, got {_echo(x)}")
        out[str(st)] = vals
    return out


# ---- resolution against a model ---------------------------------------------------------------
def _per_category(value: Any, categories: list[str], name: str) -> np.ndarray:
    m = len(categories)
    if value is None:
        return np.zeros(m)
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - set(categories) - {"*"})
        if unknown:
            raise LabelMismatchError(f"{name} names unknown categories {unknown[:5]}")
        default = float(value.get("*", 0.0))
        return np.array([float(value.get(c, default)) for c in categories])
    return np.full(m, float(value))


def a_rsd_values(spec: Uncertainty, mrio, rows: np.ndarray, cols: np.ndarray,
                 vals: np.ndarray) -> np.ndarray | None:
    """RSD of the given nonzeros ``a[rows, cols] = vals`` of A, or None when A is certain."""
    R, P = len(mrio.regions), len(mrio.sectors)
    n = mrio.n
    if spec.a_size_rule is not None:
        lo_rsd, hi_rsd = (float(v) for v in spec.a_size_rule)
        size = vals * mrio.x[cols] if spec.a_size_basis == "Z" else vals
        pos = size > 0
        lsize = np.log10(np.where(pos, size, 1.0))
        if spec.a_size_range is not None:
            lo, hi = (np.log10(float(v)) for v in spec.a_size_range)
        else:
            lo, hi = (float(lsize[pos].min()), float(lsize[pos].max())) if pos.any() else (0.0, 1.0)
        t = np.clip((lsize - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(lsize)
        return np.where(pos, lo_rsd + (hi_rsd - lo_rsd) * t, lo_rsd)
    a = spec.a_rsd
    if a is None:
        return None
    if isinstance(a, Mapping):
        unknown = sorted(set(a) - {"default", "blocks"})
        if unknown:
            raise ValidationError(f"a_rsd mapping takes keys 'default' and 'blocks', not {unknown}")
        block = np.full((R, R), float(a.get("default", 0.0)))
        ridx = {r: i for i, r in enumerate(mrio.regions)}
        for key, v in dict(a.get("blocks") or {}).items():
            o, _, u = str(key).partition(":")
            if o not in ridx or u not in ridx:
                raise LabelMismatchError(f"a_rsd block {key!r}: expected 'ORIGIN:USER' region codes "
                                         f"of this model ({list(mrio.regions)[:10]} ...)")
            block[ridx[o], ridx[u]] = float(v)
        a = block
    arr = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise ValidationError("a_rsd values must be finite and >= 0")
    if arr.ndim == 0:
        return np.full(vals.shape, float(arr))
    if arr.shape == (R, R):
        return arr[rows // P, cols // P]
    if arr.shape == (n, n):
        return arr[rows, cols]
    raise LabelMismatchError(f"a_rsd has shape {arr.shape}; expected a number, ({R}, {R}) blocks "
                             f"or ({n}, {n}) elements")


def s_rsd_matrix(spec: Uncertainty, mrio) -> np.ndarray | None:
    """RSD of S (k x n, base stressors), or None when S is certain."""
    if not spec.s_rsd:
        return None
    R, P = len(mrio.regions), len(mrio.sectors)
    out = np.zeros((len(mrio.stressors), mrio.n))
    lookup = {s: i for i, s in enumerate(mrio.stressors)}
    spec_s = dict(spec.s_rsd)
    if "*" in spec_s:  # a number for every stressor; named ones override it
        default = spec_s.pop("*")
        spec_s = {**{s: default for s in mrio.stressors}, **spec_s}
    unknown = sorted(set(spec_s) - set(lookup))
    if unknown and str(spec.meta.get("s_rsd_unknown", "error")) == "ignore":
        spec_s = {k: v for k, v in spec_s.items() if k in lookup}
        unknown = []
        if not spec_s:
            return None
    if unknown:
        raise LabelMismatchError(f"s_rsd names stressors {unknown} that the model lacks; it has "
                                 f"{list(mrio.stressors)[:10]} (impacts such as CO2e follow from "
                                 f"their stressors)")
    for st, v in spec_s.items():
        if isinstance(v, Mapping):
            bad = sorted(set(map(str, v)) - set(mrio.regions) - {"*"})
            if bad:
                raise LabelMismatchError(f"s_rsd[{st!r}] names unknown regions {bad[:5]}")
            default = float(v.get("*", 0.0))
            per_region = np.array([float(v.get(r, default)) for r in mrio.regions])
        else:
            per_region = np.full(R, float(v))
        out[lookup[st]] = np.repeat(per_region, P)
    return out


def dense_or_sparse_nonzeros(A) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, values) of the nonzeros of A in row-major order."""
    if sps.issparse(A):
        coo = sps.csr_array(A)
        coo.sum_duplicates()
        coo.eliminate_zeros()
        c = coo.tocoo()
        return c.row.astype(np.int64), c.col.astype(np.int64), c.data
    r, c = np.nonzero(A)
    return r.astype(np.int64), c.astype(np.int64), np.asarray(A)[r, c]


def per_category_values(spec: Uncertainty, categories: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(spend RSD, Dirichlet alpha) per category; zeros mean certain."""
    return (_per_category(spec.spend_rsd, categories, "spend_rsd"),
            _per_category(spec.dirichlet, categories, "dirichlet"))
