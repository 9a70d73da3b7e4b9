"""Exact batched scenario footprints: demand, intensity and technology levers without refactorising.

Symbols: ``L = (I - A)^-1``, base stressor multipliers ``M = S L`` (k x n), demand ``Y`` (n x m).
A scenario changes ``Y -> Y'``, ``S -> S' = S + dS`` and ``A -> A' = A + dA`` (`sets` module).

* Demand levers: ``F = M Y'`` (one product per scenario, no solve).
* S levers: ``S' L = M + dS L``; ``dS L`` needs one adjoint solve per changed stressor row.
* A levers of low rank: ``dA = U V^T`` with ``U`` the changed columns (``V`` unit vectors) or
  ``V^T`` the changed rows (``U`` unit vectors), whichever is fewer (k). Sherman-Morrison-Woodbury
  on the baseline factorisation,

  ``(I - A')^-1 = L + (L U) W^-1 (V^T L)``, ``W = I_k - V^T (L U)``,

  gives ``F = N Y' + (N U) W^-1 (L^T V)^T Y'`` with ``N = S' L``: k forward and k adjoint solves
  per scenario, batched over every scenario of a chunk into one call each.
* A levers of higher rank (more than ``max_rank`` changed rows and columns, e.g. an input shift
  in every column and from every region): preconditioned Richardson iteration on the adjoint
  system ``(I - A')^T N'^T = S'^T`` with the baseline LU as preconditioner, warm-started from
  ``N^T``, until the relative residual is below ``tol``; a direct factorisation of ``I - A'`` if
  it does not converge in ``max_iter`` steps.
* Intensity levers (per category, as in `spendprint.procurement.scenarios`): ``F -= S' (d * X')``
  with ``X' = (I - A')^-1 Y'`` (m forward solves for such scenarios).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import xarray as xr
from threadpoolctl import threadpool_limits

from ..core.leontief import LeontiefSolver, choose_method
from ..errors import ValidationError
from ..io.atomic import write_bytes_atomic
from .sets import DEFAULTS, ScenarioSet

MAX_RANK = 200
TOL = 1e-9


# ---- compiled scenarios -------------------------------------------------------------------------
@dataclass
class Compiled:
    """One scenario's levers resolved to indices (independent of the sampled A, S, y)."""

    name: str
    demand: list[tuple] = field(default_factory=list)      # (kind, cats, ps, target, val)
    s_ops: list[tuple] = field(default_factory=list)       # (stressor rows, cols, factor)
    cuts: list[tuple] = field(default_factory=list)        # (stressor rows, cats, ps, val)
    a_ops: list[tuple] = field(default_factory=list)       # (kind, ...)


