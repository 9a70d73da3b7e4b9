"""Server settings: defaults, overridden by ``<data-dir>/settings.toml``, then by environment
variables ``SPENDPRINT_<NAME>`` (e.g. ``SPENDPRINT_PUBLIC_READS=0``), then by command-line options.

Example ``settings.toml``::

    public_reads = false        # metadata reads need a key too
    max_body_bytes = 5_000_000  # 413 above this
    max_ledger_rows = 20000     # 413 above this
    max_samples = 5000          # 422 above this (Monte Carlo samples per job)
    max_jobs_per_key = 2        # 429 when a key has this many queued or running jobs
    max_sample_cells = 5000000  # 413 above: samples x categories x indicators of one job
    job_memory_budget = 4294967296  # 413 above: the job's Monte Carlo memory estimate (bytes)
    max_result_bytes = 268435456    # 413 above: a result download (CSV estimated, Parquet file)
    job_retention_s = 604800    # finished jobs and their files are removed after a week (0: kept)
    cors_origins = ["https://dashboard.example.org"]  # browser origins allowed (none by default)
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFileError, ValidationError

ENV_PREFIX = "SPENDPRINT_"


@dataclass(frozen=True)
class Settings:
    """Everything the server reads at start-up. Paths are resolved under ``data_dir``."""

    data_dir: Path
    #: GET of models, metadata, multipliers and concordances without a key.
    public_reads: bool = True
    #: Largest request body accepted (bytes); larger ones get 413.
    max_body_bytes: int = 10 * 2**20
    #: Most ledger rows in one footprint request or job (413 above).
    max_ledger_rows: int = 20_000
    #: Most Monte Carlo samples per job (422 above).
    max_samples: int = 10_000
    #: Most queued + running jobs per API key (429 above).
    max_jobs_per_key: int = 2
    #: Jobs run at the same time (each in its own worker process).
    job_workers: int = 1
    #: BLAS/OpenMP/Numba threads of each job process (modest by default: the server keeps a core).
    job_threads: int = 1
    #: Opened (and factorised) models kept in memory, least recently used evicted first.
    max_models_in_memory: int = 2
    #: Footprint/multiplier computations running at once (the rest wait). 1: one at a time, BLAS
    #: uses every core; more: BLAS is pinned to one thread per computation (OpenBLAS must not be
    #: entered by several multi-threaded callers at once: it corrupts memory).
    compute_slots: int = 1
    #: BLAS threads in the server process (0: leave the library default). One is the default:
    #: measured on a shared 2-core machine, a 5 x 9,800 by 9,800 x 100 product took 300 ms with
    #: OpenBLAS's two spinning threads and 1.2 ms with one; raise it on a dedicated many-core host.
    blas_threads: int = 1
    #: Models opened and factorised at start-up, so the first request is fast.
    preload: tuple[str, ...] = ()
    #: Address of an existing dask scheduler for Monte Carlo jobs (``tcp://host:8786``); empty:
    #: each job computes in its own worker process with dask's local scheduler.
    dask_scheduler: str = ""
    #: Dask workers of a LocalCluster a job process starts for itself (0: none, local scheduler).
    dask_local_workers: int = 0
    #: Most Monte Carlo result cells (samples x categories x indicators) of one job (413 above):
    #: 5 million cells are 40 MB of float64 samples and a CSV of about 250 MB.
    max_sample_cells: int = 5_000_000
    #: Memory budget of one job's Monte Carlo (bytes; 413 at submission when
    #: ``spendprint.uncertainty.montecarlo.estimate_memory`` exceeds it, and passed to the run).
    job_memory_budget: int = 4 << 30
    #: Largest result download (bytes): the CSV size is estimated from the rows before it is
    #: streamed, a Parquet result is its file size (413 above, with a hint).
    max_result_bytes: int = 256 << 20
    #: Seconds a finished (done, failed, cancelled) job and its files are kept (0: forever).
    job_retention_s: int = 7 * 86_400
    #: Browser origins allowed to call the API (CORS); none by default. ``*`` allows any origin
    #: (keys are sent as headers, never cookies, so credentials are not allowed).
    cors_origins: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def concordances_dir(self) -> Path:
        return self.data_dir / "concordances"

    @property
    def prices_dir(self) -> Path:
        return self.data_dir / "prices"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "spendprint.sqlite"

    @classmethod
    def load(cls, data_dir: str | os.PathLike[str], environ: dict[str, str] | None = None,
             **overrides: Any) -> Settings:
        """Defaults < ``<data_dir>/settings.toml`` < ``SPENDPRINT_*`` env vars < ``overrides``."""
        data_dir = Path(data_dir).expanduser().resolve()
        values: dict[str, Any] = {}
        path = data_dir / "settings.toml"
        if path.exists():
            try:
                values.update(tomllib.loads(path.read_text()))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise InputFileError(path, f"not valid TOML: {exc}") from exc
        env = os.environ if environ is None else environ
        names = {f.name for f in dataclasses.fields(cls)} - {"data_dir", "extra"}
        for name in names:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValidationError(f"unknown setting(s) {unknown}; known: {sorted(names)}")
        typed = {name: _coerce(name, values[name]) for name in values}
        return cls(data_dir=data_dir, **typed)


def _coerce(name: str, value: Any) -> Any:
    default = {f.name: f.default for f in dataclasses.fields(Settings)}[name]
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                return low in {"1", "true", "yes", "on"}
            return bool(value)
        if isinstance(default, int):
            out = int(value)
            if out < 0:
                raise ValueError(value)
            return out
        if isinstance(default, tuple):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"setting {name!r} has a bad value {value!r}") from exc
