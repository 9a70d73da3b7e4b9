"""``spendprint batch``: run a plan of models x ledgers x Monte Carlo chunks, merge, status, scripts.

Exit codes for schedulers: 0 every task done, 2 a bad plan or input, 3 some tasks failed (named,
with their errors, in ``manifest.json`` and on stderr).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console, console_err

batch_app = typer.Typer(help="Batch runs of a plan file (models x ledgers x samples) on a local "
                             "cluster, SLURM/PBS (dask-jobqueue) or as a job array.",
                        no_args_is_help=True)
app.add_typer(batch_app, name="batch")


def _say(msg: str) -> None:
    console_err.print(msg, highlight=False, markup=False)


def _failed(results: dict) -> list[tuple[str, str]]:
    return [(k, v.get("error", "")) for k, v in results.items() if v["status"] == "failed"]


@batch_app.command("run")
def run(
    plan: Path = typer.Argument(..., help="Plan file (YAML)."),
    task_index: int | None = typer.Option(None, help="Run only slice I of the tasks (job arrays: "
                                                     "$SLURM_ARRAY_TASK_ID); runs in this process."),
    task_count: int | None = typer.Option(None, help="Number of slices N (with --task-index)."),
    in_process: bool = typer.Option(False, "--in-process", help="Run every task here, one after "
                                                                "the other (no cluster)."),
    merge: bool = typer.Option(True, help="Merge after a whole-plan run (not after a slice)."),
) -> None:
    """Run the plan's tasks (finished ones are skipped, partial Monte Carlo chunks resume)."""
    from ..errors import ValidationError
    from ..jobs.batch_merge import merge as do_merge
    from ..jobs.batch_plan import expand, load_plan, plan_hash, task_slice
    from ..jobs.batch_run import run_tasks

    p = load_plan(plan)
    if (task_index is None) != (task_count is None):
        raise ValidationError("--task-index and --task-count go together")
    tasks = expand(p)
    phash = plan_hash(p)
    sliced = task_index is not None
    if sliced:
        tasks = task_slice(tasks, task_index, task_count)
    results = run_tasks(p, tasks, in_process=in_process or sliced, say=_say, phash=phash)
    failed = _failed(results)
    if merge and not sliced:
        do_merge(p, say=_say)
    for tid, err in failed:
        first = err.splitlines()[0] if err else ""
        console_err.print(f"task {tid} failed: {first[:300]}", highlight=False, markup=False)
    busy = [k for k, v in results.items() if v["status"] == "running"]
    if busy:
        _say(f"{len(busy)} task(s) were running elsewhere: {', '.join(busy[:10])}")
    if failed:
        raise typer.Exit(3)


@batch_app.command("merge")
def merge_cmd(plan: Path = typer.Argument(..., help="Plan file (YAML).")) -> None:
    """Merge the finished tasks into results.zarr, categories.parquet, comparison.html and
    manifest.json (exit 3 when a task failed or is missing)."""
    from ..jobs.batch_merge import merge
    from ..jobs.batch_plan import load_plan

    manifest = merge(load_plan(plan), say=_say)
    bad = [t for t in manifest["tasks"] if t["status"] != "done"]
    for t in bad:
        err = (t.get("error") or "").splitlines()[:1]
        console_err.print(f"task {t['id']}: {t['status']} {' '.join(err)[:300]}".rstrip(),
                          highlight=False, markup=False)
    if bad:
        raise typer.Exit(3)


@batch_app.command("status")
def status(plan: Path = typer.Argument(..., help="Plan file (YAML).")) -> None:
    """List the tasks that are done, running, partial (resumable), failed or missing."""
    from ..jobs.batch_plan import load_plan
    from ..jobs.batch_run import plan_status

    st = plan_status(load_plan(plan))
    counts: dict[str, int] = {}
    for tid, s in st.items():
        counts[s["status"]] = counts.get(s["status"], 0) + 1
        extra = (s.get("error") or "").split("\n")[0][:200] or s.get("holder") or (
            f"{s['groups_done']} group(s) done" if "groups_done" in s else "")
        typer.echo(f"{tid}\t{s['status']}\t{extra}".rstrip())
    typer.echo("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if counts.get("failed"):
        raise typer.Exit(3)


@batch_app.command("script")
def script(
    plan: Path = typer.Argument(..., help="Plan file (YAML)."),
    array: int = typer.Option(..., help="Number of array elements (slices of the tasks)."),
    out: Path | None = typer.Option(None, help="Folder for the scripts (default: the plan's out)."),
) -> None:
    """Write a SLURM (batch.sbatch) and a PBS (batch.pbs) job-array script for the plan."""
    from ..io.atomic import write_bytes_atomic
    from ..jobs.batch_plan import load_plan
    from ..jobs.batch_script import pbs_script, slurm_script

    p = load_plan(plan)
    where = Path(out) if out else Path(p.out)
    (Path(p.out) / "tasks" / ".logs").mkdir(parents=True, exist_ok=True)
    path = str(plan.resolve())
    for name, text in (("batch.sbatch", slurm_script(p, path, array)),
                       ("batch.pbs", pbs_script(p, path, array))):
        write_bytes_atomic(where / name, text.encode())
        console.print(str(where / name), highlight=False, markup=False)
