#!/bin/bash
# fleet.sh - `make bench-fleet` (also the last part of `make bench`): the
# fleet tier (issue 13), as root on Debian 12. N = 4 simulated hosts, each
# its own sshfs mount of one origin (its own kernel and sshfs caches) and
# its own shmd, over one memcached reached through bench/delayrelay
# (FLEET_RTT_US, 500: a memcached in the same zone), at each round trip to
# the store of RTTS (2 and 20 ms: a network disk, an S3-like store).
#
# For each app of bench/startup.sh (node, py, php; bench/apps.sh) and each
# round trip, twice, without the fleet and with it (a fresh namespace):
#   - host 1 starts the app cold (an empty tier, a fresh mount), then hosts
#     2, 3 and 4 do, one after the other: start-up times, and where each
#     host's copies came from (shmd stats: source_loads, fleet_hits) and
#     how many of the program's own first opens were served after waiting
#     for the fleet (fleet_wait_hits, SHMCACHE_FLEET_WAIT_MS at its
#     default);
#   - host 4, run again until its misses are steady: the warm-tier start-up
#     (the reference of the target);
#   - with the fleet, a host 5 joins as an autoscaled host would: `shmd warm
#     --from-fleet` (timed), then its first start of the app.
# And the per-file cost of a fleet fetch against a source read, as a
# program sees it: a cold host's `cat` of BLOBS files of 32 KiB that the
# fleet holds, against a cold host without a fleet; and the program's wait
# itself by file size (bench/fleetwait.sh: strace of the shim's ppoll).
#
# Every start's output is compared with the app's on tmpfs (paths
# normalised), so a broken setup stops the run instead of producing a
# number. Output: bench/results-fleet.md (BENCH_OUT), raw rows in
# bench/results-raw/fleet/. Environment: ROUNDS (1: each round is new
# hosts), RTTS ("2 20"), FLEET_RTT_US (500), APPS ("node py php"), BLOBS
# (100).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"   # ROOT, SHMD, LIB, OUT and the plumbing
. "$BENCH/apps.sh"  # the apps: NODE_PKGS, PY_PKGS, DIST, build_app_trees, app_cmd
RAW=$BENCH/results-raw/fleet
CACHE=$BENCH/results-raw/startup/cache   # startup.sh's npm tree, shared
ROUNDS=${ROUNDS:-1}
RTTS=${RTTS:-2 20}
FLEET_RTT_US=${FLEET_RTT_US:-500}
APPS=${APPS:-node py php}
BLOBS=${BLOBS:-100}
WARM_MAX=10

trap run_cleanup EXIT
trap 'say "interrupted: cleaning up"; exit 130' INT TERM HUP
T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

[ -x "$SHMD" ] && [ -f "$LIB" ] || die "run 'make bench-fleet'"
[ "$(id -u)" = 0 ] || { say "SKIPPING: needs root (sshd, FUSE mounts, apt-get)"; exit 0; }
[ -c /dev/fuse ] || { say "SKIPPING: no /dev/fuse"; exit 0; }
mkdir -p "$RAW" "$CACHE" "$OUT"
find "$RAW" -mindepth 1 -maxdepth 1 -exec rm -rf {} +

declare -A PKG=([/usr/sbin/sshd]=openssh-server [ssh]=openssh-client [sshfs]=sshfs
                [fusermount3]=fuse3 [memcached]=memcached [node]=nodejs [npm]=npm
                [php]=php-cli [phpunit]=phpunit [/usr/bin/python3]=python3)
missing=()
[ -d "$DIST/django" ] || missing+=(python3-django)
need_packages
cc -O2 -Wall -Wextra -o "$BENCH/delayrelay" "$BENCH/delayrelay.c"