def _compile(ss: ScenarioSet, regions: Sequence[str], sectors: Sequence[str],
             stressors: Sequence[str], categories: Sequence[str],
             origin_shares: np.ndarray | None = None) -> list[Compiled]:
    R, P = len(regions), len(sectors)
    rpos = {r: i for i, r in enumerate(regions)}
    spos = {s: i for i, s in enumerate(sectors)}
    cpos = {str(c): i for i, c in enumerate(categories)}
    m = len(categories)

    def rs(region: str, sector: str) -> np.ndarray:
        rr = np.arange(R) if not region else np.array([rpos[region]])
        pp = np.arange(P) if not sector else np.array([spos[sector]])
        return (rr[:, None] * P + pp[None, :]).ravel()

    out = []
    table = ss.table[ss.table["lever"] != ""]
    by_name = {k: g for k, g in table.groupby("scenario", sort=False)}
    empty = table.iloc[:0]
    for name in ss.names:
        c = Compiled(name)
        mixes: dict[tuple, list[tuple[int, float]]] = {}
        for rec in by_name.get(name, empty).itertuples(index=False):
            val = float(rec.value) if rec.value else DEFAULTS.get(rec.lever, 0.0)
            cats = np.arange(m) if rec.category in ("", "*") else np.array([cpos[rec.category]])
            ps = np.arange(P) if not rec.sector else np.array([spos[rec.sector]])
            srows = (np.arange(len(stressors)) if not rec.stressor
                     else np.array([list(stressors).index(rec.stressor)]))
            lv = rec.lever
            if lv == "volume":
                c.demand.append(("volume", cats, ps, None, val))
            elif lv == "origin":
                c.demand.append(("origin", cats, ps, rpos[rec.region], val))
            elif lv == "substitute":
                reg = rec.to_region or rec.region
                t = spos[rec.to_sector]
                sh = None if reg or origin_shares is None else np.asarray(origin_shares)[:, t]
                c.demand.append(("substitute", cats, ps, (t, rpos[reg] if reg else None, sh), val))
            elif lv == "intensity":
                c.cuts.append((srows, cats, ps, val))
            elif lv == "stressor":
                c.s_ops.append((srows, rs(rec.region, rec.sector), 1.0 + val))
            elif lv == "technology":
                c.a_ops.append(("technology", rs(rec.region, rec.sector),
                                rs(rec.from_region, rec.from_sector), val))
            elif lv == "input_shift":
                frm = rs(rec.from_region, rec.from_sector)
                if rec.to_region:
                    to = np.full(frm.size, rpos[rec.to_region] * P + spos[rec.to_sector])
                else:
                    to = (frm // P) * P + spos[rec.to_sector]
                c.a_ops.append(("input_shift", rs(rec.region, rec.sector), frm, to, val))
            elif lv == "mix":
                key = (rec.region, rec.sector, rec.from_region)
                mixes.setdefault(key, []).append((spos[rec.from_sector], val))
        for (region, sector, from_region), items in mixes.items():
            secs = np.array([s for s, _ in items])
            shares = np.array([v for _, v in items])
            regs = [rpos[from_region]] if from_region else range(R)
            groups = [r * P + secs for r in regs]
            c.a_ops.append(("mix", rs(region, sector), groups, shares))
        out.append(c)
    return out


def _apply_demand(c: Compiled, Y: np.ndarray, R: int, P: int) -> np.ndarray:
    """Scenario demand (n, m) from a demand (n, m): linear in Y."""
    if not c.demand:
        return Y
    y = Y.reshape(R, P, -1).copy()
    allr = np.arange(R)
    for kind, cats, ps, target, val in c.demand:
        if kind == "volume":
            y[:, :, cats] *= 1.0 + val
        elif kind == "origin":
            block = y[np.ix_(allr, ps, cats)]
            moved = val * block.sum(axis=0)
            block *= 1.0 - val
            block[target] += moved
            y[np.ix_(allr, ps, cats)] = block
        else:  # substitute
            t, reg, shares = target
            ps = ps[ps != t]
            block = y[np.ix_(allr, ps, cats)]
            y[np.ix_(allr, ps, cats)] = block * (1.0 - val)
            if shares is not None:  # the given origin shares of the new product
                y[:, t, cats] += shares[:, None] * (val * block.sum(axis=(0, 1)))[None, :]
            elif reg is None:       # same origins as the replaced demand
                y[:, t, cats] += val * block.sum(axis=1)
            else:
                y[reg, t, cats] += val * block.sum(axis=(0, 1))
    return y.reshape(R * P, -1)


def _S_factor(c: Compiled, k: int, n: int) -> np.ndarray | None:
    if not c.s_ops:
        return None
    f = np.ones((k, n))
    for rows, cols, fac in c.s_ops:
        f[np.ix_(rows, cols)] *= fac
    return f


def _delta_A(c: Compiled, Acsr: sps.csr_array, Acsc: sps.csc_array) -> sps.csc_array | None:
    """``dA = A' - A`` (sparse) of the scenario's A levers, each acting on the given A."""
    if not c.a_ops:
        return None
    n = Acsr.shape[0]
    rows, cols, vals = [], [], []
    for op in c.a_ops:
        kind, J = op[0], op[1]
        jmask = np.zeros(n, dtype=bool)
        jmask[J] = True
        if kind == "technology":
            imask = np.zeros(n, dtype=bool)
            imask[op[2]] = True
            sub = Acsc[:, J].tocoo()
            keep = imask[sub.row]
            rows.append(sub.row[keep])
            cols.append(J[sub.col[keep]])
            vals.append(op[3] * sub.data[keep])
        elif kind == "input_shift":
            frm, to, v = op[2], op[3], op[4]
            sub = Acsr[frm].tocoo()
            keep = jmask[sub.col] & (frm[sub.row] != to[sub.row])
            r, cc, d = sub.row[keep], sub.col[keep], sub.data[keep]
            rows += [frm[r], to[r]]
            cols += [cc, cc]
            vals += [-v * d, v * d]
        else:  # mix
            groups, shares = op[2], op[3]
            for g in groups:
                block = Acsr[g][:, J].toarray()             # (|g|, |J|)
                new = shares[:, None] * block.sum(axis=0)[None, :]
                d = new - block
                r, cc = np.nonzero(d)
                rows.append(g[r])
                cols.append(J[cc])
                vals.append(d[r, cc])
    if not rows:
        return None
    dA = sps.csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(n, n))
    dA.sum_duplicates()
    dA.eliminate_zeros()
    return dA if dA.nnz else None


# ---- one chunk of scenarios for one (A, S, Y) ---------------------------------------------------
@dataclass
class _Plan:
    y: np.ndarray
    Sp: np.ndarray
    ds_rows: np.ndarray
    kind: str                        # "none", "woodbury", "iterate"
    U: Any = None                    # (n, k) dense
    Vt: Any = None                   # (k, n) sparse
    dA: Any = None
    cuts: list = field(default_factory=list)


