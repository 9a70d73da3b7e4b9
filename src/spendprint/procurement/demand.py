"""From a ledger to final demand ``y`` (region, sector, category) at basic prices.

Steps (symbols in `spendprint.procurement.prices`):

1. validate ledger, concordance and prices against the MRIO (one `LedgerError`);
2. aggregate the ledger by (category, currency, year, supplier country, price basis) and convert
   each total to MRIO money of the base year;
3. split each category over its products with the concordance weights;
4. purchaser -> basic prices: strip margins and product taxes; the margins become demand for the
   margin products (``Prices.margin_sectors``) in the buyer region, taxes leave the model. Margin
   products missing from the MRIO leave their share of the margin on the purchased product;
5. origin of each product: the ledger's supplier_country, else the concordance's origin_region,
   else the buyer region's import structure (`origin_shares`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..core.model import MRIO
from ..errors import LabelMismatchError, LedgerError, ValidationError
from .concordance import Concordance
from .ledger import ROW_NOTE, Ledger, sort_problems
from .prices import MARGINS, Prices, money_factor
from .regions import map_regions

#: Final-demand categories left out of the import structure (not purchases of the buyer).
_EXCLUDED_FD = re.compile(r"inventor|valuables|export", re.IGNORECASE)


def origin_shares(mrio: MRIO, buyer_region: str) -> np.ndarray:
    """Share of each supplying region in the buyer region's purchases of each product.

    ``s[r, p] = Y_b[r, p] / sum_r' Y_b[r', p]`` with ``Y_b`` the buyer region's final demand
    (columns ``(buyer_region, f)`` of ``mrio.Y``, summed over its final-demand categories except
    changes in inventories and valuables and exports; negative entries clipped to 0). A product
    the buyer has no final demand for takes the buyer's intermediate use (``Z`` columns of the
    buyer region); one with neither is taken as domestic.

    Returns
    -------
    ndarray, shape (R, P)
        Columns sum to 1 (dimensionless).
    """
    R, P = len(mrio.regions), len(mrio.sectors)
    if buyer_region not in mrio.regions:
        raise LabelMismatchError(f"buyer region {buyer_region!r} is not a region of the MRIO "
                                 f"({', '.join(mrio.regions)})")
    b = mrio.regions.index(buyer_region)
    fd = np.zeros((R, P))
    if mrio.Y is not None and mrio.fd_categories:
        f = len(mrio.fd_categories)
        keep = [i for i, c in enumerate(mrio.fd_categories) if not _EXCLUDED_FD.search(c)]
        cols = [b * f + i for i in (keep or range(f))]
        fd = np.clip(np.asarray(mrio.Y)[:, cols], 0.0, None).sum(axis=1).reshape(R, P)
    tot = fd.sum(axis=0)
    if (tot <= 0).any():
        bcols = np.arange(b * P, (b + 1) * P)
        A = mrio.A
        inter = np.asarray(A[:, bcols] @ mrio.x[bcols]).reshape(R, P)
        fd = np.where(tot[None, :] > 0, fd, inter)
        tot = fd.sum(axis=0)
    dom = np.zeros((R, P))
    dom[b] = 1.0
    return np.where(tot[None, :] > 0, fd / np.where(tot > 0, tot, 1.0)[None, :], dom)


@dataclass(frozen=True, eq=False)
class ProcurementDemand:
    """A buyer's demand on the MRIO, built once and shared by every analysis.

    Money is in the MRIO money unit (``attrs["money_unit"]``, e.g. M EUR) at basic prices of the
    model's base year, unless stated.

    Attributes
    ----------
    y : ndarray (R, P, m), read-only
        Demand per (origin region, product, category), margins re-allocated, taxes removed.
    regions, sectors, categories : tuple of str
        Labels of the three axes (categories in concordance order, those in the ledger).
    spend_purchaser : ndarray (m,)
        Converted ledger spend per category before taxes were stripped.
    taxes, margins : ndarray (m,)
        Product taxes removed; trade and transport margins moved to the margin products.
    spend_original : ndarray (m,)
        Ledger amounts in ``original_currency`` (the ledger currency if there is one, else the
        model currency in whole units, not deflated).
    origin_shares : ndarray (R, P)
        The buyer region's import structure (`origin_shares`), used for default origins.
    spend_nominal : ndarray (m,)
        ``spend`` before deflation: the same demand at the prices of the ledger year(s), in the
        MRIO money unit (exchange rates of the ledger year). ``spend / spend_nominal`` is the
        deflation factor ``I_m(b) / I_m(t)`` of the year-over-year decomposition
        (`spendprint.procurement.lmdi`); ``spend`` itself when not given.
    year : int or None
        The ledger year this demand holds (`build` with ``year=``); ``None``: all rows.
    attrs : dict
        Buyer region, money unit, currency, base year, sources, notes.
    key : str
        Identity of this demand in the model's solve cache (``mrio.cache``): outputs
        ``x = L y`` solved for it once are reused by every analysis.
    """

    y: np.ndarray
    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    categories: tuple[str, ...]
    spend_purchaser: np.ndarray
    taxes: np.ndarray
    margins: np.ndarray
    spend_original: np.ndarray
    original_currency: str
    origin_shares: np.ndarray
    attrs: dict = field(default_factory=dict)
    key: str = field(default_factory=lambda: f"demand-{uuid.uuid4().hex}")
    spend_nominal: np.ndarray | None = None
    year: int | None = None

    def __post_init__(self) -> None:
        if self.spend_nominal is None:
            object.__setattr__(self, "spend_nominal", np.asarray(self.y).sum(axis=(0, 1)))
        for name in ("y", "spend_purchaser", "taxes", "margins", "spend_original",
                     "origin_shares", "spend_nominal"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        for name in ("regions", "sectors", "categories"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))

    @classmethod
    def build(cls, mrio: MRIO, ledger: Ledger, concordance: Concordance,
              prices: Prices | None = None, buyer_region: str = "NO", *,
              year: int | None = None, categories: list[str] | None = None) -> ProcurementDemand:
        """Validate the inputs once and build the demand (steps in the module docstring).

        With ``year``, only the ledger rows of that year (each deflated to the base year with
        its own year's index, as every row is). ``categories`` fixes the category axis (a
        subset of the concordance's categories, in this order; categories without rows get a
        zero column), so that the demands of several years share one axis.

        Raises
        ------
        LedgerError
            Every problem of ledger and concordance against prices and MRIO, at once.
        """
        return _build(mrio, ledger, concordance, prices, buyer_region, year, categories)

    @property
    def buyer_region(self) -> str:
        return str(self.attrs["buyer_region"])

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def Y(self) -> np.ndarray:
        """The demand as columns in the model's sector order, (n, m)."""
        R, P, m = self.y.shape
        return self.y.reshape(R * P, m)

    @property
    def spend(self) -> np.ndarray:
        """Demand per category at basic prices, (m,)."""
        return self.y.sum(axis=(0, 1))

    def to_dataarray(self) -> xr.DataArray:
        """The demand as a DataArray (region, sector, category)."""
        return xr.DataArray(
            np.array(self.y), dims=("region", "sector", "category"),
            coords={"region": list(self.regions), "sector": list(self.sectors),
                    "category": list(self.categories)},
            name="demand", attrs={**self.attrs, "units": self.attrs["money_unit"]},
        )

    def check_model(self, mrio: MRIO) -> None:
        """Raise unless this demand was built for a model with ``mrio``'s labels."""
        if self.regions != mrio.regions or self.sectors != mrio.sectors:
            raise LabelMismatchError("this demand was built for another model (its regions or "
                                     "sectors differ); build it again for this model")


