"""Request parts -> procurement objects (Ledger, Concordance, Prices); validation is the library's.

Named concordances and prices are read once and cached by (path, modification time).
"""

from __future__ import annotations

import functools
import io
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InputFileError, LedgerError
from .http_errors import LimitExceeded
from .schemas import ConcordanceRow, LedgerRow, PriceTables, ProcurementInputs

if TYPE_CHECKING:
    from .app import AppState

_cache: dict[tuple[str, str, float], Any] = {}
_cache_lock = threading.Lock()


def _cached(kind: str, path: Path | None, load):
    stamp = path.stat().st_mtime if path is not None else 0.0
    key = (kind, str(path), stamp)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    value = load()
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = value
    return value


@functools.lru_cache(maxsize=1)
def _demo_concordance():
    try:
        from ..procurement import demo_inputs
    except ImportError:  # the procurement layer without its demo: the shipped concordance file
        from importlib import resources

        from ..procurement import Concordance

        with resources.as_file(resources.files("spendprint.data") / "demo_concordance.csv") as p:
            return Concordance.read(p)
    return demo_inputs()[1]


@functools.lru_cache(maxsize=1)
def default_prices():
    from ..procurement import Prices

    return Prices.default()


def load_concordance(state: AppState, name: str):
    """The concordance ``name`` from ``<data-dir>/concordances`` (or the built-in ``demo``)."""
    from ..procurement import Concordance

    path = state.concordances.path(name)
    if path is None:
        return _demo_concordance()
    return _cached("concordance", path, lambda: Concordance.read(path))


def concordance_from(state: AppState, spec: str | list[ConcordanceRow]):
    """A named concordance, or inline rows; validated inline concordances are cached by content
    (clients tend to send the same concordance with every ledger)."""
    if isinstance(spec, str):
        return load_concordance(state, spec)
    rows = tuple((r.category, r.sector, r.weight, r.origin_region or "") for r in spec)
    return _inline_concordance(rows)


@functools.lru_cache(maxsize=32)
def _inline_concordance(rows: tuple[tuple[str, str, float, str], ...]):
    from ..procurement import Concordance

    df = pd.DataFrame(list(rows), columns=["category", "sector", "weight", "origin_region"])
    return Concordance.from_frame(df, source="request concordance")


def prices_from(state: AppState, spec: str | PriceTables | None):
    """``None`` (the library's defaults), a named base, or a base with inline overrides."""
    from ..procurement import Prices

    if spec is None:
        return default_prices()
    name = spec if isinstance(spec, str) else spec.name
    path = state.prices.path(name)
    base = default_prices() if path is None else _cached(
        "prices", path, lambda: Prices.read(path, base=default_prices()))
    if isinstance(spec, str):
        return base
    tables = {k: pd.DataFrame(v) for k in ("rates", "index", "margins", "margin_sectors")
              if (v := getattr(spec, k)) is not None}
    if not tables:
        return base
    return base.override(**tables, source="request price tables")


def check_rows(state: AppState, n: int) -> None:
    limit = state.settings.max_ledger_rows
    if n > limit:
        raise LimitExceeded(413, "max_ledger_rows", limit, n, "the number of ledger rows")


def ledger_from_rows(state: AppState, rows: list[LedgerRow]):
    from ..procurement import Ledger

    check_rows(state, len(rows))
    df = pd.DataFrame([r.model_dump() for r in rows], columns=list(LedgerRow.model_fields))
    for col in ("supplier_country", "price_basis", "description"):
        df[col] = df[col].fillna("")
    return Ledger.from_frame(df, source="request ledger")


