"""Batch plans: one YAML file naming models, ledgers and Monte Carlo samples, expanded into tasks.

A plan is validated up front (every problem named by its key, raised as one
[ValidationError][spendprint.errors.ValidationError]); `expand` turns it into tasks, each a pure
function of the plan and its id:

* ``m<i>-l<j>-det``: the deterministic run of model *i* and ledger *j* (footprints, savings,
  labour risk and the scenario levers of `spendprint.procurement.scenarios`), exactly what
  ``spendprint run`` computes;
* ``m<i>-l<j>-mc<start>-<stop>``: Monte Carlo samples ``[start, stop)`` of that pair. Sample *s*
  is a pure function of (seed, s) (counter-based streams), so chunks computed apart concatenate
  to the samples of one run.

Scenarios are not split into chunks: the levers of one scenario file are evaluated together in
the deterministic task (one solve plan).
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFileError, ValidationError

CLUSTER_KINDS = ("local", "slurm", "pbs", "address")
KEYS = ("name", "models", "ledgers", "concordance", "prices", "risk", "scenarios", "samples", "seed",
        "uncertainty", "stressor", "buyer_region", "sample_chunk", "group_size", "spa_top", "out",
        "cluster")
CLUSTER_KEYS = ("kind", "queue", "account", "cores", "processes", "memory", "walltime", "jobs",
                "address", "interface", "job_extra_directives", "local_directory")
#: settings that do not change any number: left out of the plan hash
NOT_HASHED = ("name", "out", "cluster")


@dataclass(frozen=True)
class ClusterSpec:
    """Where the tasks of ``spendprint batch run`` run (``cluster:`` of the plan)."""

    kind: str = "local"
    queue: str | None = None
    account: str | None = None
    cores: int = 1
    processes: int | None = None
    memory: str = "4GB"
    walltime: str = "01:00:00"
    jobs: int = 1
    address: str | None = None
    interface: str | None = None
    job_extra_directives: tuple[str, ...] = ()
    local_directory: str | None = None


@dataclass(frozen=True)
class BatchPlan:
    """A validated plan; paths are absolute (relative ones are read from the plan's folder)."""

    name: str
    models: tuple[str, ...]
    ledgers: tuple[str, ...]
    concordance: tuple[str | None, ...]  # one per ledger (None: the embedded demo concordance)
    out: str
    prices: str | None = None
    risk: str | None = None
    scenarios: str | None = None
    samples: int = 0
    seed: int = 0
    uncertainty: str | None = None
    stressor: str = "CO2e"
    buyer_region: str = "NO"
    sample_chunk: int = 64
    group_size: int = 16
    spa_top: int = 0
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    source: str | None = None  # the plan file

    def hashed(self) -> dict[str, Any]:
        d = asdict(self)
        for k in (*NOT_HASHED, "source"):
            d.pop(k, None)
        return d


@dataclass(frozen=True)
class Task:
    """One unit of work; ``start``/``stop`` are set for Monte Carlo chunks only."""

    id: str
    kind: str  # "det" or "mc"
    model_index: int
    ledger_index: int
    start: int = 0
    stop: int = 0


def _suggest(key: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _int(d: dict, key: str, default: int, problems: list[str], lo: int = 0, where: str = "") -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        problems.append(f"{where}{key}: expected an integer >= {lo}, got {v!r}")
        return default
    return v


def _str(d: dict, key: str, default: str | None, problems: list[str], where: str = "") -> str | None:
    v = d.get(key, default)
    if v is not None and not isinstance(v, (str, int, float)) or isinstance(v, bool):
        problems.append(f"{where}{key}: expected a text value, got {v!r}")
        return default
    return None if v is None else str(v)


def _paths(value: Any, key: str, base: Path, problems: list[str], *, glob_ok: bool = True,
           allow_none: bool = False) -> list[str | None]:
    if value is None:
        if allow_none:
            return []
        problems.append(f"{key}: required (a path or a list of paths)")
        return []
    items = value if isinstance(value, list) else [value]
    if not items:
        problems.append(f"{key}: an empty list; give at least one path")
    out: list[str | None] = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]" if isinstance(value, list) else key
        if item is None and allow_none:
            out.append(None)
            continue
        if not isinstance(item, str) or not item:
            problems.append(f"{where}: expected a path, got {item!r}")
            continue
        p = Path(item).expanduser()
        p = p if p.is_absolute() else base / p
        if glob_ok and any(c in item for c in "*?["):
            hits = sorted(glob.glob(str(p)))
            if not hits:
                problems.append(f"{where}: the pattern {item!r} matches no file")
            out.extend(str(Path(h).resolve()) for h in hits)
        elif not p.exists():
            problems.append(f"{where}: {p} does not exist")
        else:
            out.append(str(p.resolve()))
    return out


def parse_plan(data: Any, base: str | Path = ".", source: str | None = None) -> BatchPlan:
    """Validate a plan mapping (as read from YAML); every problem is named by its key."""
    base = Path(base)
    where = f"{source}: " if source else ""
    if not isinstance(data, dict):
        raise ValidationError(f"{where}a plan is a mapping of keys (name, models, ledgers, ...), "
                              f"not {type(data).__name__}")
    problems: list[str] = []
    for k in data:
        if k not in KEYS:
            problems.append(f"{k}: unknown key{_suggest(str(k), KEYS)}; allowed: {', '.join(KEYS)}")
    name = _str(data, "name", None, problems) or (Path(source).stem if source else "batch")
    models = _paths(data.get("models"), "models", base, problems)
    ledgers = _paths(data.get("ledgers"), "ledgers", base, problems)
    conc_raw = data.get("concordance")
    if isinstance(conc_raw, list):
        conc = _paths(conc_raw, "concordance", base, problems, glob_ok=False, allow_none=True)
        if ledgers and len(conc) != len(ledgers) and len(conc) == len(conc_raw):
            problems.append(f"concordance: {len(conc)} given for {len(ledgers)} ledgers; give one "
                            f"path, or one per ledger in the order of ledgers")
    elif conc_raw is None:
        conc = [None] * len(ledgers)
    else:
        conc = _paths(conc_raw, "concordance", base, problems, glob_ok=False) * max(len(ledgers), 1)
    single = {}
    for key in ("prices", "risk", "scenarios", "uncertainty"):
        got = _paths(data.get(key), key, base, problems, glob_ok=False, allow_none=True)
        if isinstance(data.get(key), list):
            problems.append(f"{key}: expected one path, got a list")
        single[key] = got[0] if got else None
    samples = _int(data, "samples", 0, problems)
    seed = _int(data, "seed", 0, problems)
    group = _int(data, "group_size", 16, problems, lo=1)
    chunk = _int(data, "sample_chunk", max(group, 64 // group * group), problems, lo=1)
    if chunk % group:
        problems.append(f"sample_chunk: {chunk} is not a multiple of group_size {group} (samples "
                        f"are solved in groups; a chunk holds whole groups)")
    spa_top = _int(data, "spa_top", 0, problems)
    out_raw = data.get("out")
    if not isinstance(out_raw, str) or not out_raw:
        problems.append(f"out: required, the output folder (a path), got {out_raw!r}")
        out = str(base / "batch-out")
    else:
        out = str((base / Path(out_raw).expanduser()).resolve())
    cluster = _cluster(data.get("cluster"), problems)
    if problems:
        raise ValidationError(f"{where}invalid plan: " + "; ".join(problems))
    return BatchPlan(name=name, models=tuple(models), ledgers=tuple(ledgers),
                     concordance=tuple(conc), out=out, prices=single["prices"],
                     risk=single["risk"], scenarios=single["scenarios"], samples=samples,
                     seed=seed, uncertainty=single["uncertainty"],
                     stressor=_str(data, "stressor", "CO2e", problems) or "CO2e",
                     buyer_region=_str(data, "buyer_region", "NO", problems) or "NO",
                     sample_chunk=chunk, group_size=group, spa_top=spa_top, cluster=cluster,
                     source=source)


def _cluster(raw: Any, problems: list[str]) -> ClusterSpec:
    if raw is None:
        return ClusterSpec()
    if not isinstance(raw, dict):
        problems.append(f"cluster: expected a mapping (kind, queue, cores, ...), got {raw!r}")
        return ClusterSpec()
    w = "cluster."
    for k in raw:
        if k not in CLUSTER_KEYS:
            problems.append(f"{w}{k}: unknown key{_suggest(str(k), CLUSTER_KEYS)}; allowed: "
                            f"{', '.join(CLUSTER_KEYS)}")
    kind = raw.get("kind", "local")
    if kind not in CLUSTER_KINDS:
        problems.append(f"{w}kind: expected one of {', '.join(CLUSTER_KINDS)}, got {kind!r}"
                        f"{_suggest(str(kind), CLUSTER_KINDS)}")
        kind = "local"
    address = _str(raw, "address", None, problems, w)
    if kind == "address" and not address:
        problems.append(f"{w}address: required with kind: address (e.g. tcp://host:8786)")
    memory = _str(raw, "memory", "4GB", problems, w) or "4GB"
    try:
        from dask.utils import parse_bytes

        parse_bytes(memory)
    except Exception:
        problems.append(f"{w}memory: expected a size such as 16GB, got {memory!r}")
    walltime = _str(raw, "walltime", "01:00:00", problems, w) or "01:00:00"
    parts = walltime.split(":")
    if not (1 <= len(parts) <= 3 and all(p.isdigit() for p in parts)):
        problems.append(f"{w}walltime: expected HH:MM:SS, got {walltime!r}")
    extra = raw.get("job_extra_directives", [])
    if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
        problems.append(f"{w}job_extra_directives: expected a list of strings, got {extra!r}")
        extra = []
    processes = raw.get("processes")
    if processes is not None:
        processes = _int(raw, "processes", 1, problems, lo=1, where=w)
    return ClusterSpec(kind=kind, queue=_str(raw, "queue", None, problems, w),
                       account=_str(raw, "account", None, problems, w),
                       cores=_int(raw, "cores", 1, problems, lo=1, where=w), processes=processes,
                       memory=memory, walltime=walltime,
                       jobs=_int(raw, "jobs", 1, problems, lo=1, where=w), address=address,
                       interface=_str(raw, "interface", None, problems, w),
                       job_extra_directives=tuple(extra),
                       local_directory=_str(raw, "local_directory", None, problems, w))


def load_plan(path: str | Path) -> BatchPlan:
    """Read and validate a plan file (YAML); relative paths in it are read from its folder."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "plan file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"not a readable YAML file: {exc}") from None
    return parse_plan(data, base=p.resolve().parent, source=str(p))


def expand(plan: BatchPlan) -> list[Task]:
    """Every task of the plan, in a fixed order (model, ledger, deterministic first, chunks)."""
    tasks = []
    for i in range(len(plan.models)):
        for j in range(len(plan.ledgers)):
            tasks.append(Task(f"m{i}-l{j}-det", "det", i, j))
            for start in range(0, plan.samples, plan.sample_chunk):
                stop = min(start + plan.sample_chunk, plan.samples)
                tasks.append(Task(f"m{i}-l{j}-mc{start:06d}-{stop:06d}", "mc", i, j, start, stop))
    return tasks


def task_slice(tasks: list[Task], index: int, count: int) -> list[Task]:
    """Tasks of slice ``index`` of ``count`` (round robin: slices get similar work)."""
    if count < 1 or not 0 <= index < count:
        raise ValidationError(f"--task-index must be in [0, --task-count), got {index} of {count}")
    return tasks[index::count]


def input_hashes(plan: BatchPlan) -> dict[str, str]:
    """sha256 of every input file or store of the plan (path -> digest)."""
    from .provenance import sha256_path

    paths = {*plan.models, *plan.ledgers, *(c for c in plan.concordance if c)}
    paths |= {p for p in (plan.prices, plan.risk, plan.scenarios, plan.uncertainty) if p}
    return {p: sha256_path(p) for p in sorted(paths)}


def plan_hash(plan: BatchPlan, inputs: dict[str, str] | None = None) -> str:
    """sha256 of the settings that change numbers, of the inputs' contents and of the installed
    spendprint version (an upgrade recomputes; edits of a development checkout do not)."""
    from importlib import metadata

    inputs = input_hashes(plan) if inputs is None else inputs
    try:
        version = metadata.version("spendprint")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "unknown"
    blob = json.dumps({"plan": plan.hashed(), "inputs": inputs, "spendprint": version},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