def as_procurement_demand(mrio: MRIO, demand: ProcurementDemand | Ledger,
                          concordance: Concordance | None = None, prices: Prices | None = None,
                          buyer_region: str = "NO") -> ProcurementDemand:
    """The demand an analysis works on: a `ProcurementDemand` as it is, or one built from a
    ledger and a concordance (the convenience form of every analysis)."""
    if isinstance(demand, ProcurementDemand):
        demand.check_model(mrio)
        return demand
    if isinstance(demand, Ledger):
        if concordance is None:
            raise ValidationError("a ledger needs a concordance to become demand")
        return ProcurementDemand.build(mrio, demand, concordance, prices, buyer_region)
    raise ValidationError(f"expected a ProcurementDemand (or a Ledger and a Concordance), not "
                          f"{type(demand).__name__}")


def _margin_targets(mrio: MRIO, prices: Prices) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """Per margin type: sector positions present in the MRIO, their weights (normalised), and the
    fraction of the margin they cover (present weight / total weight)."""
    pos = {s: i for i, s in enumerate(mrio.sectors)}
    out = {}
    ms = prices.margin_sectors
    for g in MARGINS:
        rows = ms[ms["margin"] == g]
        total = float(rows["weight"].sum())
        here = rows[rows["sector"].isin(pos)]
        w = here["weight"].to_numpy(dtype=np.float64)
        cover = float(w.sum() / total) if total > 0 else 0.0
        idx = np.array([pos[s] for s in here["sector"]], dtype=np.int64)
        out[g] = (idx, w / w.sum() if w.sum() > 0 else w, cover)
    return out