def _richardson(apply_T: Callable, precond: Callable, B: np.ndarray, X: np.ndarray, tol: float,
                max_iter: int) -> tuple[np.ndarray, int, float]:
    """Solve ``X - T X = B`` by ``X += P^-1 (B - X + T X)`` from X; (X, steps, rel. residual).

    The residual is relative per column (max-norm), so a small stressor's column converges as
    tightly as a large one's.
    """
    bnorm = np.maximum(np.abs(B).max(axis=0), np.finfo(float).tiny)
    rel = np.inf
    for it in range(max_iter + 1):
        Rz = B - X + apply_T(X)
        rel = float((np.abs(Rz).max(axis=0) / bnorm).max())
        if rel <= tol:
            return X, it, rel
        X = X + precond(Rz)
    return X, max_iter, rel


def _sparse_pair(A) -> tuple[sps.csr_array, sps.csc_array]:
    Acsr = sps.csr_array(A)
    return Acsr, sps.csc_array(Acsr)


def solve_chunk(A, S: np.ndarray, Y: np.ndarray, solver, M: np.ndarray,
                compiled: Sequence[Compiled], R: int, P: int, *, max_rank: int = MAX_RANK,
                tol: float = TOL, max_iter: int = 200, sparse_A: tuple | None = None,
                ) -> tuple[np.ndarray, list[str]]:
    """Base-stressor footprints (N, k, m) of the compiled scenarios, and the method of each.

    ``sparse_A``: A as (CSR, CSC), when the caller has it already (one conversion per run).
    """
    Acsr, Acsc = sparse_A if sparse_A is not None else _sparse_pair(A)
    n = Acsr.shape[0]
    k = S.shape[0]
    plans: list[_Plan] = []
    for c in compiled:
        y = _apply_demand(c, Y, R, P)
        fac = _S_factor(c, k, n)
        Sp = S if fac is None else S * fac
        ds_rows = (np.zeros(0, dtype=int) if fac is None
                   else np.flatnonzero(np.any(Sp != S, axis=1)))
        dA = _delta_A(c, Acsr, Acsc)
        cuts = c.cuts
        if dA is None:
            plans.append(_Plan(y, Sp, ds_rows, "none", cuts=cuts))
            continue
        rnz = np.unique(dA.tocoo().row)
        cnz = np.unique(dA.tocoo().col)
        if min(rnz.size, cnz.size) > max_rank:
            plans.append(_Plan(y, Sp, ds_rows, "iterate", dA=dA, cuts=cuts))
        elif cnz.size <= rnz.size:   # changed columns: U = dA[:, cols], V = unit vectors
            U = dA[:, cnz].toarray()
            Vt = sps.csr_array((np.ones(cnz.size), (np.arange(cnz.size), cnz)), shape=(cnz.size, n))
            plans.append(_Plan(y, Sp, ds_rows, "woodbury", U=U, Vt=Vt, dA=dA, cuts=cuts))
        else:                        # changed rows: U = unit vectors, V^T = dA[rows, :]
            U = np.zeros((n, rnz.size))
            U[rnz, np.arange(rnz.size)] = 1.0
            Vt = sps.csr_array(dA)[rnz]
            plans.append(_Plan(y, Sp, ds_rows, "woodbury", U=U, Vt=Vt, dA=dA, cuts=cuts))
    # batched solves: L U, L^T V and L^T dS^T for every scenario of the chunk at once
    wb = [p for p in plans if p.kind == "woodbury"]
    LU_all = solver.solve(np.hstack([p.U for p in wb])) if wb else None
    PT_all = solver.solve_transpose(np.hstack([p.Vt.T.toarray() for p in wb])) if wb else None
    dss = [p for p in plans if p.ds_rows.size]
    DSL_all = (solver.solve_transpose(np.hstack([(p.Sp - S)[p.ds_rows].T for p in dss]))
               if dss else None)
    out = np.empty((len(plans), k, Y.shape[1]))
    methods: list[str] = []
    # the per-scenario products are small: threaded BLAS only costs (thread wake-ups per call)
    with threadpool_limits(limits=1):
        _finish(plans, compiled, out, methods, M, solver, LU_all, PT_all, DSL_all, Acsr, n, R, P,
                tol, max_iter)
    return out, methods


