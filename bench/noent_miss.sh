#!/bin/bash
# noent_miss.sh - the cost of a stat that fails with ENOENT under a directory
# that does not exist either (not recordable by shmd: no parent to stat),
# at 2 ms RTT on sshfs (delayrelay), without the shim, with the shim and its
# daemon running (each miss notice makes shmd look the path and its parent up
# on the same mount), and with the daemon SIGSTOPped. As root; a diagnosis
# for bench/results-startup.md (php's and python's gap), not part of make.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
trap run_cleanup EXIT
[ -x "$BENCH/delayrelay" ] || cc -O2 -Wall -Wextra -o "$BENCH/delayrelay" "$BENCH/delayrelay.c"
RAW=$(mktemp -d /tmp/noent-miss.XXXXXX); defer "rm -rf $RAW"
WORK=$(mktemp -d /var/tmp/sshfs-n.XXXX); defer "rm -rf $WORK"
ORIGIN=$WORK/origin; mkdir -p $ORIGIN/static $WORK/ssh; chmod 700 $WORK/ssh
start_sshd $WORK/ssh
start_relay $WORK 1000 $SSHD_PORT
mount_sshfs $WORK/mnt $DELAY_PORT $RAW/sshfs.log
start_shmd n
DP=$(pgrep -f "^$SHMD --dir $INST " | head -1)
defer "kill -CONT $DP"
M=$WORK/mnt/static
cat > $WORK/p.py <<'PY'
import os, sys, time
base, tag = sys.argv[1], sys.argv[2]
t = time.perf_counter()
for i in range(40):
    try: os.stat(f"{base}/{tag}d{i}/autoload.php")
    except FileNotFoundError: pass
print(f"{(time.perf_counter() - t) * 1000 / 40:.2f}")
PY
for r in 1 2 3 4 5; do
  a=$(python3 $WORK/p.py $M raw$r)
  b=$(env LD_PRELOAD=$LIB SHMCACHE_DIR=$INST SHMCACHE_PREFIX=$WORK/mnt python3 $WORK/p.py $M shim$r)
  kill -STOP $DP
  c=$(env LD_PRELOAD=$LIB SHMCACHE_DIR=$INST SHMCACHE_PREFIX=$WORK/mnt python3 $WORK/p.py $M stop$r)
  kill -CONT $DP; sleep 1
  echo "ms per ENOENT (missing parent), 2 ms RTT: no shim $a | shim, daemon running $b | shim, daemon stopped $c"
done
"$SHMD" stats --dir $INST | grep -E 'lost|negative|metadata'
