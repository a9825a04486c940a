#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the tests of `neuro-decode run --backend slurm` (CI starts it; needs root
# and Debian's slurm-wlm and munge). Usage: tools/slurm_local.sh start | stop | status
# Everything it writes lies under $SLURM_LOCAL_DIR (default /tmp/neuro_decode_slurm), but the munge key, which munged reads
# from /etc/munge, and /etc/slurm/slurm.conf. The node offers this machine's cores and 80% of its memory (at most 8 GB);
# accounting is off (job states come from scontrol). `stop` stops only what `start` started.
set -euo pipefail
dir=${SLURM_LOCAL_DIR:-/tmp/neuro_decode_slurm}
host=$(hostname -s)
conf=/etc/slurm/slurm.conf

start() {
  if pgrep -x slurmctld >/dev/null && sinfo -h >/dev/null 2>&1; then echo "slurm_local: SLURM is already up (left as it is)"; return 0; fi
  command -v slurmctld >/dev/null || { echo "slurm_local: slurmctld not found (apt-get install slurm-wlm munge)"; exit 1; }
  mkdir -p "$dir"/{state,spool,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge && dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  : > "$dir/started"
  if ! pgrep -x munged >/dev/null || [ ! -S /run/munge/munge.socket.2 ]; then
    su -s /bin/sh munge -c munged 2>/dev/null || munged --force
    echo munged >> "$dir/started"
  fi
  for i in $(seq 1 20); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.5; done
  mem=$(free -m | awk '/^Mem:/ {m = int($2*0.8); print (m > 8000 ? 8000 : m)}')
  cat > "$conf" <<CONF
# written by neuro_decode's tools/slurm_local.sh: a one-node test cluster
ClusterName=neurodecode
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
KillWait=5
InactiveLimit=0
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc --all) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -c 2>/dev/null || slurmctld
  slurmd -c 2>/dev/null || slurmd
  for i in $(seq 1 30); do
    sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && { echo "slurm_local: one-node SLURM up ($host, $(nproc --all) CPUs)"; return 0; }
    sleep 1
  done
  echo "slurm_local: the node did not come up; see $dir/log"; sinfo || true; exit 1
}

stop() {
  [ -f "$dir/started" ] || { echo "slurm_local: not started by this script; left as it is"; return 0; }
  scontrol shutdown >/dev/null 2>&1 || true
  sleep 1
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  grep -qx munged "$dir/started" && pkill -x munged 2>/dev/null || true
  rm -f "$dir/started"
  for i in $(seq 1 20); do pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || pgrep -x munged >/dev/null || break; sleep 0.5; done
  echo "slurm_local: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo && squeue ;;
  *) echo "usage: $0 start | stop | status"; exit 2 ;;
esac