# ---- the app trees and the blobs: origin on ext4, the floor on tmpfs ------------------------
WORK=$(mktemp -d /var/tmp/shmcache-fleet.XXXXXX)
defer "rm -rf $WORK"
ORIGIN=$WORK/origin
FLOOR=$(mktemp -d /dev/shm/shmcache-fleet-floor.XXXXXX)
defer "rm -rf $FLOOR"
mkdir -p "$ORIGIN/blobs" "$WORK/ssh" "$WORK/out" "$WORK/mnt"
chmod 700 "$WORK/ssh"
build_app_trees
for i in $(seq "$BLOBS"); do head -c 32768 /dev/urandom > "$ORIGIN/blobs/b$i.bin"; done
touch -d '1 minute ago' "$ORIGIN"/blobs/*
BLOB_LIST=$(for i in $(seq "$BLOBS"); do printf 'blobs/b%s.bin ' "$i"; done)

# ---- sshd, the round trips, memcached behind its own ------------------------------------------
start_sshd "$WORK/ssh"
declare -A PORT
for rtt in $RTTS; do
    start_relay "$WORK" $((rtt * 500)) "$SSHD_PORT"
    mv "$WORK/relay.out" "$WORK/relay-$rtt.out"
    PORT[$rtt]=$DELAY_PORT
done
MC_PORT=$(freeport)
spawn "$RAW/memcached.log" memcached -u root -l 127.0.0.1 -p "$MC_PORT" -m 2048 -U 0
wait_listening "$MC_PORT" "$SPAWNED" "$RAW/memcached.log" memcached
start_relay "$WORK" $((FLEET_RTT_US / 2)) "$MC_PORT"
FLEET=127.0.0.1:$DELAY_PORT
head -c 32 /dev/urandom > "$WORK/fleet.key"
chmod 600 "$WORK/fleet.key"
say "sshd on 127.0.0.1:$SSHD_PORT; round trips ${RTTS// /, } ms; memcached behind $FLEET_RTT_US µs ($(elapsed))"

# ---- the floor's output -------------------------------------------------------------------------
normalise() { sed -e "s|$2|TREE|g" -e '/^Time: .*Memory: /d' "$1"; }
declare -A WANT_OUT WANT_RC
for app in $APPS; do
    app_cmd "$app" "$FLOOR"
    rc=0
    (cd "$FLOOR/$app" && exec "${CMD[@]}") > "$WORK/out/floor" 2>&1 < /dev/null || rc=$?
    WANT_OUT[$app]=$(normalise "$WORK/out/floor" "$FLOOR")
    WANT_RC[$app]=$rc
done

# ---- hosts --------------------------------------------------------------------------------------
# host_up KEY RTT fleet|none NS: a fresh sshfs mount (MNT[KEY]) and shmd
# (HINST[KEY], HPID[KEY]); with the fleet, namespace NS. Every host mounts
# the store at the same path, as the hosts of a fleet do (a fleet key names
# the path): one host is up at a time, so host_down the last one first.
declare -A MNT HINST HPID HSSHFS
host_up() {
    local key=$1 rtt=$2 how=$3 ns=$4
    MNT[$key]=$WORK/mnt/store
    ! mountpoint -q "${MNT[$key]}" || die "host $key: the previous host is still up"
    MOUNT_PROBE=blobs mount_sshfs "${MNT[$key]}" "${PORT[$rtt]}" "$RAW/sshfs-$key.log"
    HSSHFS[$key]=$SPAWNED
    if [ "$how" = fleet ]; then
        start_shmd "$key" --fleet "$FLEET" --fleet-key "$WORK/fleet.key" --fleet-namespace "$ns"
    else
        start_shmd "$key"
    fi
    HINST[$key]=$INST
    HPID[$key]=$(pgrep -f "^$SHMD --dir $INST " | head -1)
}
host_down() { # KEY
    "$SHMD" stop --dir "${HINST[$1]}" > /dev/null 2>&1 || true
    local i
    for i in $(seq 50); do kill -0 "${HPID[$1]}" 2>/dev/null || break; sleep 0.1; done
    rm -rf "${HINST[$1]}"
    unmount "${MNT[$1]}"
}
STATS="loads source_loads fleet_hits fleet_stores misses hits meta_hits fleet_wait_hits fleet_wait_timeouts meta_loads"
stats_of() { stats_fields "${HINST[$1]}" $'\t' $STATS; } # KEY -> the STATS values
# settle KEY: until the daemon's loads, records and fleet stores stop changing
settle() { settle_stats "${HINST[$1]}" 300 5 0.2 entries meta_loads fleet_stores; }
# start_on KEY APP: one start of APP on host KEY (shimmed), checked; sets MS
start_on() {
    local key=$1 app=$2 base=${MNT[$1]} t0 t1 rc=0
    app_cmd "$app" "$base"
    t0=$EPOCHREALTIME
    (cd "$base/$app" && exec env LD_PRELOAD="$LIB" SHMCACHE_DIR="${HINST[$key]}" \
        SHMCACHE_PREFIX="$base" "${CMD[@]}") > "$WORK/out/run" 2>&1 < /dev/null || rc=$?
    t1=$EPOCHREALTIME
    MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) * 1000}')
    local n
    n=$(normalise "$WORK/out/run" "$base")
    [ "$n" = "${WANT_OUT[$app]}" ] && [ "$rc" = "${WANT_RC[$app]}" ] || {
        diff <(echo "${WANT_OUT[$app]}") <(echo "$n") | head -20 >&2
        die "$app on host $key: output or exit status ($rc, floor ${WANT_RC[$app]}) differs from tmpfs"
    }
}

printf 'round\trtt\tapp\tfleet\thost\tphase\tms\t%s\n' "${STATS// /$'\t'}" > "$RAW/starts.tsv"
printf 'round\trtt\tapp\tsecs\tsaid\n' > "$RAW/warm.tsv"
printf 'round\trtt\tfleet\tfiles\tms\t%s\n' "${STATS// /$'\t'}" > "$RAW/blobs.tsv"
row() { # ROUND RTT APP FLEET HOST PHASE KEY
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$MS" "$(stats_of "$7")" >> "$RAW/starts.tsv"
}

# ---- the measurements ---------------------------------------------------------------------------
for round in $(seq "$ROUNDS"); do
    for rtt in $RTTS; do
        # the per-file cost: host b1 fills the fleet (shmd warm), then a cold
        # host with the fleet and one without each cat the blobs once
        ns=blobs-$round-$rtt-$$
        host_up "b$round-$rtt-fill" "$rtt" fleet "$ns"
        "$SHMD" warm --dir "${HINST[b$round-$rtt-fill]}" "${MNT[b$round-$rtt-fill]}/blobs" > /dev/null
        settle "b$round-$rtt-fill"
        host_down "b$round-$rtt-fill"
        for how in fleet none; do
            k=b$round-$rtt-$how
            host_up "$k" "$rtt" "$how" "$ns"
            t0=$EPOCHREALTIME
            # shellcheck disable=SC2086
            (cd "${MNT[$k]}" && exec env LD_PRELOAD="$LIB" SHMCACHE_DIR="${HINST[$k]}" \
                SHMCACHE_PREFIX="${MNT[$k]}" cat $BLOB_LIST) > "$WORK/out/blobs" < /dev/null
            MS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", (b - a) * 1000}')
            # shellcheck disable=SC2086
            (cd "$ORIGIN" && cat $BLOB_LIST) | cmp -s - "$WORK/out/blobs" || die "blobs on $k: wrong bytes"
            settle "$k"
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$rtt" "$how" "$BLOBS" "$MS" "$(stats_of "$k")" >> "$RAW/blobs.tsv"
            host_down "$k"
        done
        say "round $round, ${rtt} ms: per-file cost measured ($(elapsed))"

        for app in $APPS; do
            for how in none fleet; do
                ns=$app-$round-$rtt-$$
                for h in 1 2 3 4; do
                    k=$app$round-$rtt-$how-$h
                    host_up "$k" "$rtt" "$how" "$ns"
                    start_on "$k" "$app"
                    settle "$k"
                    row "$round" "$rtt" "$app" "$how" "$h" cold "$k"
                    say "round $round, ${rtt} ms, $app, fleet $how: host $h cold ${MS} ms ($(elapsed))"
                    [ "$h" = 4 ] || host_down "$k"
                done
                # host 4's warm tier: misses steady, then the measured start
                prev=-1
                for i in $(seq $WARM_MAX); do
                    start_on "$k" "$app"
                    settle "$k"
                    m=$("$SHMD" stats --dir "${HINST[$k]}" --json | sed -n 's/.*"misses_received": \([0-9]*\).*/\1/p')
                    [ "$m" = "$prev" ] && break
                    prev=$m
                done
                sleep 1.5
                start_on "$k" "$app"
                row "$round" "$rtt" "$app" "$how" 4 warm "$k"
                host_down "$k"
                if [ "$how" = fleet ]; then
                    # host 5 joins: warms from the fleet, then takes traffic
                    k=$app$round-$rtt-$how-5
                    host_up "$k" "$rtt" "$how" "$ns"
                    t0=$EPOCHREALTIME
                    said=$("$SHMD" warm --dir "${HINST[$k]}" --from-fleet 2>/dev/null | tr '\n' ' ')
                    secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')
                    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$rtt" "$app" "$secs" "$said" >> "$RAW/warm.tsv"
                    start_on "$k" "$app"
                    settle "$k"
                    row "$round" "$rtt" "$app" "$how" 5 warmed "$k"
                    say "round $round, ${rtt} ms, $app: host 5 warmed from the fleet in ${secs} s, then started in ${MS} ms ($(elapsed))"
                    host_down "$k"
                fi
            done
        done
    done
done

# ---- the program's wait itself (bench/fleetwait.sh) ----------------------------------------------
FLEET_RTT_US=$FLEET_RTT_US "$BENCH/fleetwait.sh" > "$RAW/fleetwait.txt" 2>&1 || die "fleetwait.sh failed: $(tail -3 "$RAW/fleetwait.txt")"

# ---- the report ----------------------------------------------------------------------------------
{
    machine_env
    echo "memcached=$(memcached --version | awk '{print $2}')"
    echo "rtts=$RTTS"
    echo "fleet_rtt_us=$FLEET_RTT_US"
    echo "rounds=$ROUNDS"
    echo "blobs=$BLOBS"
    echo "secs=$(( $(date +%s) - T0 ))"
} > "$RAW/env.txt"
"$PY" "$BENCH/fleet_report.py" "$RAW" > "$OUT/results-fleet.md"
say "wrote $OUT/results-fleet.md ($(elapsed))"
