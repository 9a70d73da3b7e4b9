"""Job-array scripts for a batch plan: SLURM (``sbatch``) and PBS (``qsub``).

Each array element runs one slice of the plan's tasks
(``spendprint batch run PLAN --task-index I --task-count N``); a finished task is skipped and a
partial Monte Carlo task resumes, so a resubmitted array only does what is left. Merge after the
array with ``spendprint batch merge PLAN`` (the scripts print the dependent submission).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..errors import ValidationError
from .batch_plan import BatchPlan


def _mem_mb(memory: str) -> int:
    from dask.utils import parse_bytes

    return max(1, parse_bytes(memory) // 2**20)


def _command(plan: BatchPlan, plan_path: str, index_var: str, count: int) -> str:
    exe = shlex.quote(sys.executable)
    return (f"exec {exe} -m spendprint batch run {shlex.quote(plan_path)} "
            f"--task-index \"${index_var}\" --task-count {count}")


def slurm_script(plan: BatchPlan, plan_path: str, array: int) -> str:
    """A ``#SBATCH --array=0-<array-1>`` script, one slice of the tasks per element."""
    if array < 1:
        raise ValidationError(f"--array must be at least 1, got {array}")
    c = plan.cluster
    logs = Path(plan.out) / "tasks" / ".logs"
    lines = ["#!/bin/bash", f"#SBATCH --job-name={plan.name[:64]}", f"#SBATCH --array=0-{array - 1}",
             "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=1",
             f"#SBATCH --mem={_mem_mb(c.memory)}M", f"#SBATCH --time={c.walltime}",
             f"#SBATCH --output={logs}/%x-%A_%a.out"]
    if c.queue:
        lines.append(f"#SBATCH --partition={c.queue}")
    if c.account:
        lines.append(f"#SBATCH --account={c.account}")
    lines += [d if d.startswith("#SBATCH") else f"#SBATCH {d}" for d in c.job_extra_directives]
    lines += ["# one task at a time per element; BLAS on one thread (the tasks are the parallelism)",
              "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
              "# merge when the array is done:",
              f"#   sbatch --dependency=afterany:$JOBID --wrap "
              f"\"{sys.executable} -m spendprint batch merge {plan_path}\"",
              _command(plan, plan_path, "SLURM_ARRAY_TASK_ID", array), ""]
    return "\n".join(lines)


def pbs_script(plan: BatchPlan, plan_path: str, array: int) -> str:
    """A PBS Pro ``#PBS -J 0-<array-1>`` script (``$PBS_ARRAY_INDEX``)."""
    if array < 1:
        raise ValidationError(f"--array must be at least 1, got {array}")
    c = plan.cluster
    logs = Path(plan.out) / "tasks" / ".logs"
    lines = ["#!/bin/bash", f"#PBS -N {plan.name[:15]}",
             f"#PBS -l select=1:ncpus=1:mem={_mem_mb(c.memory)}mb",
             f"#PBS -l walltime={c.walltime}", f"#PBS -o {logs}", "#PBS -j oe"]
    if array > 1:
        lines.append(f"#PBS -J 0-{array - 1}")
    if c.queue:
        lines.append(f"#PBS -q {c.queue}")
    if c.account:
        lines.append(f"#PBS -A {c.account}")
    lines += [d if d.startswith("#PBS") else f"#PBS {d}" for d in c.job_extra_directives]
    lines += ["export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
              'cd "${PBS_O_WORKDIR:-.}"',
              "# merge when the array is done:",
              f"#   qsub -W depend=afterany:$JOBID -- {sys.executable} -m spendprint batch merge "
              f"{plan_path}",
              _command(plan, plan_path, "PBS_ARRAY_INDEX" if array > 1 else "ZERO", array)]
    if array == 1:
        lines.insert(-1, "ZERO=0")
    return "\n".join(lines) + "\n"