def _finish(plans, compiled, out, methods, M, solver, LU_all, PT_all, DSL_all, Acsr, n, R, P,
            tol, max_iter) -> None:
    o_w = o_s = 0
    for i, p in enumerate(plans):
        N = M
        if p.ds_rows.size:
            N = M.copy()
            N[p.ds_rows] += DSL_all[:, o_s:o_s + p.ds_rows.size].T
            o_s += p.ds_rows.size
        F = N @ p.y
        X = None
        if p.kind == "woodbury":
            kk = p.U.shape[1]
            LUs = LU_all[:, o_w:o_w + kk]
            PTs = PT_all[:, o_w:o_w + kk]
            o_w += kk
            W = np.eye(kk) - p.Vt @ LUs
            try:
                G = sla.solve(W, PTs.T @ p.y)
            except sla.LinAlgError as e:
                raise ValidationError(f"scenario {compiled[i].name!r}: the changed (I - A) is "
                                      "singular (the technology levers make the economy "
                                      "unproductive)") from e
            F = F + (N @ p.U) @ G
            methods.append("woodbury")
            if p.cuts:
                X0 = solver.solve(p.y)
                X = X0 + LUs @ sla.solve(W, p.Vt @ X0)
        elif p.kind == "iterate":
            Ap = Acsr + sps.csr_array(p.dA)
            ApT = sps.csr_array(Ap.T)
            Lam, steps, rel = _richardson(ApT.__matmul__, solver.solve_transpose,
                                          p.Sp.T.copy(), N.T.copy(), tol * 1e-3, max_iter)
            if rel > tol * 1e-3:
                Lam = spla.splu(sps.csc_array(sps.eye_array(n) - Ap)).solve(
                    np.asfortranarray(p.Sp.T), trans="T")
                methods.append("direct")
            else:
                methods.append(f"iterate({steps})")
            F = Lam.T @ p.y
            if p.cuts:
                X0 = solver.solve(p.y)
                X, _, rel = _richardson(Ap.__matmul__, solver.solve, p.y, X0, tol * 1e-3,
                                        max_iter)
                if rel > tol * 1e-3:
                    X = spla.splu(sps.csc_array(sps.eye_array(n) - Ap)).solve(p.y)
        else:
            methods.append("demand" if not p.ds_rows.size else "demand+S")
            if p.cuts:
                X = solver.solve(p.y)
        if p.cuts:
            F = F - _cut_correction(p, X, R, P)
        out[i] = F


def _cut_correction(p: _Plan, X: np.ndarray, R: int, P: int) -> np.ndarray:
    """``S' (d * X')`` per stressor for the intensity levers (d: supplying sectors, per category)."""
    k, n = p.Sp.shape
    m = p.y.shape[1]
    d = np.zeros((k, n, m))
    for srows, cats, ps, val in p.cuts:
        mask = np.zeros((P, m), dtype=bool)
        mask[np.ix_(ps, cats)] = True
        full = np.broadcast_to(mask[None], (R, P, m)).reshape(n, m)
        d[srows] += val * full[None]
    d = np.minimum(d, 1.0) * (p.y > 0)[None]
    return np.einsum("kn,knm,nm->km", p.Sp, d, X)


# ---- the Zarr store -----------------------------------------------------------------------------
class _ChunkStore:
    """Zarr group of arrays written chunk by chunk along their first axis, with a done marker
    per chunk (written atomically after the chunk's arrays) and the run's fingerprint, so that a
    rerun of the same run reads the finished chunks and another run is refused."""

    def __init__(self, path: str | os.PathLike, fingerprint: str,
                 arrays: dict[str, tuple[int, ...]], chunk: int) -> None:
        import zarr

        self.path = Path(path)
        self.done_dir = self.path / "_done"
        self.names = list(arrays)
        fresh = True
        if (self.path / "zarr.json").is_file():
            self.group = zarr.open_group(str(self.path), mode="a")
            old = self.group.attrs.get("fingerprint")
            if old == fingerprint:
                fresh = False
            elif old is not None or any(self.done_dir.glob("*")):
                raise ValidationError(f"scenario store {self.path} holds a different run (model, "
                                      "demand, scenarios, uncertainty, seed or chunk size "
                                      "differ); use a new path")
        if fresh:
            self.path.mkdir(parents=True, exist_ok=True)
            self.group = zarr.open_group(str(self.path), mode="w")
            for name, shape in arrays.items():
                self.group.create_array(name, shape=shape, chunks=(chunk, *shape[1:]),
                                        dtype="float64", fill_value=np.nan)
            self.group.attrs["fingerprint"] = fingerprint
        self.done_dir.mkdir(exist_ok=True)

    def is_done(self, i: int) -> bool:
        return (self.done_dir / str(i)).is_file()

    def _write(self, i: int, start: int, stop: int, parts: list[np.ndarray], info) -> None:
        for name, arr in zip(self.names, parts, strict=True):
            self.group[name][start:stop] = arr
        write_bytes_atomic(self.done_dir / str(i), json.dumps(info).encode())

    def _read(self, i: int, start: int, stop: int):
        return ([self.group[name][start:stop] for name in self.names],
                json.loads((self.done_dir / str(i)).read_text()))


