#!/usr/bin/env bash
# Start a single-node Slurm (munged, slurmctld, slurmd) on localhost, all state under DIR.
#
#   tests/slurm/start.sh DIR [CPUS] [MEM_MB]
#
# Writes DIR/slurm.conf, DIR/env (SLURM_CONF and PATH to source before sbatch/squeue),
# DIR/bin/srun (re-exports SLURM_CONF, which the jobstep plugin strips) and one PID file
# per daemon (DIR/munged.pid, DIR/slurmctld.pid, DIR/slurmd.pid) for stop.sh.
# Exits non-zero with the daemon's log tail when a daemon does not come up. Needs root
# (slurmd launches jobs as the submitting user) and the Debian packages slurm-wlm, munge.
set -euo pipefail

dir=$(realpath -m "$1")
cpus=${2:-$(nproc)}
mem_mb=${3:-$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)}
here=$(dirname "$(realpath "$0")")
host=$(hostname -s)

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fail() {
    echo "start.sh: $1" >&2
    [ -f "$2" ] && tail -n 20 "$2" >&2
    exit 1
}

mkdir -p "$dir"/{state,spool,log,munge,bin}
chmod 700 "$dir/munge"

# munge: a private key, socket and PID file, so a system munged (if any) is left alone.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=1024 status=none
chmod 400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" || fail "munged did not start" "$dir/log/munged.log"

sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@USER@|$(id -un)|g" \
    -e "s|@CTLD_PORT@|$(free_port)|g" -e "s|@SLURMD_PORT@|$(free_port)|g" \
    -e "s|@CPUS@|$cpus|g" -e "s|@MEM_MB@|$mem_mb|g" -e "s|@PARTITION@|${SLURM_TEST_PARTITION:-debug}|g" \
    "$here/slurm.conf.in" >"$dir/slurm.conf"
export SLURM_CONF="$dir/slurm.conf"

# The jobstep executor removes SLURM_* (SLURM_CONF too) before its inner `srun`.
srun_bin=$(command -v srun)
cat >"$dir/bin/srun" <<EOF
#!/bin/sh
SLURM_CONF="$dir/slurm.conf" exec "$srun_bin" "\$@"
EOF
chmod +x "$dir/bin/srun"
printf 'export SLURM_CONF=%q\nexport PATH=%q:"$PATH"\n' "$dir/slurm.conf" "$dir/bin" >"$dir/env"

slurmctld -i -f "$SLURM_CONF" || fail "slurmctld did not start" "$dir/log/slurmctld.log"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start" "$dir/log/slurmd.log"

# Wait until the node takes jobs.
for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true)
    case "$state" in
        idle* | mix* | alloc*) echo "slurm up: $SLURM_CONF"; exit 0 ;;
    esac
    sleep 0.5
done
fail "the node did not become idle (state '${state:-none}')" "$dir/log/slurmd.log"
