"""``POST /models/{name}/footprints`` (JSON) and ``.../footprints/upload`` (multipart: CSV, xlsx
or Parquet).

Both call `spendprint.procurement.procurement_footprint` on the cached, factorised model and
return its per-category results as a long table (one row per category and stressor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Header, Query, UploadFile

from .auth import KeyInfo
from .http_errors import error_responses
from .inputs import (
    concordance_from,
    concordance_from_upload,
    ledger_from_csv,
    prices_from,
    resolve,
)
from .schemas import FootprintRequest, FootprintResponse
from .tables import Format, long_table, negotiate, table_response

if TYPE_CHECKING:
    from .app import AppState

_CONTENT = {200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}},
            **error_responses(401, 403, 404, 413, 422)}


def compute(state: AppState, name: str, ledger, concordance, prices, buyer_region: str,
            stressors: list[str] | None, by_origin: bool):
    """The library call, on the model from the LRU (its factorisation is reused)."""
    from ..procurement import procurement_footprint

    with state.computing():
        mrio = state.models.get(name)
        return procurement_footprint(mrio, ledger, concordance, prices=prices,
                                     buyer_region=buyer_region, stressors=stressors,
                                     by_origin=by_origin)


def respond(name: str, ds, fmt: Format, buyer_region: str):
    df = long_table(ds, ("category", "stressor"))
    envelope: dict[str, Any] = {"model": name, "buyer_region": buyer_region,
                                "money_unit": ds.attrs.get("money_unit"),
                                "categories": int(ds.sizes["category"])}
    if "by_origin_region" in ds and fmt is Format.json:
        from .tables import records

        bo = long_table(ds[["by_origin_region"]], ("category", "stressor", "origin_region"))
        envelope["by_origin_region"] = records(bo)
    elif "by_origin_region" in ds:
        wide = ds["by_origin_region"].to_dataset(dim="origin_region")
        wide = wide.rename({r: f"origin_{r}" for r in wide.data_vars})
        wide_df = long_table(wide, ("category", "stressor")).drop(columns=["unit"], errors="ignore")
        df = df.merge(wide_df, on=["category", "stressor"])
    return table_response(df, fmt, envelope, filename=f"{name}-footprints")


FormatQ = Annotated[Format | None, Query(description="json, csv or parquet (default from Accept, "
                                                     "else json).")]
AcceptH = Annotated[str | None, Header(include_in_schema=False)]


def install(app: FastAPI, state: AppState, require_key) -> None:
    writer = Depends(require_key)

    @app.post("/models/{name}/footprints", response_model=FootprintResponse, tags=["footprints"],
              responses=_CONTENT)
    def post_footprints(name: str, body: FootprintRequest, _: KeyInfo = writer, format: FormatQ = None,
                       accept: AcceptH = None):
        """Per-category footprints of a ledger (JSON rows), synchronously.

        Rows: every variable of ``procurement_footprint`` over (category, stressor) -- spend,
        footprint, direct, supply_chain, intensity, share, cumulative_share, rank, ... -- with the
        stressor's ``unit``; ``by_origin_region`` when asked for.
        """
        state.models.path(name)
        ledger, concordance, prices = resolve(state, body)
        ds = compute(state, name, ledger, concordance, prices, body.buyer_region, body.stressors,
                     body.by_origin)
        return respond(name, ds, negotiate(format, accept), body.buyer_region)

    @app.post("/models/{name}/footprints/upload", response_model=FootprintResponse,
              tags=["footprints"], responses=_CONTENT)
    def upload_footprints(
        name: str,
        ledger: Annotated[UploadFile, File(description="Ledger file, CSV, xlsx or Parquet: "
                                                       "category, amount, currency, year[, "
                                                       "supplier_country, price_basis, "
                                                       "description].")],
        concordance: Annotated[str, Form(description="Concordance name.")] = "demo",
        concordance_file: Annotated[UploadFile | None, File(description="Concordance file, CSV, "
                                                                        "xlsx or Parquet "
                                                                        "(instead of a name).")
                                    ] = None,
        prices: Annotated[str | None, Form(description="Prices name (default tables if "
                                                       "omitted).")] = None,
        buyer_region: Annotated[str, Form(min_length=1, max_length=64)] = "NO",
        stressors: Annotated[list[str] | None, Form(description="Indicators (repeat the "
                                                                "field).")] = None,
        by_origin: Annotated[bool, Form()] = False,
        sheet: Annotated[str | None, Form(max_length=100, description="xlsx uploads: the sheet, "
                                                                      "a name or a 0-based "
                                                                      "index (default the "
                                                                      "first).")] = None,
        columns: Annotated[str | None, Form(max_length=2000, description="Ledger headers to "
                                                                         "map, e.g. 'Sum NOK="
                                                                         "amount,Gruppe="
                                                                         "category'.")] = None,
        format: FormatQ = None,
        accept: AcceptH = None,
        _: KeyInfo = writer,
    ):
        """Per-category footprints of an uploaded ledger (multipart/form-data): CSV, xlsx or
        Parquet, found from the file's bytes (a zip archive is xlsx, ``PAR1`` Parquet)."""
        state.models.path(name)
        sheet_: str | int = (int(sheet) if sheet.isdigit() else sheet) if sheet else 0
        led = ledger_from_csv(state, _read(ledger), ledger.filename or "ledger.csv", sheet=sheet_,
                              columns=columns)
        if concordance_file is not None and concordance_file.filename:
            conc = concordance_from_upload(_read(concordance_file),
                                           concordance_file.filename or "concordance", sheet_)
        else:
            conc = concordance_from(state, concordance)
        ds = compute(state, name, led, conc, prices_from(state, prices), buyer_region,
                     [s for s in stressors if s] or None if stressors else None, by_origin)
        return respond(name, ds, negotiate(format, accept), buyer_region)


def _read(upload: UploadFile) -> bytes:
    # the body size middleware already bounds the upload
    upload.file.seek(0)
    return upload.file.read()
