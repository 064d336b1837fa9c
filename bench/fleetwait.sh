#!/bin/bash
# fleetwait.sh - how long a program's open waits for the fleet
# (SHMCACHE_FLEET_WAIT_MS), the figure behind its default: memcached behind
# bench/delayrelay (FLEET_RTT_US, 500), host A fills the fleet with 50 files
# of each size, then on host B one `cat` of them, its ppoll calls (the shim's
# wait) timed by strace -T. Prints median, p90 and max per size. Needs
# memcached and strace; no root.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
SHMD=$ROOT/shmd/shmd
LIB=$ROOT/preload/libshmcache.so
FLEET_RTT_US=${FLEET_RTT_US:-500}
SIZES="4096 32768 262144 1048576"
[ -x "$SHMD" ] && [ -f "$LIB" ] || { echo "fleetwait: run 'make all' first" >&2; exit 1; }
cc -O2 -Wall -Wextra -o "$BENCH/delayrelay" "$BENCH/delayrelay.c"

T=$(mktemp -d /tmp/shmcache-fleetwait.XXXXXX)
I=/dev/shm/shmcache-fleetwait-$$
PIDS=()
cleanup() {
    for h in a b; do "$SHMD" stop --dir "$I-$h" > /dev/null 2>&1 || true; done
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
    rm -rf "$T" "$I"-*
}
trap cleanup EXIT
mkdir -p "$T/src"
for s in $SIZES; do for i in $(seq 50); do head -c "$s" /dev/urandom > "$T/src/s$s-$i"; done; done
touch -d '1 minute ago' "$T"/src/*
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
memcached -u "$(id -un)" -l 127.0.0.1 -p "$port" -m 512 -U 0 & PIDS+=($!)
"$BENCH/delayrelay" $((FLEET_RTT_US / 2)) "$port" > "$T/relay" & PIDS+=($!)
for i in $(seq 50); do [ -s "$T/relay" ] && break; sleep 0.1; done
head -c 32 /dev/urandom > "$T/key"
chmod 600 "$T/key"
for h in a b; do
    "$SHMD" --dir "$I-$h" --settle-ms 0 --fleet "127.0.0.1:$(head -1 "$T/relay")" \
        --fleet-key "$T/key" 2> "$T/shmd-$h.log" & PIDS+=($!)
done
for i in $(seq 50); do "$SHMD" stats --dir "$I-b" > /dev/null 2>&1 && break; sleep 0.1; done
"$SHMD" warm --dir "$I-a" "$T/src" > /dev/null
for i in $(seq 100); do
    [ "$("$SHMD" stats --dir "$I-a" --json | sed -n 's/.*"fleet_stores": \([0-9]*\).*/\1/p')" -ge 200 ] && break
    sleep 0.1
done
echo "the program's wait for a fleet copy, memcached $FLEET_RTT_US µs away (50 files each):"
for s in $SIZES; do
    env LD_PRELOAD="$LIB" SHMCACHE_PREFIX="$T/src" SHMCACHE_DIR="$I-b" SHMCACHE_FLEET_WAIT_MS=1000 \
        strace -T -e trace=ppoll -o "$T/strace-$s" cat "$T"/src/s"$s"-* > /dev/null
    python3 - "$T/strace-$s" "$s" <<'PY'
import re, statistics, sys
d = sorted(float(m.group(1)) * 1000 for m in re.finditer(r"<([0-9.]+)>", open(sys.argv[1]).read()))
print(f"{int(sys.argv[2]):>9,} B: median {statistics.median(d):.2f} ms, p90 {d[int(len(d) * 0.9)]:.2f} ms, "
      f"max {d[-1]:.2f} ms ({len(d)} waits)")
PY
done
"$SHMD" stats --dir "$I-b" | grep '^fleet waits'
