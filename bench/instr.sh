#!/bin/bash
# instr.sh - instructions per hooked call, counted by callgrind (which counts
# the same on a noisy machine): `make bench-instr`. For each case, hookcost
# runs N1 and N2 calls; (I(N2) - I(N1)) / (N2 - N1) is the cost of one call
# with the start-up cancelled out. Cases:
#   open, no shim       open+close of a file on tmpfs, no LD_PRELOAD
#   open, pass-through  the same with the shim loaded (path outside prefixes)
#   open, hit           open+close of a cached file under a prefix
#   fopen, hit          fopen+fclose of it
#   stat, pass-through  stat of a path outside the prefixes
#   stat, hit           stat of a directory the tier knows (no system call)
#   stat ENOENT         stat of a missing path, and the tier's negative hit
#   the lookup          of a stat hit, what shim_open_key, tier_hash_key and
#                       tier_lookup cost (inclusive): key, hash, probe, seqlock
# Writes the table to stdout.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
SHMD=$ROOT/shmd/shmd
LIB=$ROOT/preload/libshmcache.so
HC=$BENCH/hookcost
[ -x "$HC" ] || { echo "instr: $HC not built: run make bench-instr" >&2; exit 1; }
N1=${N1:-2000}
N2=${N2:-6000}

tmp=$(mktemp -d /dev/shm/instr.XXXXXX)
inst=$tmp/inst
cleanup() {
    "$SHMD" stop --dir "$inst" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/src/static" "$tmp/out"
head -c 4096 /dev/urandom > "$tmp/src/static/app.css"
head -c 4096 /dev/urandom > "$tmp/out/plain.css"
setsid "$SHMD" --dir "$inst" --settle-ms 0 --revalidate-ms 0 > "$tmp/shmd.log" 2>&1 < /dev/null &
for _ in $(seq 100); do "$SHMD" stats --dir "$inst" >/dev/null 2>&1 && break; sleep 0.05; done
"$SHMD" warm --dir "$inst" "$tmp/src/static/app.css" >/dev/null

count() { # N CALL PATH [shim]
    local out=$tmp/cg.out
    if [ "${4:-}" = shim ]; then
        env LD_PRELOAD="$LIB" SHMCACHE_PREFIX="$tmp/src" SHMCACHE_DIR="$inst" \
            valgrind --tool=callgrind --callgrind-out-file="$out" "$HC" "$1" "$2" "$3" 2>/dev/null || { echo "instr: hookcost $* failed" >&2; exit 1; }
    else
        valgrind --tool=callgrind --callgrind-out-file="$out" "$HC" "$1" "$2" "$3" 2>/dev/null || { echo "instr: hookcost $* failed" >&2; exit 1; }
    fi
    sed -n 's/^summary: //p' "$out"
}

per_call() { # CALL PATH [shim]
    local a b
    a=$(count "$N1" "$@")
    b=$(count "$N2" "$@")
    echo $(( (b - a) / (N2 - N1) ))
}

base=$(per_call open "$tmp/out/plain.css")
pass=$(per_call open "$tmp/out/plain.css" shim)
hit=$(per_call open "$tmp/src/static/app.css" shim)
fhit=$(per_call fopen "$tmp/src/static/app.css" shim)
fbase=$(per_call fopen "$tmp/out/plain.css")
sbase=$(per_call stat "$tmp/out/plain.css")
spass=$(per_call stat "$tmp/out/plain.css" shim)
# a metadata hit and a negative hit: ask once so that shmd records them
env LD_PRELOAD="$LIB" SHMCACHE_PREFIX="$tmp/src" SHMCACHE_DIR="$inst" "$HC" 1 stat "$tmp/src/static" >/dev/null 2>&1
env LD_PRELOAD="$LIB" SHMCACHE_PREFIX="$tmp/src" SHMCACHE_DIR="$inst" "$HC" 1 stat "$tmp/src/static/none.css" >/dev/null 2>&1 || true
for _ in $(seq 100); do
    m=$("$SHMD" stats --dir "$inst" --json | sed -n 's/.*"meta_loads": *\([0-9]*\).*/\1/p')
    [ "${m:-0}" -ge 2 ] && break
    sleep 0.05
done
shit=$(per_call stat "$tmp/src/static" shim)
sneg=$(per_call nostat "$tmp/src/static/none.css" shim)
snegbase=$(per_call nostat "$tmp/out/none.css")
# the lookup itself (issue 11's target): building the key, hashing it,
# probing the table and reading the record under its seqlock, inclusive
# callgrind costs of the three functions over N2 stat hits, per hit
lookup_of() { # CALL PATH
    local out=$tmp/cg.lookup
    env LD_PRELOAD="$LIB" SHMCACHE_PREFIX="$tmp/src" SHMCACHE_DIR="$inst" \
        valgrind --tool=callgrind --callgrind-out-file="$out" "$HC" "$N2" "$1" "$2" >/dev/null 2>&1 ||
        { echo "instr: hookcost $* failed" >&2; exit 1; }
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
        awk -v n="$N2" '/:(shim_open_key|tier_hash_key|tier_lookup) \[/ { gsub(",", "", $1); s += $1 }
                        END { printf "%d", s / n }'
}
lookup=$(lookup_of stat "$tmp/src/static")
hits=$("$SHMD" stats --dir "$inst" --json | sed -n 's/.*"hits": *\([0-9]*\).*/\1/p')
[ "${hits:-0}" -ge $((2 * (N1 + N2))) ] || { echo "instr: only ${hits:-0} hits: the hit cases did not hit" >&2; exit 1; }

printf '| call | instructions | shim adds |\n|---|---:|---:|\n'
printf '| open+close, no shim | %d | |\n' "$base"
printf '| open+close, pass-through | %d | %d |\n' "$pass" $((pass - base))
printf '| open+close, hit | %d | %d |\n' "$hit" $((hit - base))
printf '| fopen+fclose, no shim | %d | |\n' "$fbase"
printf '| fopen+fclose, hit | %d | %d |\n' "$fhit" $((fhit - fbase))
printf '| stat, no shim | %d | |\n' "$sbase"
printf '| stat, pass-through | %d | %d |\n' "$spass" $((spass - sbase))
printf '| stat, hit (a directory) | %d | %d |\n' "$shit" $((shit - sbase))
printf '| stat ENOENT, no shim | %d | |\n' "$snegbase"
printf '| stat ENOENT, negative hit | %d | %d |\n' "$sneg" $((sneg - snegbase))
printf '| of a stat hit: the lookup (key, hash, probe, seqlock read) | | %d |\n' "$lookup"
