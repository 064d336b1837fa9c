#!/bin/sh
# tests/run.sh - run test programs one after another, each with its own
# cmocka summary, then one line for the whole suite. Exit 1 if any failed.
# Each program gets at most 240 s, so a hang fails the run instead of
# stalling CI.
root=$(cd "$(dirname "$0")/.." && pwd)
export SHMCACHE_ROOT="$root"
unset LD_PRELOAD SHMCACHE_PREFIX SHMCACHE_NAME SHMCACHE_DIR SHMCACHE_LOG SHMCACHE_VALIDATE SHMCACHE_DISABLE
failed=""
n=0
start=$(date +%s)
for t in "$@"; do
    n=$((n + 1))
    echo "=== $(basename "$t")"
    if ! timeout -k 5 240 "$t"; then
        failed="$failed $(basename "$t")"
    fi
done
echo
if [ -z "$failed" ]; then
    echo "all $n test programs passed ($(( $(date +%s) - start )) s)"
else
    echo "FAILED:$failed"
    exit 1
fi
