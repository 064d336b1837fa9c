#!/bin/sh
# tests/run.sh - run test programs one after another, each with its own
# cmocka summary, then one line for the whole suite, naming the tests that
# were skipped (a test skips what this machine cannot do, and says why).
# Exit 1 if any failed.
# Each program gets at most 240 s, so a hang fails the run instead of
# stalling CI.
root=$(cd "$(dirname "$0")/.." && pwd)
export SHMCACHE_ROOT="$root"
unset LD_PRELOAD SHMCACHE_PREFIX SHMCACHE_NAME SHMCACHE_DIR SHMCACHE_LOG SHMCACHE_VALIDATE SHMCACHE_DISABLE
failed=""
skipped=""
n=0
start=$(date +%s)
log=$(mktemp /tmp/shmcache-run.XXXXXX) || exit 1
trap 'rm -f "$log" "$log.rc"' EXIT
for t in "$@"; do
    n=$((n + 1))
    name=$(basename "$t")
    echo "=== $name"
    { timeout -k 5 240 "$t"; echo $? > "$log.rc"; } 2>&1 | tee "$log"
    [ "$(cat "$log.rc")" = 0 ] || failed="$failed $name"
    # cmocka names each skipped test twice (when run, in its summary)
    for s in $(sed -n 's/^\[  SKIPPED \] \([A-Za-z_][A-Za-z_0-9]*\)$/\1/p' "$log" | sort -u); do
        skipped="$skipped $name:$s"
    done
done
echo
nskip=$(echo $skipped | wc -w)
what="$nskip test$([ "$nskip" = 1 ] || echo s) skipped${skipped:+ (}$(echo $skipped)${skipped:+)}"
if [ -z "$failed" ]; then
    echo "all $n test programs passed, $what ($(( $(date +%s) - start )) s)"
else
    echo "FAILED:$failed; $what"
    exit 1
fi
