#!/bin/bash
# bench.sh - `make bench`: ns per file for open + fstat + read + close,
# measured side by side in one run, rounds interleaved so the machine's
# noise hits every configuration alike. Reports medians and ratios:
#
#   tmpfs        no shim, files in /dev/shm               the floor
#   hit          shim, files on ext4, page cache dropped  served from the tier
#   ext4         no shim, files on ext4, page cache warm  the baseline for...
#   pass         shim loaded, the same files outside every prefix
#
# Targets (issue 2): hit <= 1.10 x tmpfs; pass <= 1.03 x ext4.
# Environment: ROUNDS (default 9), PASSES per run (default 20).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shmd=$root/shmd/shmd
lib=$root/preload/libshmcache.so
openread=$root/bench/openread
rounds=${ROUNDS:-9}
passes=${PASSES:-20}

work=$(mktemp -d /var/tmp/shmcache-bench.XXXXXX)
floor=$(mktemp -d /dev/shm/shmcache-bench-floor.XXXXXX)
inst=/dev/shm/shmcache-bench-$$
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    rm -rf "$work" "$floor" "$inst"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

can_drop=no
if [ "$(id -u)" = 0 ] && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
    can_drop=yes
fi
drop() { [ $can_drop = yes ] && { sync; echo 3 > /proc/sys/vm/drop_caches; } || true; }

# The tree: three size classes, same files on ext4 and on tmpfs.
classes="4k:1000:4096 64k:200:65536 1m:20:1048576"
for c in $classes; do
    IFS=: read -r name count size <<< "$c"
    mkdir -p "$work/tree/$name" "$floor/$name"
    for i in $(seq 1 "$count"); do
        head -c "$size" /dev/urandom > "$work/tree/$name/f$i.bin"
    done
    cp "$work/tree/$name"/* "$floor/$name/"
    find "$work/tree/$name" -type f | sort > "$work/$name.ext4"
    find "$floor/$name" -type f | sort > "$work/$name.tmpfs"
done

"$shmd" --dir "$inst" --settle-ms 0 --capacity 1G 2> "$work/shmd.log" &
daemon=$!
for _ in $(seq 100); do "$shmd" stats --dir "$inst" >/dev/null 2>&1 && break; sleep 0.05; done
"$shmd" warm --dir "$inst" "$work/tree" >/dev/null

shim=(env LD_PRELOAD="$lib" SHMCACHE_DIR="$inst")
hits() { "$shmd" stats --dir "$inst" --json | sed 's/.*"hits": \([0-9]*\).*/\1/'; }
run() { # label list [env...]
    local out
    out=$("${@:3}" "$openread" -p "$passes" -w 2 "$2") || { echo "openread failed: $1" >&2; exit 1; }
    sed 's/.* ns_per_file=\([0-9]*\).*/\1/' <<< "$out"
}

declare -A samples
for r in $(seq 1 "$rounds"); do
    for c in $classes; do
        name=${c%%:*}
        samples[$name.tmpfs]+=" $(run tmpfs "$work/$name.tmpfs")"
        drop
        before=$(hits)
        samples[$name.hit]+=" $(run hit "$work/$name.ext4" "${shim[@]}" SHMCACHE_PREFIX="$work/tree")"
        after=$(hits)
        files=$(wc -l < "$work/$name.ext4")
        if [ $((after - before)) -lt $((files * (passes + 2))) ]; then
            echo "bench: only $((after - before)) hits for $((files * (passes + 2))) opens: not served from the tier" >&2
            exit 1
        fi
        samples[$name.ext4]+=" $(run ext4 "$work/$name.ext4")"
        samples[$name.pass]+=" $(run pass "$work/$name.ext4" "${shim[@]}" SHMCACHE_PREFIX=/nonexistent/prefix)"
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# ratio per round: both sides of a pair ran back to back in that round
ratios() { # numerators denominators
    paste -d' ' <(tr ' ' '\n' <<< "$1" | grep .) <(tr ' ' '\n' <<< "$2" | grep .) |
        awk '{printf "%.4f ", $1 / $2}'
}
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f", lo, hi}'; }
printf '\n%s, %s, %s rounds x %s passes, page cache dropped before hit runs: %s\n' \
    "$(uname -r)" "$(nproc) cpus" "$rounds" "$passes" "$can_drop"
printf 'ns per file: medians over rounds; ratios: median of the per-round ratios (range)\n\n'
printf '| class | tmpfs ns | hit ns | hit/tmpfs | ext4 ns | pass ns | pass/ext4 |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for c in $classes; do
    name=${c%%:*}
    t=$(median <<< "${samples[$name.tmpfs]}")
    h=$(median <<< "${samples[$name.hit]}")
    e=$(median <<< "${samples[$name.ext4]}")
    p=$(median <<< "${samples[$name.pass]}")
    hr=$(ratios "${samples[$name.hit]}" "${samples[$name.tmpfs]}")
    pr=$(ratios "${samples[$name.pass]}" "${samples[$name.ext4]}")
    printf '| %s | %s | %s | %.3f (%s) | %s | %s | %.3f (%s) |\n' "$name" "$t" "$h" \
        "$(median <<< "$hr")" "$(range <<< "$hr")" "$e" "$p" "$(median <<< "$pr")" "$(range <<< "$pr")"
done
