#!/usr/bin/env bash
# Stop the daemons that start.sh started in DIR, by the PIDs in their PID files only.
#
#   tests/slurm/stop.sh DIR
set -uo pipefail

dir=$(realpath -m "$1")
# Cancel what is still queued or running on this private cluster, so no slurmstepd outlives it.
if [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --user="$(id -un)" 2>/dev/null
    sleep 1
fi
pids=()
for name in slurmd slurmctld munged; do
    file="$dir/$name.pid"
    [ -s "$file" ] || continue
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" && pids+=("$pid")
    fi
done
# Give them 10 s to exit, then SIGKILL whatever is left (same PIDs).
for _ in $(seq 1 40); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && exit 0
    sleep 0.25
done
for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null; done
exit 0