def upload_format(data: bytes, filename: str) -> str:
    """``"xlsx"``, ``"parquet"`` or ``"csv"`` of an upload: by its leading bytes (a zip archive,
    ``PAR1``), else by the file name's suffix, else CSV."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:4] == b"PAR1":
        return "parquet"
    suffix = Path(filename or "").suffix.lower()
    if suffix in (".xlsx", ".parquet"):
        raise InputFileError(filename, f"the upload is named {suffix} but is not a valid "
                                       f"{suffix[1:]} file")
    return "csv"


def read_binary_upload(data: bytes, filename: str, fmt: str, sheet: str | int = 0) -> pd.DataFrame:
    """An uploaded xlsx or Parquet file as a text table with spreadsheet row numbers (the reader
    of ``Ledger.read``), through a private temporary file."""
    import tempfile

    from ..io.tabular import read_table

    with tempfile.TemporaryDirectory(prefix="spendprint-upload-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"
        path.write_bytes(data)
        try:
            df = read_table(path, as_text=True, sheet=sheet)
        except InputFileError as exc:
            raise InputFileError(filename, str(exc).split(": ", 1)[-1]) from exc
        except Exception as exc:  # openpyxl/pyarrow errors on damaged files
            raise InputFileError(filename, f"cannot read as {fmt}: {str(exc)[:300]}") from exc
    # Parquet keeps its types: a missing text value (null) is an empty cell, as in CSV
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype(object).where(df[col].notna(), "")
    return df


def concordance_from_upload(data: bytes, filename: str = "concordance.csv",
                            sheet: str | int = 0):
    """A concordance from an uploaded CSV, xlsx or Parquet file."""
    from ..procurement import Concordance

    if not data.strip():
        raise InputFileError(filename, "the uploaded concordance is empty")
    fmt = upload_format(data, filename)
    if fmt != "csv":
        return Concordance.from_frame(read_binary_upload(data, filename, fmt, sheet),
                                      source=filename, _numbered=True)
    from ..io.tabular import check_text_table

    check_text_table(filename, ",", data=data, max_columns=256)
    try:
        df = pd.read_csv(io.StringIO(data.decode("utf-8-sig")), dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise InputFileError(filename, f"cannot read as CSV: {str(exc)[:300]}") from exc
    return Concordance.from_frame(df, source=filename)


def ledger_from_csv(state: AppState, data: bytes, filename: str = "ledger.csv",
                    sheet: str | int = 0, columns: str | None = None):
    """A ledger from an uploaded CSV, xlsx or Parquet file (header row; columns as for
    ``Ledger.read``; the format is found from the bytes, then the name). ``columns`` maps other
    headers (``"Sum NOK=amount,Gruppe=category"``), ``sheet`` picks the xlsx sheet."""
    import tempfile

    from ..io.tabular import check_text_table
    from ..procurement import Ledger

    if not data.strip():
        raise InputFileError(filename, "the uploaded ledger is empty")
    fmt = upload_format(data, filename)
    if fmt != "csv":
        # the file reader of the CLI (header row found in the first rows, synonyms, sheets)
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(filename).stem)[:80]
        with tempfile.TemporaryDirectory(prefix="spendprint-upload-") as tmp:
            path = Path(tmp) / f"{safe or 'ledger'}.{fmt}"
            path.write_bytes(data)
            try:
                ledger = Ledger.read(path, columns=columns or None, sheet=sheet)
            except (InputFileError, LedgerError):
                raise
            except Exception as exc:  # openpyxl/pyarrow errors on damaged files
                raise InputFileError(filename, f"cannot read as {fmt}: {str(exc)[:300]}") from exc
        if len(ledger.frame) == 0:
            raise InputFileError(filename, "the uploaded ledger has a header but no data rows")
        check_rows(state, len(ledger.frame))
        return ledger
    # one linear pass: header width and line length capped (413) before pandas sees the bytes
    check_text_table(filename, ",", data=data, max_columns=256)
    try:
        text = data.decode("utf-8-sig")
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise InputFileError(filename, f"cannot read as CSV: {str(exc)[:300]}") from exc
    if len(df) == 0:
        raise InputFileError(filename, "the uploaded ledger has a header but no data rows")
    check_rows(state, len(df))
    return Ledger.from_frame(df, source=filename, columns=columns or None)


def ledger_rows_of(ledger) -> list[dict[str, Any]]:
    """A ledger as JSON-able rows (what a job stores to re-read it on resume)."""
    frame = ledger.frame.reset_index(drop=True)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict(orient="records")]


def resolve(state: AppState, req: ProcurementInputs):
    """(ledger, concordance, prices) of a request, all validated by the library."""
    ledger = ledger_from_rows(state, req.ledger)
    return ledger, concordance_from(state, req.concordance), prices_from(state, req.prices)
