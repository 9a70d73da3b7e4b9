"""Pydantic schemas of the HTTP API (requests and documented responses)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                            description="A resource name: 1-64 letters, digits, '_', '.', '-'.")]
Label = Annotated[str, Field(min_length=1, max_length=200)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    models_loaded: list[str]


class Indicator(BaseModel):
    name: str
    unit: str
    kind: Literal["stressor", "impact"]


class ModelSummary(BaseModel):
    name: str
    source: str | None = None
    year: int | None = None
    currency: str | None = None
    money_unit: str | None = None
    regions: int
    sectors: int
    n: int
    indicators: list[str]


class ModelList(BaseModel):
    models: list[ModelSummary]


class ModelInfo(BaseModel):
    name: str
    source: str | None = None
    year: int | None = None
    currency: str | None = None
    money_unit: str | None = None
    price_basis: str | None = None
    system: str | None = None
    n: int
    regions: list[str]
    sectors: list[str]
    indicators: list[Indicator]
    fd_categories: list[str]
    meta: dict[str, Any]
    loaded: bool = Field(description="Opened and factorised in this server process.")


class MultiplierRow(BaseModel):
    stressor: str
    region: str
    sector: str
    multiplier: float | None
    unit: str


class Multipliers(BaseModel):
    model: str
    rows: list[MultiplierRow]


class NameList(BaseModel):
    names: list[str]


class ConcordanceRow(BaseModel):
    """One mapping of a ledger category to an MRIO product (weights of a category sum to 1)."""

    model_config = ConfigDict(extra="forbid")
    category: Label
    sector: Label
    weight: FiniteFloat = 1.0
    origin_region: Annotated[str, Field(max_length=200)] | None = None


class Concordance(BaseModel):
    name: str
    rows: list[dict[str, Any]]


class Problem(BaseModel):
    error: str
    detail: str


class LedgerRow(BaseModel):
    """One purchase (or one category total) of the buyer's ledger."""

    model_config = ConfigDict(extra="forbid")
    category: Label
    amount: FiniteFloat = Field(description="Spend in `currency` (>= 0).")
    currency: Annotated[str, Field(min_length=1, max_length=8, description="ISO 4217, e.g. NOK.")]
    year: Annotated[int, Field(ge=1900, le=2200, description="Year of the spend.")]
    supplier_country: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="Country name or ISO code; overrides the import shares.")
    price_basis: Literal["purchaser", "basic"] | None = Field(
        None, description="Default purchaser: trade/transport margins and taxes are stripped.")
    description: Annotated[str, Field(max_length=2000)] | None = None


class PriceTables(BaseModel):
    """Price tables: a named base (``default`` or a file/folder in ``<data-dir>/prices``) whose
    rows the inline tables replace or extend (columns as in ``spendprint.Prices``)."""

    model_config = ConfigDict(extra="forbid")
    name: Name = "default"
    rates: list[dict[str, str | float | int | None]] | None = Field(
        None, description="Rows year, currency, per_eur.")
    index: list[dict[str, str | float | int | None]] | None = Field(
        None, description="Rows year, currency, index.")
    margins: list[dict[str, str | float | int | None]] | None = Field(
        None, description="Rows scope, name, wholesale, retail, transport, taxes.")
    margin_sectors: list[dict[str, str | float | int | None]] | None = Field(
        None, description="Rows margin, sector, weight.")


class ProcurementInputs(BaseModel):
    """Ledger, concordance, prices and buyer region: what a footprint or a job is computed from."""

    model_config = ConfigDict(extra="forbid")
    ledger: list[LedgerRow] = Field(min_length=1, description="The ledger rows.")
    concordance: Name | list[ConcordanceRow] = Field(
        "demo", description="A concordance name (GET /concordances) or inline rows.")
    prices: Name | PriceTables | None = Field(
        None, description="A prices name, inline price tables, or null for the defaults.")
    buyer_region: Annotated[str, Field(min_length=1, max_length=64)] = "NO"
    stressors: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, min_length=1, max_length=100,
        description="Indicators to compute (default: all of the model); an empty list is a 422.")


class FootprintRequest(ProcurementInputs):
    by_origin: bool = Field(False, description="Also return footprints by region of origin.")


class FootprintRow(BaseModel):
    category: str
    stressor: str
    model_config = ConfigDict(extra="allow")


class FootprintResponse(BaseModel):
    model: str
    buyer_region: str
    money_unit: str | None = None
    categories: int
    rows: list[FootprintRow]
    by_origin_region: list[dict[str, Any]] | None = None


class JobRequest(ProcurementInputs):
    """A Monte Carlo run over the procurement footprint (or, ``kind = footprint``, the
    deterministic footprint computed as a job)."""

    model: Name
    kind: Literal["monte_carlo", "footprint"] = "monte_carlo"
    samples: Annotated[int, Field(ge=1, le=10**9)] | None = Field(
        None, description="Monte Carlo samples (default 1000; at most the server's max_samples); "
                          "ignored by kind = footprint.")
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    chunk_size: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None, description="Samples per chunk (default: the library's).")
    uncertainty: dict[str, Any] | None = Field(
        None, description="Keyword arguments of spendprint.Uncertainty (default: its defaults).")


class JobLinks(BaseModel):
    self: str
    result: str


class JobStatus(BaseModel):
    id: str
    kind: str
    model: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    message: str
    error: str | None = None
    attempts: int
    created: float
    started: float | None = None
    finished: float | None = None
    links: JobLinks


class JobList(BaseModel):
    jobs: list[JobStatus]