def _build(mrio: MRIO, ledger: Ledger, concordance: Concordance, prices: Prices | None,
           buyer_region: str, year: int | None = None,
           categories: list[str] | None = None) -> ProcurementDemand:
    prices = prices or Prices.default()
    if buyer_region not in mrio.regions:
        raise LabelMismatchError(f"buyer region {buyer_region!r} is not a region of the MRIO "
                                 f"({', '.join(mrio.regions)})")
    if len(ledger.frame) == 0:
        raise LedgerError([f"{ledger.source}: the ledger has no rows (expected one row per purchase "
                           f"or per category total below the header)"], ledger.source)
    # a ledger read with these very inputs was validated against them already (one pass)
    if ledger.checked_with == (id(concordance), id(prices), id(mrio)):
        problems = []
    else:
        problems = ledger.problems(concordance=concordance, prices=prices, mrio=mrio)
        problems += concordance.problems(mrio)
    if problems:
        raise LedgerError(sort_problems(problems),
                          f"{ledger.source} / {concordance.source} ({ROW_NOTE})")

    R, P = len(mrio.regions), len(mrio.sectors)
    unit, mcur = money_factor(mrio.meta.get("money_unit", "M EUR"))
    base_year = mrio.meta.get("year")
    agg = ledger.aggregate()
    if year is not None:
        agg = agg[agg["year"].to_numpy() == int(year)].reset_index(drop=True)
    agg["value"] = agg["amount"].to_numpy() * prices.conversion_factors(
        agg["currency"].to_numpy(), agg["year"].to_numpy(), mcur,
        None if base_year is None else int(base_year), unit)
    # nominal / real: the deflation undone (1 without a base year)
    nominal_f = prices.conversion_factors(agg["currency"].to_numpy(), agg["year"].to_numpy(),
                                          mcur, None, unit)
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["q"] = np.where(agg["value"].to_numpy() != 0,
                            agg["amount"].to_numpy() * nominal_f / agg["value"].to_numpy(), 1.0)

    if categories is not None:
        known = set(concordance.categories)
        bad = [c for c in categories if c not in known]
        if bad:
            raise ValidationError(f"categories {bad} are not in the concordance "
                                  f"({concordance.source})")
        extra = sorted(set(agg["category"]) - set(categories))
        if extra:
            raise ValidationError(f"the ledger has rows of categories {extra} that are not on the "
                                  "category axis asked for")
        cats = list(categories)
    else:
        cats = [c for c in concordance.categories if c in set(agg["category"])]
    m = len(cats)
    cpos = {c: i for i, c in enumerate(cats)}
    agg["c"] = agg["category"].map(cpos).astype(np.int64)
    spend_purchaser = np.bincount(agg["c"], weights=agg["value"], minlength=m)
    currencies = ledger.currencies
    if len(currencies) == 1:
        orig_cur = currencies[0]
        spend_original = np.bincount(agg["c"], weights=agg["amount"], minlength=m)
    else:
        orig_cur = mcur
        nominal = agg["amount"].to_numpy() * prices.conversion_factors(
            agg["currency"].to_numpy(), agg["year"].to_numpy(), mcur, None, 1.0)
        spend_original = np.bincount(agg["c"], weights=nominal, minlength=m)

    # supplier country -> region
    smap = map_regions(agg["supplier_country"].unique(), mrio.regions)
    agg["supplier_region"] = agg["supplier_country"].map(lambda s: smap.get(s) or "")

    # split over products
    conc = concordance.frame.reset_index(drop=True)
    omap = concordance.origin_mapping(mrio)
    conc = conc.assign(conc_region=conc["origin_region"].map(lambda s: omap.get(s) or "" if s else ""))
    rows = agg[["c", "category", "supplier_region", "price_basis", "value", "q"]].merge(
        conc[["category", "sector", "weight", "conc_region"]], on="category", how="inner")
    rows["v"] = rows["value"] * rows["weight"]
    spos = {s: i for i, s in enumerate(mrio.sectors)}
    p_idx = rows["sector"].map(spos).to_numpy(dtype=np.int64)
    c_idx = rows["c"].to_numpy(dtype=np.int64)
    v = rows["v"].to_numpy(dtype=np.float64)

    # purchaser -> basic prices
    purch = (rows["price_basis"] == "purchaser").to_numpy()
    used = sorted(set(rows["sector"]))
    rates = prices.margin_rates(used).reindex(rows["sector"]).to_numpy()  # (rows, 4)
    targets = _margin_targets(mrio, prices)
    basic = v.copy()
    taxes = np.zeros(m)
    margin_total = np.zeros(m)
    margin_by_type = {}
    for j, g in enumerate(MARGINS):
        idx, w, cover = targets[g]
        amt = np.where(purch, v * rates[:, j] * cover, 0.0)
        basic -= amt
        margin_by_type[g] = np.bincount(c_idx, weights=amt, minlength=m)
        margin_total += margin_by_type[g]
    tax = np.where(purch, v * rates[:, 3], 0.0)
    basic -= tax
    taxes += np.bincount(c_idx, weights=tax, minlength=m)
    # the same demand at the ledger year's prices (margins included, taxes out: sum of y)
    spend_nominal = np.bincount(c_idx, weights=(v - tax) * rows["q"].to_numpy(dtype=np.float64),
                                minlength=m)

    # origin
    y = np.zeros((R, P, m))
    rpos = {r: i for i, r in enumerate(mrio.regions)}
    fixed_region = np.where(rows["supplier_region"] != "", rows["supplier_region"], rows["conc_region"])
    fixed = fixed_region != ""
    if fixed.any():
        r_idx = np.array([rpos[r] for r in fixed_region[fixed]], dtype=np.int64)
        # a product fixed to an origin that does not produce it would carry no supply chain at
        # all (its column of A is zero): the footprint would be margins only, silently
        x = np.asarray(mrio.x).reshape(R, P)
        dead = (x[r_idx, p_idx[fixed]] <= 0) & (basic[fixed] > 0)
        if dead.any():
            sub = rows[fixed][dead]
            pairs = sorted({(c, reg, sec) for c, reg, sec in zip(
                sub["category"], fixed_region[fixed][dead], sub["sector"], strict=True)})
            raise LedgerError(
                [f"category {c!r}: product {sec!r} is bought from {reg} (supplier country or "
                 f"concordance origin_region), but {reg} has zero output of it in this model; "
                 f"choose another origin or leave the origin blank" for c, reg, sec in pairs],
                f"{ledger.source} / {concordance.source}")
        np.add.at(y, (r_idx, p_idx[fixed], c_idx[fixed]), basic[fixed])
    shares = origin_shares(mrio, buyer_region)
    if (~fixed).any():
        B = np.zeros((P, m))
        np.add.at(B, (p_idx[~fixed], c_idx[~fixed]), basic[~fixed])
        y += shares[:, :, None] * B[None, :, :]
    b = rpos[buyer_region]
    for g in MARGINS:
        idx, w, _ = targets[g]
        if len(idx):
            y[b, idx, :] += w[:, None] * margin_by_type[g][None, :]

    missing = {g: round(1.0 - t[2], 6) for g, t in targets.items() if t[2] < 1.0}
    attrs = {
        "buyer_region": buyer_region, "money_unit": mrio.meta.get("money_unit", "M EUR"),
        "currency": mcur, "base_year": -1 if base_year is None else int(base_year),
        "price_basis": "basic", "prices_source": prices.source,
        "ledger_source": ledger.source, "concordance_source": concordance.source,
        "ledger_year": -1 if year is None else int(year),
        "margins_kept_on_product": (
            "; ".join(f"{g}: {frac:.0%} of the margin (margin product not in the MRIO)"
                      for g, frac in missing.items()) or "none"),
    }
    return ProcurementDemand(y=y, regions=mrio.regions, sectors=mrio.sectors, categories=cats,
                             spend_purchaser=spend_purchaser, taxes=taxes, margins=margin_total,
                             spend_original=spend_original, original_currency=orig_cur,
                             origin_shares=shares, attrs=attrs, spend_nominal=spend_nominal,
                             year=None if year is None else int(year))


def procurement_demand(mrio: MRIO, ledger: Ledger, concordance: Concordance,
                       prices: Prices | None = None, buyer_region: str = "NO") -> xr.DataArray:
    """Final demand of the ledger in the MRIO: ``y`` with dims (region, sector, category).

    Parameters
    ----------
    mrio : MRIO
        The model; its ``meta['currency']``, ``meta['year']`` and ``meta['money_unit']`` set the
        target currency, base year and unit.
    ledger, concordance : Ledger, Concordance
        Spend and the category -> product map.
    prices : Prices, optional
        Exchange rates, price indices, margins and taxes (default `Prices.default`).
    buyer_region : str
        MRIO region of the buyer; margins are delivered there and default origins follow its
        import structure (`origin_shares`).

    Returns
    -------
    xarray.DataArray
        Demand in the MRIO money unit (e.g. M EUR) at basic prices of the MRIO base year;
        categories in concordance order (those present in the ledger). Column sums equal the
        converted ledger spend less product taxes (margins are re-allocated, not lost).

    Raises
    ------
    LedgerError
        Every problem of ledger and concordance against prices and MRIO, at once.
    """
    return ProcurementDemand.build(mrio, ledger, concordance, prices, buyer_region).to_dataarray()
