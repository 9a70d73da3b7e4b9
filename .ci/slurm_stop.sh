#!/usr/bin/env bash
# Stop the single-node SLURM that .ci/slurm_start.sh started (idempotent; nothing running: exit 0).
set -u
stop() {  # stop one daemon by the pid it runs under (never a broad pattern kill)
  local name=$1 pid
  for pid in $(pgrep -x "$name"); do
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  done
}
command -v scancel >/dev/null 2>&1 && pgrep -x slurmctld >/dev/null && scancel --user=root 2>/dev/null
stop slurmd
stop slurmctld
stop munged
echo "slurm_stop: stopped"
exit 0
