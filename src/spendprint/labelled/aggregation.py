"""Aggregation of regions and sectors by a mapping (flows are summed, coefficients re-derived)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sps

from ..core.model import MRIO
from ..errors import LabelMismatchError


def _grouping(labels: tuple[str, ...], mapping: Mapping[str, str] | None, what: str):
    if mapping is None:
        return list(labels), np.arange(len(labels))
    missing = [lab for lab in labels if lab not in mapping]
    if missing:
        raise LabelMismatchError(f"{what} mapping lacks {len(missing)} label(s), e.g. {missing[:5]}")
    new = list(dict.fromkeys(mapping[lab] for lab in labels))
    pos = {lab: i for i, lab in enumerate(new)}
    return new, np.array([pos[mapping[lab]] for lab in labels])


def aggregate(mrio: MRIO, regions: Mapping[str, str] | None = None,
              sectors: Mapping[str, str] | None = None) -> MRIO:
    """Aggregate an MRIO: ``Z' = G Z G^T``, ``x' = G x``, ``F' = F G^T``, ``Y' = G Y H^T``, ``A' = Z' diag(x')^-1``.

    ``regions`` and ``sectors`` map every old label to a new one (``None`` keeps them). ``G`` is the
    0/1 grouping matrix over (region, sector), ``H`` the one over final-demand columns.
    """
    new_r, gr = _grouping(mrio.regions, regions, "region")
    new_s, gs = _grouping(mrio.sectors, sectors, "sector")
    R, P, R2, P2 = len(mrio.regions), len(mrio.sectors), len(new_r), len(new_s)
    rows = (gr[:, None] * P2 + gs[None, :]).ravel()
    G = sps.csr_array((np.ones(R * P), (rows, np.arange(R * P))), shape=(R2 * P2, R * P))
    Z = sps.csr_array(mrio.A) * mrio.x[None, :] if mrio.is_sparse else mrio.A * mrio.x[None, :]
    Z2 = G @ (G @ Z.T).T if not mrio.is_sparse else (G @ Z @ G.T)
    x2 = G @ mrio.x
    inv = np.divide(1.0, x2, out=np.zeros_like(x2), where=x2 > 0)
    A2 = Z2 * inv[None, :] if not sps.issparse(Z2) else sps.csr_array(Z2 @ sps.diags_array(inv))
    F2 = (G @ (mrio.S * mrio.x[None, :]).T).T
    S2 = F2 * inv[None, :]
    Y2 = FY2 = None
    f = len(mrio.fd_categories)
    if mrio.Y is not None or mrio.F_Y is not None:
        hrows = (gr[:, None] * f + np.arange(f)[None, :]).ravel()
        H = sps.csr_array((np.ones(R * f), (hrows, np.arange(R * f))), shape=(R2 * f, R * f))
        if mrio.Y is not None:
            Y2 = (H @ (G @ mrio.Y).T).T
        if mrio.F_Y is not None:
            FY2 = (H @ mrio.F_Y.T).T
    return mrio.replace(A=np.asarray(A2) if not sps.issparse(A2) else A2, x=x2, S=S2, Y=Y2, F_Y=FY2,
                        regions=tuple(new_r), sectors=tuple(new_s),
                        meta={**mrio.meta, "aggregated_from": f"{R}x{P}"})
