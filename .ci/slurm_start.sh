#!/usr/bin/env bash
# Start a single-node SLURM (munged, slurmctld, slurmd -N localhost) for the tests of
# tests/test_slurm.py. Idempotent: a running, idle node is left as it is. When SLURM cannot be
# started (packages missing, not root, a daemon refuses) it prints why and exits 0: the SLURM
# tests then skip with that reason. Needs Debian's slurmctld slurmd slurm-client munge.
set -u
say() { echo "slurm_start: $*"; }
give_up() { say "SLURM not started: $*"; exit 0; }

# best effort, like the Chromium of .ci/run: install the Debian packages when missing
if ! command -v slurmctld >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "installing slurmctld slurmd slurm-client munge"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
     slurmctld slurmd slurm-client munge >/dev/null) || say "apt-get install failed"
fi
for b in munged slurmctld slurmd sinfo scontrol; do
  command -v "$b" >/dev/null 2>&1 || give_up "$b not found (apt-get install -y slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" = 0 ] || give_up "must run as root (starts munged as munge and the SLURM daemons)"

node_idle() { sinfo -h -N -n localhost -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }
if pgrep -x slurmctld >/dev/null && pgrep -x slurmd >/dev/null && node_idle; then
  say "already running: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"; exit 0
fi

CONF=/etc/slurm/slurm.conf
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /run/slurm
chown slurm:slurm /var/spool/slurmctld /var/log/slurm /run/slurm
chown munge:munge /run/munge; chmod 0755 /run/munge

# munge: a key and the daemon, running as the munge user
if [ ! -s /etc/munge/munge.key ]; then
  (command -v mungekey >/dev/null && mungekey --create --keyfile=/etc/munge/munge.key) ||
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
mkdir -p /var/lib/munge /var/log/munge; chown munge:munge /var/lib/munge /var/log/munge
if ! pgrep -x munged >/dev/null; then
  su -s /bin/sh munge -c munged || give_up "munged did not start"
fi
for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null 2>&1 || give_up "munge does not answer"

# the node's layout from slurmd -C; RealMemory below what slurmd detects
layout=$(slurmd -C | head -1) || give_up "slurmd -C failed"
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$layout")
boards=$(sed -n 's/.*Boards=\([0-9]*\).*/\1/p' <<<"$layout")
sockets=$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$layout")
cores=$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$layout")
threads=$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$layout")
mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$layout")
[ -n "$cpus" ] && [ -n "$mem" ] || give_up "cannot read the layout from: $layout"
real=$(( mem * 9 / 10 ))
cat > "$CONF" <<CONF
# written by .ci/slurm_start.sh (single-node test cluster)
ClusterName=spendprint-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Boards=$boards SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$real State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
# no cgroup.conf: proctrack/linuxproc and task/none use no cgroups (22.05 has no "disabled")

pgrep -x slurmctld >/dev/null || slurmctld -c || give_up "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
pgrep -x slurmd >/dev/null || slurmd -N localhost || give_up "slurmd did not start (see /var/log/slurm/slurmd.log)"

for _ in $(seq 60); do
  node_idle && { say "running: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"; exit 0; }
  state=$(sinfo -h -N -n localhost -o '%T' 2>/dev/null)
  case "$state" in down*|drain*) scontrol update nodename=localhost state=resume >/dev/null 2>&1;; esac
  sleep 0.5
done
give_up "the node is not idle after 30 s (state: $(sinfo -h -N -o '%T' 2>&1)); see /var/log/slurm/"