class ScenarioStore(_ChunkStore):
    """``footprint`` (scenario, stressor, category) of a deterministic run, by scenario chunks."""

    def __init__(self, path, fingerprint: str, shape: tuple[int, int, int], chunk: int) -> None:
        super().__init__(path, fingerprint, {"footprint": shape}, chunk)

    def write(self, i: int, start: int, stop: int, F: np.ndarray, methods: list[str]) -> None:
        self._write(i, start, stop, [F], methods)

    def read(self, i: int, start: int, stop: int) -> tuple[np.ndarray, list[str]]:
        (F,), methods = self._read(i, start, stop)
        return F, methods


class SampleStore(_ChunkStore):
    """``footprint`` (sample, scenario, stressor, category) and ``baseline`` (sample, stressor,
    category) of a sampled run, by sample chunks."""

    def __init__(self, path, fingerprint: str, shape: tuple[int, int, int, int],
                 chunk: int) -> None:
        super().__init__(path, fingerprint,
                         {"footprint": shape, "baseline": (shape[0], *shape[2:])}, chunk)

    def write(self, i: int, a: int, b: int, F: np.ndarray, base: np.ndarray, fb: int) -> None:
        self._write(i, a, b, [F, base], {"fallbacks": int(fb)})

    def read(self, i: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray, int]:
        (F, base), info = self._read(i, a, b)
        return F, base, int(info["fallbacks"])


# ---- the baseline factorisation ----------------------------------------------------------------
_BASELINE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def baseline_solver(mrio) -> LeontiefSolver:
    """An LU factorisation of the model's ``I - A`` (the model's own solver when it is one).

    Woodbury needs 2k solves per scenario, thousands of right-hand sides per chunk: the LU's
    triangular solves serve them in one LAPACK call each, whatever iterative solver the model
    chose for its own few right-hand sides. Factorised once per model (float64: with thousands
    of right-hand sides the refinement steps of a float32 LU would cost more than the
    factorisation saves) and kept with it.
    """
    own = mrio.__dict__.get("solver")
    if own is not None and getattr(own, "method", "") in ("dense", "sparse"):
        return own
    s = _BASELINE.get(mrio)
    if s is None:
        s = _BASELINE[mrio] = LeontiefSolver(mrio.A, method=choose_method(mrio.A),
                                             precision="double")
    return s


# ---- workers ------------------------------------------------------------------------------------
_SOLVERS: dict[str, LeontiefSolver] = {}
_LOCK = threading.Lock()


def _worker_solver(token: str, A) -> LeontiefSolver:
    with _LOCK:
        s = _SOLVERS.get(token)
        if s is None:
            _SOLVERS.clear()
            s = _SOLVERS[token] = LeontiefSolver(A, method=choose_method(A), precision="double")
        return s


def _chunk_task(token, A, S, Y, M, compiled, R, P, max_rank, tol):
    solver = _worker_solver(token, A)
    return solve_chunk(A, S, Y, solver, M, compiled, R, P, max_rank=max_rank, tol=tol)


def _hash(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if sps.issparse(a):
            a = sps.csr_array(a)
            for part in (a.indptr, a.indices, a.data):
                h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(a, str):
            h.update(a.encode())
        else:
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:32]


# ---- public entry point -------------------------------------------------------------------------
def _demand(mrio, y) -> tuple[np.ndarray, list[str], str]:
    n = mrio.n
    if isinstance(y, xr.DataArray):
        extra = [d for d in y.dims if d not in ("region", "sector")]
        if len(extra) > 1:
            raise ValidationError(f"demand has dims {y.dims}; expected region, sector and one more")
        dim = extra[0] if extra else "category"
        yy = y.transpose("region", "sector", *extra) if "region" in y.dims else y
        arr = np.asarray(yy.values, dtype=np.float64).reshape(n, -1)
        cats = [str(c) for c in y[dim].values] if extra else ["total"]
        return arr, cats, dim
    arr = np.asarray(y, dtype=np.float64)
    if arr.shape[0] != n:
        raise ValidationError(f"demand has {arr.shape[0]} rows; the MRIO has {n} sectors")
    arr = arr.reshape(n, -1)
    return arr, [f"c{i}" for i in range(arr.shape[1])], "category"


