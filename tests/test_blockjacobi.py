"""The exact block-Jacobi engine: against dense numpy solves, against the LU path on synthetic
worlds and on the real USEEIO models, the auto choice, the LU fallback and singular blocks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as hs

import spendprint as sp
from spendprint.core import leontief as LM
from spendprint.core.blockjacobi import BLOCK_MAX_CONTRACTION, BlockJacobi
from spendprint.core.leontief import LeontiefSolver
from spendprint.errors import ConvergenceError, NotProductiveError

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "useeio"


def _rel(got: np.ndarray, ref: np.ndarray) -> float:
    """Max |got - ref| over the max |ref| of each column."""
    ref2 = ref.reshape(ref.shape[0], -1)
    scale = np.maximum(np.abs(ref2).max(axis=0), 1e-300)
    return float((np.abs(got.reshape(ref2.shape) - ref2) / scale).max())


def _offdiag(A: np.ndarray, P: int) -> np.ndarray:
    T = A.copy()
    for r in range(A.shape[0] // P):
        T[r * P:(r + 1) * P, r * P:(r + 1) * P] = 0.0
    return T


def _true_contraction(A: np.ndarray, P: int) -> float:
    T = _offdiag(A, P)
    return float(np.abs(np.linalg.eigvals(np.linalg.solve(np.eye(len(A)) - (A - T), T))).max())


def _diverging(R: int = 3, P: int = 8, seed: int = 1) -> np.ndarray:
    """Nonsingular (I - A) whose trade blocks are large and negative: rho(P^-1 A_O) about 3."""
    rng = np.random.default_rng(seed)
    A = rng.random((R * P, R * P)) * 0.1
    T = _offdiag(A, P)
    A = (A - T) * 0.5 - 6.0 * T
    assert _true_contraction(A, P) > 2.0
    return A


# ---- against a dense solve -------------------------------------------------------------------
@pytest.mark.parametrize("R,P", [(2, 5), (3, 17), (6, 20)])
@pytest.mark.parametrize("transpose", [False, True])
def test_solve_equals_dense_solve(R, P, transpose):
    A = np.array(sp.synthetic_mrio(regions=R, sectors=P, seed=R).dense_A())
    n = R * P
    A[:, 3] = 0.0  # a sector without inputs
    bj = BlockJacobi(A, P)
    M = (np.eye(n) - A).T if transpose else np.eye(n) - A
    B = np.random.default_rng(P).lognormal(0.0, 2.0, (n, 4))
    B[:, 1] = 0.0  # a zero right-hand side
    B[:, 2] *= 1e-30  # tiny units
    X = bj.solve(B, transpose=transpose)
    ref = np.linalg.solve(M, B)
    assert _rel(X, ref) < 1e-11
    assert np.all(X[:, 1] == 0.0)
    assert bj.last["max_residual"] <= 1e-13 and 0 < bj.last["iterations"] < 40
    # one vector, and a sparse A, give the same
    np.testing.assert_allclose(bj.solve(B[:, 0], transpose=transpose), X[:, 0], rtol=1e-12)
    Xs = BlockJacobi(sps.csr_array(A), P).solve(B, transpose=transpose)
    assert _rel(Xs, ref) < 1e-11
    # A X is the product with A, in both orientations
    np.testing.assert_allclose(bj.matvec(B, transpose), (A.T if transpose else A) @ B,
                               rtol=1e-12, atol=1e-12 * np.abs(B).max())


def test_warm_start_and_the_contraction_estimate():
    A = np.asarray(sp.synthetic_mrio(regions=4, sectors=15, seed=3).dense_A())
    P, n = 15, 60
    bj = BlockJacobi(A, P)
    B = np.random.default_rng(0).random((n, 3))
    ref = np.linalg.solve(np.eye(n) - A, B)
    cold = bj.solve(B)
    cold_steps = bj.last["iterations"]
    warm = bj.solve(B, x0=ref * (1 + 1e-7))
    assert bj.last["iterations"] < cold_steps
    assert _rel(warm, ref) < 1e-11 and _rel(cold, ref) < 1e-11
    bj.solve(B, x0=ref)
    assert bj.last["iterations"] <= 1
    # power estimate within 25 % of the spectral radius of the iteration matrix
    rho = _true_contraction(A, P)
    assert abs(bj.contraction() - rho) < 0.25 * rho
    assert bj.contraction(transpose=False) == pytest.approx(rho, rel=0.25)


def test_bad_shapes_and_singular_blocks():
    A = np.array(sp.synthetic_mrio(regions=2, sectors=6, seed=0).dense_A())
    with pytest.raises(ValueError, match="does not divide"):
        BlockJacobi(A, 5)
    with pytest.raises(ValueError, match="rows"):
        BlockJacobi(A, 6).solve(np.ones(7))
    S = A.copy()
    S[6:, 6:] = 1.0 / 6.0  # the second domestic block has column sums 1: I - A_11 is singular
    with pytest.raises(NotProductiveError, match="singular"):
        BlockJacobi(S, 6)
    with pytest.raises(NotProductiveError):
        LeontiefSolver(S, method="block", blocks=6)


def test_divergence_is_a_convergence_error():
    A = _diverging()
    bj = BlockJacobi(A, 8)
    assert bj.contraction() > 1.0
    with pytest.raises(ConvergenceError, match="block-Jacobi"):
        bj.solve(np.ones(24))
    with pytest.raises(ConvergenceError, match="after 2 steps"):
        BlockJacobi(sp.synthetic_mrio(2, 6).dense_A(), 6, max_iter=2, tol=1e-16).solve(np.ones(12))


# ---- LeontiefSolver: the block method, the auto choice, the fallback -------------------------
def test_block_method_equals_lu_path_and_forms_no_dense_lu(small_mrio):
    m = small_mrio
    P = len(m.sectors)
    block = LeontiefSolver(m.A, method="block", blocks=P)
    lu = LeontiefSolver(m.A, method="dense")
    assert block.method == block.method_used == "block" and not hasattr(block, "_lu")
    ST = m.S_all().T
    Y = np.random.default_rng(5).random((m.n, 7))
    assert _rel(block.solve_transpose(ST), lu.solve_transpose(ST)) < 1e-11
    assert _rel(block.solve(Y), lu.solve(Y)) < 1e-11
    assert block.stats["max_residual"] <= 1e-13 and block.stats["refinement_steps"] > 0
    assert block.stats["forward_solves"] == 1 and block.stats["adjoint_solves"] == 1
    assert not hasattr(block, "_lu")
    np.testing.assert_allclose(block.residual(lu.solve(Y), Y), lu.residual(lu.solve(Y), Y),
                               atol=1e-13)
    # the LU twin (for the Monte Carlo preconditioner) is built on request, once
    twin = block.lu_solver()
    assert twin is block.lu_solver() and twin.method == "dense" and lu.lu_solver() is lu
    with pytest.raises(ValueError, match="blocks="):
        LeontiefSolver(m.A, method="block")


def test_many_right_hand_sides_go_in_chunks(monkeypatch, tiny_mrio):
    monkeypatch.setattr(LM, "BLOCK_CHUNK", 5)
    monkeypatch.setattr(LM, "BLOCK_WIDE", 1)  # keep even the whole inverse on the block path
    m = tiny_mrio
    ref = np.linalg.inv(np.eye(m.n) - m.dense_A())
    s = LeontiefSolver(m.A, method="block", blocks=len(m.sectors))
    L = s.solve(np.eye(m.n))
    assert _rel(L, ref) < 1e-11
    assert s.stats["forward_solves"] == 1 and "lu_solves" not in s.stats
    assert s.stats["factorisations"] == 1 and s._lu_twin is None


def test_very_wide_solves_go_to_the_lu_twin(tiny_mrio):
    m = tiny_mrio
    ref = np.linalg.inv(np.eye(m.n) - m.dense_A())
    s = LeontiefSolver(m.A, method="block", blocks=len(m.sectors))
    assert _rel(s.solve(np.eye(m.n)), ref) < 1e-11
    assert _rel(s.solve_transpose(np.eye(m.n)), ref.T) < 1e-11
    assert s.method_used == "block" and s.stats["lu_solves"] == 2
    assert s.stats["factorisations"] == 2  # the block inverses and the twin's LU
    narrow = np.eye(m.n)[:, :3]
    assert _rel(s.solve(narrow), ref[:, :3]) < 1e-11 and s.stats["lu_solves"] == 2


def test_auto_picks_block_for_a_multi_regional_model(small_mrio, monkeypatch):
    import spendprint.core.leontief as lt

    # below BLOCK_MIN_N sectors the LU path is faster and auto keeps it
    assert small_mrio.n < lt.BLOCK_MIN_N
    assert small_mrio.replace().solver.method_used == "dense"
    monkeypatch.setattr(lt, "BLOCK_MIN_N", 0)
    m = small_mrio.replace()  # fresh solver
    assert m.solver.method_used == "block"
    assert m.solver.contraction <= BLOCK_MAX_CONTRACTION
    assert m.solver.stats["contraction"] == m.solver.contraction
    ref = m.S_all() @ np.linalg.inv(np.eye(m.n) - m.dense_A())
    got = sp.multipliers(m).values.reshape(len(m.indicators), -1)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    # one region, or no block size: the LU path as before
    assert LeontiefSolver(m.A).method == "dense"
    assert LeontiefSolver(m.A, blocks=m.n).method == "dense"


def test_auto_keeps_lu_for_large_trade_blocks_and_block_falls_back():
    A = _diverging()
    n = A.shape[0]
    B = np.random.default_rng(2).random((n, 3))
    auto = LeontiefSolver(A, blocks=8, block_min_n=0)
    assert auto.method_used == "dense" and auto.contraction > BLOCK_MAX_CONTRACTION
    forced = LeontiefSolver(A, method="block", blocks=8)
    X = forced.solve(B)
    assert forced.method_used == "dense" and forced.stats["block_fallbacks"] == 1
    assert "block-Jacobi" in forced.fallback_reason
    assert _rel(X, np.linalg.solve(np.eye(n) - A, B)) < 1e-11
    assert _rel(forced.solve_transpose(B), np.linalg.solve((np.eye(n) - A).T, B)) < 1e-11
    assert forced.stats["forward_solves"] == 1 and forced.stats["adjoint_solves"] == 1
    # slow but convergent (a regular splitting with rho near 1): auto also keeps the LU path
    rng = np.random.default_rng(4)
    S = rng.random((n, n))
    S *= 0.95 / S.sum(axis=0)
    assert _true_contraction(S, 8) > 0.6
    assert LeontiefSolver(S, blocks=8, block_min_n=0).method_used == "dense"


def test_monte_carlo_preconditioner_gets_the_lu_of_a_block_solver(tiny_mrio, monkeypatch):
    import spendprint.core.leontief as lt
    from spendprint.uncertainty.iteration import BaselineLU

    monkeypatch.setattr(lt, "BLOCK_MIN_N", 0)
    m = tiny_mrio.replace()
    assert m.solver.method == "block"
    pre = BaselineLU(m.solver)
    R = np.random.default_rng(0).random((m.n, 2))
    np.testing.assert_allclose(pre.apply(R, False), np.linalg.solve(np.eye(m.n) - m.dense_A(), R),
                               rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(R=hs.integers(2, 4), P=hs.integers(1, 6), seed=hs.integers(0, 2**31), share=hs.floats(0.0, 0.9),
       transpose=hs.booleans())
def test_random_productive_systems(R, P, seed, share, transpose):
    """Nonnegative A with column sums below 0.95 (productive) and a random share of trade."""
    rng = np.random.default_rng(seed)
    n = R * P
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    T = _offdiag(A, P)
    A = (A - T) * (1 - share) + T * share
    A *= rng.uniform(0.05, 0.95) / max(A.sum(axis=0).max(), 1e-12)
    B = rng.normal(size=(n, 2))
    M = (np.eye(n) - A).T if transpose else np.eye(n) - A
    X = BlockJacobi(A, P, max_iter=400).solve(B, transpose=transpose)
    assert _rel(X, np.linalg.solve(M, B)) < 1e-10


# ---- the real USEEIO models (negative coefficients) ------------------------------------------
def _real(name: str) -> Path:
    folder = REAL / name
    if not (folder / "matrix" / "A.json").is_file():
        pytest.skip(f"real USEEIO model {name} not found under ../shared/realdata/useeio "
                    "(a fresh clone has no ../shared)")
    return folder


@pytest.mark.parametrize("name,P", [("CAEEIOv1.0-s-20", None), ("USEEIOv1.2", 97),
                                    ("USEEIOv1.2", 194)])
def test_real_models_block_equals_lu_path(name, P):
    """The two-region state model by its regions; the national model with its 388 commodities
    cut into 4 or 2 blocks (an iteration over sector groups: negative entries in A_O too)."""
    from spendprint.io.useeio import read_useeio, read_useeio_demands

    folder = _real(name)
    m = read_useeio(folder)
    A = np.asarray(m.dense_A())
    assert (A < 0).any()
    P = P or len(m.sectors)
    block = LeontiefSolver(A, method="block", blocks=P)
    lu = LeontiefSolver(A, method="dense", precision="double")
    ST = np.asarray(m.S_all()).T
    mult = block.solve_transpose(ST)
    assert block.method_used == "block"
    assert _rel(mult, lu.solve_transpose(ST)) < 1e-9
    Y = np.column_stack(list(read_useeio_demands(folder).values()))
    assert _rel(block.solve(Y), lu.solve(Y)) < 1e-9
    if len(m.regions) > 1:  # the state model: auto keeps LU below BLOCK_MIN_N sectors, the
        # block path is chosen (contraction) once the size allows it
        assert m.replace().solver.method_used == "dense"
        assert LeontiefSolver(m.A, blocks=len(m.sectors), block_min_n=0).method_used == "block"
        # and reproduces EPA's published total multipliers N = D (I - A)^-1
        N = np.asarray(json.loads((folder / "matrix" / "N.json").read_text()))
        secs = json.loads((folder / "sectors.json").read_text())
        pos = {(s["location"], s["code"]): s["index"] for s in secs}
        order = [pos[(r, c)] for r in m.regions for c in m.sectors]
        got = sp.multipliers(m, list(m.impacts)).values.reshape(len(m.impacts), m.n)
        assert _rel(got.T, N[:, order].T) < 1e-9
