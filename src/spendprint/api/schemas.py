"""Pydantic schemas of the HTTP API (requests and documented responses)."""

from __future__ import annotations

from datetime import datetime
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


class ConcordanceOut(BaseModel):
    """One row of a stored concordance as returned (``origin_region`` empty when not fixed)."""

    category: str
    sector: str
    weight: float
    origin_region: str | None = None
    model_config = ConfigDict(extra="allow")


class Concordance(BaseModel):
    name: str
    rows: list[ConcordanceOut]


class ValidationIssue(BaseModel):
    """One problem of a request that failed validation (``loc``: where, ``msg``: what)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer: a machine code ``error`` and a message ``detail``.

    Codes: ``unauthorized`` (401), ``forbidden`` (403), ``not_found`` (404),
    ``method_not_allowed`` (405), ``conflict`` (409), ``limit_exceeded`` (413, 422, 429),
    ``invalid_input`` (422: the library refused the inputs), ``invalid_request`` (422: the request
    does not match its schema), ``internal_error`` (500). Optional members appear where they
    apply.
    """

    error: str = Field(description="Machine-readable code.")
    detail: str = Field(description="Human-readable message (at most 2,000 characters).")
    errors: list[ValidationIssue] | None = Field(
        None, description="invalid_request: every schema problem (at most 50).")
    problems: list[str] | None = Field(
        None, description="invalid_input of a ledger or concordance: every problem found.")
    limit: str | None = Field(None, description="limit_exceeded: the setting that refused it.")
    maximum: int | None = Field(None, description="limit_exceeded: the setting's value.")
    requested: int | None = Field(None, description="limit_exceeded: what the request asked for.")
    job_status: str | None = Field(None, description="conflict: the job's current status.")


#: Kept for older imports.
Problem = ErrorBody


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
    """One (category, indicator) of a procurement footprint. Money in the model's ``money_unit``
    (``spend_original`` in the ledger currency), footprints in ``unit``."""

    category: str
    stressor: str
    unit: str = Field(description="Unit of footprint, direct and supply_chain, e.g. kg CO2e.")
    spend: float | None = Field(None, description="Spend at basic prices, model money unit.")
    spend_purchaser: float | None = Field(None, description="Spend at purchaser prices, model "
                                                            "money unit.")
    taxes: float | None = Field(None, description="Taxes less subsidies stripped, money unit.")
    margins: float | None = Field(None, description="Trade and transport margins, money unit.")
    spend_original: float | None = Field(None, description="Spend in the ledger currency.")
    spend_share: float | None = Field(None, description="Share of total spend (0-1).")
    footprint: float | None = Field(None, description="Total footprint M y, in unit.")
    direct: float | None = Field(None, description="Emitted by the supplying sectors, in unit.")
    supply_chain: float | None = Field(None, description="footprint - direct, in unit.")
    intensity: float | None = Field(None, description="footprint / spend, unit per money unit.")
    share: float | None = Field(None, description="Share of the total footprint (0-1).")
    cumulative_share: float | None = Field(None, description="Pareto curve over categories.")
    rank: int | None = Field(None, description="1 = largest footprint.")
    model_config = ConfigDict(extra="allow")


class OriginRow(BaseModel):
    """Footprint of one (category, indicator) by region of origin of the emissions."""

    category: str
    stressor: str
    origin_region: str
    by_origin_region: float | None = None
    unit: str | None = None


class FootprintResponse(BaseModel):
    model: str
    buyer_region: str
    money_unit: str | None = None
    categories: int
    rows: list[FootprintRow]
    by_origin_region: list[OriginRow] | None = None


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
        None, description="Fields of spendprint.Uncertainty (as in an uncertainty YAML file). "
                          "Omitted or null: the shipped default (Uncertainty.default(): A by the "
                          "Lenzen et al. 2010 size rule 30 %-5 %, CO2/CH4/N2O 4/12/33 %, spend "
                          "5 %, Dirichlet 100), the same as the CLI; {} leaves everything "
                          "certain (the job status then carries a warning).")


class JobLinks(BaseModel):
    self: str
    result: str


class JobLinksFull(JobLinks):
    table: str


class JobStatus(BaseModel):
    """A job's state. Timestamps are ISO 8601 in UTC; ``progress`` (0-1), ``stage``,
    ``samples_done`` and ``samples_total`` move while it runs."""

    id: str
    kind: str
    model: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(description="Share done, 0-1.")
    stage: str | None = Field(None, description="queued, opening model, preparing inputs, "
                                                "sampling, writing results, done, ...")
    samples_done: int | None = Field(None, description="Monte Carlo samples computed so far.")
    samples_total: int | None = Field(None, description="Monte Carlo samples of the job.")
    message: str
    warning: str | None = Field(None, description="E.g. a specification that leaves every "
                                                  "parameter certain (zero spread).")
    error: str | None = None
    attempts: int
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    links: JobLinksFull


class JobList(BaseModel):
    jobs: list[JobStatus]


class JobTableRow(BaseModel):
    """One (indicator, category) of a finished job's summaries, flat (``/jobs/{id}/table``).

    Monte Carlo: mean, sd, percentiles ``p2.5`` ... ``p97.5`` (one column per stored quantile),
    ranks and their probabilities, Monte Carlo standard errors; a footprint job: the columns of
    a footprint row. Values in ``unit``.
    """

    stressor: str
    category: str
    unit: str | None = None
    deterministic: float | None = None
    mean: float | None = None
    sd: float | None = None
    p_top5: float | None = None
    p_top10: float | None = None
    rank_lo: float | None = None
    rank_hi: float | None = None
    mcse: float | None = None
    rel_mcse: float | None = None
    samples_needed: float | None = None
    model_config = ConfigDict(extra="allow")


class JobTable(BaseModel):
    id: str
    kind: str
    model: str
    rows: list[JobTableRow]