def scenario_footprints(mrio, y, scenarios, stressors: str | Sequence[str] | None = None,
                        samples: int = 0, uncertainty=None, seed: int = 0, client: Any = None,
                        store: str | os.PathLike | None = None, *, chunk_size: int = 256,
                        max_rank: int = MAX_RANK, tol: float = TOL,
                        progress: Callable[[int, int], None] | None = None,
                        origin_shares: np.ndarray | None = None,
                        sample_chunk: int = 16) -> xr.Dataset:
    """Footprints of every scenario, stressor and category, exact without refactorising.

    Parameters
    ----------
    mrio : MRIO
    y : DataArray (region, sector, category) or ndarray (n,) / (n, m)
        Baseline demand in the model's money unit.
    scenarios : ScenarioSet, path, DataFrame or records
        The levers (see `spendprint.scenarios.sets`); checked against model and demand before
        anything is solved (`LedgerError` with every problem, file and row).
    stressors : names, optional
        Indicators (stressors and impacts); default all.
    samples : int
        Monte Carlo samples (0: deterministic). Each sample s perturbs A, S and y exactly as
        sample s of `spendprint.uncertainty.monte_carlo` (same seed, same streams), and the
        levers act on the perturbed baseline (common random numbers).
    uncertainty : Uncertainty, optional
        As for `monte_carlo` (``None``: the shipped default).
    seed : int
    client : None, "sync" or distributed.Client
        Chunks of scenarios (deterministic runs) or of samples (``samples > 0``) as dask tasks
        on the client's workers.
    store : path, optional
        Zarr group written chunk by chunk (chunks of scenarios, or with ``samples`` chunks of
        samples); a second call with the same store and inputs reads the finished chunks and
        solves only the rest.
    chunk_size : int
        Scenarios per chunk (task, Zarr chunk, batched solve) of a deterministic run.
    sample_chunk : int
        Samples per chunk (task, Zarr chunk) with ``samples``; the results do not depend on it.
    max_rank : int
        A changes of higher rank are solved by the preconditioned iteration.
    tol : float
        Relative accuracy target (the iteration runs to ``tol / 1000`` residual).
    progress : callable(done, total), optional
        Called after each finished chunk.
    origin_shares : ndarray (region, sector), optional
        Where a ``substitute`` lever without a region buys the new product (each column sums to
        1; `run_scenarios` passes the buyer's import shares). Default: the substitute keeps the
        origins of the demand it replaces.

    Returns
    -------
    xarray.Dataset
        ``footprint`` (scenario, stressor, category), ``baseline`` (stressor, category) and
        ``change`` = footprint - baseline; coordinate ``method`` per scenario (demand, woodbury,
        iterate(steps), direct). With ``samples``: ``footprint`` (sample, scenario, stressor,
        category), ``baseline`` (sample, stressor, category), ``change`` and ``p_lower``
        (scenario, stressor, category): the share of samples in which the scenario's footprint
        is below the baseline's.
    """
    from ..uncertainty.sampler import selection_matrix

    Y, cats, cat_dim = _demand(mrio, y)
    if not isinstance(scenarios, ScenarioSet):
        scenarios = (ScenarioSet.read(scenarios) if isinstance(scenarios, (str, os.PathLike))
                     else ScenarioSet(scenarios))
    scenarios.check(mrio, cats)
    if stressors is None:
        names = list(mrio.indicators)
    else:
        names = [stressors] if isinstance(stressors, str) else list(stressors)
        mrio.indicator_positions(names)
    C_sel = selection_matrix(mrio, names)
    R, P = len(mrio.regions), len(mrio.sectors)
    compiled = _compile(scenarios, mrio.regions, mrio.sectors, mrio.stressors, cats,
                        origin_shares)
    S = np.asarray(mrio.S, dtype=np.float64)
    if samples:
        return _sampled(mrio, y, Y, cats, cat_dim, names, C_sel, compiled, scenarios, int(samples),
                        uncertainty, int(seed), max_rank, tol, client=client, store=store,
                        sample_chunk=sample_chunk, progress=progress)
    solver = baseline_solver(mrio)
    M = solver.solve_transpose(np.ascontiguousarray(S.T)).T
    base = C_sel @ (M @ Y)
    Nsc = len(compiled)
    bounds = [(a, min(a + chunk_size, Nsc)) for a in range(0, Nsc, chunk_size)]
    F = np.empty((Nsc, len(names), len(cats)))
    methods: list[str] = [""] * Nsc
    st = None
    if store is not None:
        fp = _hash(mrio.A, S, Y, scenarios.table.drop(columns="where").to_json(),
                   json.dumps([names, chunk_size, max_rank, tol]))
        st = ScenarioStore(store, fp, F.shape, chunk_size)

    def accept(i: int, Fb: np.ndarray, mb: list[str]) -> None:
        a, b = bounds[i]
        Fo = np.einsum("qk,skm->sqm", C_sel, Fb)
        F[a:b] = Fo
        methods[a:b] = mb
        if st is not None:
            st.write(i, a, b, Fo, mb)

    todo = []
    for i, (a, b) in enumerate(bounds):
        if st is not None and st.is_done(i):
            F[a:b], methods[a:b] = st.read(i, a, b)
        else:
            todo.append(i)
    done = len(bounds) - len(todo)
    if client is None or client == "sync" or not todo:
        pair = _sparse_pair(mrio.A) if todo else None
        for i in todo:
            a, b = bounds[i]
            Fb, mb = solve_chunk(mrio.A, S, Y, solver, M, compiled[a:b], R, P,
                                 max_rank=max_rank, tol=tol, sparse_A=pair)
            accept(i, Fb, mb)
            done += 1
            if progress:
                progress(done, len(bounds))
    else:
        from distributed import as_completed

        token = _hash(mrio.A)
        A_f, S_f, Y_f, M_f = client.scatter([mrio.A, S, Y, M], broadcast=True)
        futs = {client.submit(_chunk_task, token, A_f, S_f, Y_f, M_f,
                              compiled[bounds[i][0]:bounds[i][1]], R, P, max_rank, tol,
                              pure=False): i for i in todo}
        for fut in as_completed(futs):
            Fb, mb = fut.result()
            accept(futs[fut], Fb, mb)
            done += 1
            if progress:
                progress(done, len(bounds))
    units = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
    sc = scenarios.names
    return xr.Dataset(
        {"footprint": (("scenario", "stressor", cat_dim), F),
         "baseline": (("stressor", cat_dim), base),
         "change": (("scenario", "stressor", cat_dim), F - base[None])},
        coords={"scenario": sc, "stressor": names, cat_dim: cats,
                "unit": ("stressor", [units[s] for s in names]),
                "method": ("scenario", methods)},
        attrs={"money_unit": mrio.meta.get("money_unit", ""), "tol": tol,
               "engine": "Sherman-Morrison-Woodbury on the baseline LU; preconditioned "
                         "Richardson for high-rank A changes"},
    )


class _SampleSolver:
    """Solves with ``I - A_s`` of one Monte Carlo sample: the Monte Carlo's preconditioned
    iteration (baseline LU, Anderson acceleration, refactorisation fallback), primal and adjoint,
    with the sample's perturbed values; the interface of `LeontiefSolver` used by `solve_chunk`."""

    def __init__(self, primal, vals_p, adjoint, vals_a) -> None:
        self.primal, self.vals_p, self.adjoint, self.vals_a = primal, vals_p, adjoint, vals_a
        self.fallbacks = 0

    def _run(self, system, vals, B: np.ndarray) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        vec = B.ndim == 1
        B2 = B[:, None] if vec else B
        if not B2.shape[1]:
            return B2.copy()
        X, info = system.solve(vals, np.ascontiguousarray(B2.T)[None])
        self.fallbacks += int(info.fallback.sum())
        X = np.ascontiguousarray(X[0].T)
        return X[:, 0] if vec else X

    def solve(self, B: np.ndarray) -> np.ndarray:
        return self._run(self.primal, self.vals_p, B)

    def solve_transpose(self, B: np.ndarray) -> np.ndarray:
        return self._run(self.adjoint, self.vals_a, B)


def _sample_values(p, seed: int, s: int, buf: np.ndarray) -> np.ndarray:
    """The perturbed values of A for sample s in the storage of ``p.system`` (shape (1, nnz))."""
    from .. import kernels as K
    from ..kernels import random as KR

    sys = p.system
    if not p.a_uncertain:
        return sys.unperturbed()
    keys = np.array([K.stream_key(seed, KR.DOMAIN_A, s)], dtype=np.uint64)
    if p.block:
        zb = np.empty((1, p.R * p.R))
        K.fill_std_normal(K.stream_key(seed, KR.DOMAIN_A_BLOCK, s),
                          np.arange(p.R * p.R, dtype=np.uint64), zb[0])
    else:
        zb = np.zeros((1, 1))
    return sys.perturb(p.a_sigma, p.P if p.block else 0, p.R, zb, keys, buf)


def _sample_chunk(mrio, Y, spec, names, cats, C_sel, compiled, seed, s0, s1, max_rank, tol):
    """Samples ``s0 .. s1 - 1``: per sample the Monte Carlo's A_s, S_s, Y_s and its
    preconditioned iteration; every scenario by `solve_chunk` on them (common random numbers).
    A pure function of its arguments (sample s depends only on (seed, s)), so chunks can run
    anywhere and in any order. Returns (F (samples, scenario, stressor, category), baseline
    (samples, stressor, category), solver fallbacks)."""
    from ..uncertainty.sampler import build_problem, perturbed_S, perturbed_y

    kw = dict(tol=tol * 1e-3, storage="csr", group_size=1)
    p = build_problem(mrio, Y, spec, names, cats, orientation="primal", **kw)
    pa = build_problem(mrio, Y, spec, names, cats, orientation="adjoint", **kw)
    R, P = len(mrio.regions), len(mrio.sectors)
    buf_p, buf_a = p.system.value_buffer(1), pa.system.value_buffer(1)
    Nsc, q, m = len(compiled), len(names), len(cats)
    F = np.empty((s1 - s0, Nsc, q, m))
    base = np.empty((s1 - s0, q, m))
    fallbacks = 0
    for i, s in enumerate(range(s0, s1)):
        vals_p = _sample_values(p, seed, s, buf_p)
        vals_a = _sample_values(pa, seed, s, buf_a)
        A_s = sps.csr_array(p.system.matrix(vals_p[0]))
        S_s = np.asarray(perturbed_S(p, seed, s), dtype=np.float64)
        Y_s = np.asarray(perturbed_y(p, seed, s), dtype=np.float64)
        solver = _SampleSolver(p.system, vals_p, pa.system, vals_a)
        M_s = solver.solve_transpose(np.ascontiguousarray(S_s.T)).T
        base[i] = C_sel @ (M_s @ Y_s)
        Fb, _ = solve_chunk(A_s, S_s, Y_s, solver, M_s, compiled, R, P, max_rank=max_rank,
                            tol=tol)
        F[i] = np.einsum("qk,skm->sqm", C_sel, Fb)
        fallbacks += solver.fallbacks
    return F, base, fallbacks


def _sampled(mrio, y, Y, cats, cat_dim, names, C_sel, compiled, scenarios, samples, uncertainty,
             seed, max_rank, tol, client=None, store=None, sample_chunk: int = 16,
             progress=None) -> xr.Dataset:
    """Scenarios under Monte Carlo, in chunks of ``sample_chunk`` samples (`_sample_chunk`):
    in process, or as dask tasks on ``client``; with ``store`` each finished chunk is written to
    Zarr and a rerun computes only the missing ones. The result does not depend on the chunking."""
    from ..uncertainty.spec import Uncertainty

    spec = Uncertainty.default() if uncertainty is None else uncertainty
    if int(sample_chunk) < 1:
        raise ValidationError(f"sample_chunk must be at least 1, not {sample_chunk}")
    Nsc, q, m = len(compiled), len(names), len(cats)
    F = np.empty((samples, Nsc, q, m))
    base = np.empty((samples, q, m))
    bounds = [(a, min(a + sample_chunk, samples)) for a in range(0, samples, sample_chunk)]
    fallbacks = 0
    st = None
    if store is not None:
        fp = _hash(mrio.A, np.asarray(mrio.S, dtype=np.float64), Y,
                   scenarios.table.drop(columns="where", errors="ignore").to_json(),
                   json.dumps([names, samples, seed, sample_chunk, max_rank, tol,
                               spec.fingerprint()]))
        st = SampleStore(store, fp, F.shape, sample_chunk)
    todo = []
    for i, (a, b) in enumerate(bounds):
        if st is not None and st.is_done(i):
            F[a:b], base[a:b], fb = st.read(i, a, b)
            fallbacks += fb
        else:
            todo.append(i)
    done = len(bounds) - len(todo)

    def accept(i, Fc, bc, fb):
        nonlocal fallbacks, done
        a, b = bounds[i]
        F[a:b], base[a:b] = Fc, bc
        fallbacks += fb
        if st is not None:
            st.write(i, a, b, Fc, bc, fb)
        done += 1
        if progress:
            progress(done, len(bounds))

    args = (Y, spec, names, cats, C_sel, compiled, seed)
    if client is None or client == "sync" or not todo:
        for i in todo:
            a, b = bounds[i]
            accept(i, *_sample_chunk(mrio, *args, a, b, max_rank, tol))
    else:
        from distributed import as_completed

        m_f = client.scatter(mrio.replace(), broadcast=True)  # without its cached solver
        futs = {client.submit(_sample_chunk, m_f, *args, bounds[i][0], bounds[i][1], max_rank,
                              tol, pure=False): i for i in todo}
        for fut in as_completed(futs):
            accept(futs[fut], *fut.result())
    units = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
    dims = ("sample", "scenario", "stressor", cat_dim)
    return xr.Dataset(
        {"footprint": (dims, F), "baseline": (("sample", "stressor", cat_dim), base),
         "change": (dims, F - base[:, None]),
         "p_lower": (("scenario", "stressor", cat_dim), (F < base[:, None]).mean(axis=0))},
        coords={"sample": np.arange(samples), "scenario": scenarios.names, "stressor": names,
                cat_dim: cats, "unit": ("stressor", [units[s] for s in names])},
        attrs={"seed": seed, "samples": samples, "tol": tol, "solver_fallbacks": fallbacks,
               "sample_chunk": int(sample_chunk),
               "engine": "per sample: the Monte Carlo's A_s, S_s, y_s and preconditioned "
                         "iteration; levers on them; Woodbury on that sample's solves"},
    )
