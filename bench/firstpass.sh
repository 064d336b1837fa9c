#!/bin/bash
# firstpass.sh - `make bench-firstpass`: what a first pass (every open a
# miss that shmd then loads) costs against raw sshfs, as a function of the
# round-trip time to the file server, and where the CPU goes (root, Debian 12).
#
# For each one-way delay in DELAYS (µs; 0 = sshd directly, else through
# bench/delayrelay, or tc netem where the kernel has it), sshfs mounts an
# origin of FILES x 4 KiB files and ROUNDS rounds run
#     raw, shim, shim, raw          (ABBA: order effects cancel)
# each a single pass of bench/openread (open+fstat+read+close per file) over
# all files. Before every shim pass the tier is emptied, and after it the
# run waits until shmd has loaded every file, so no load overlaps the next
# timed pass. The ratio of a round is (shim+shim)/(raw+raw); the median
# over rounds is reported, with the CPU time each process spent per file
# (from /proc/PID/task/*/schedstat): sshfs, ssh (the client's cipher),
# sshd (the server side: on a real network it runs on the file server, not
# here) and shmd.
#
# Output: bench/results-firstpass.md (BENCH_OUT), raw lines in
# bench/results-raw/firstpass/firstpass.txt. Environment: DELAYS ("0 100 250 1000"),
# ROUNDS (7), FILES (600).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"   # ROOT, SHMD, LIB, OPENREAD, OUT and the plumbing
RAW=$BENCH/results-raw/firstpass
DELAYS=${DELAYS:-0 100 250 1000}
ROUNDS=${ROUNDS:-7}
FILES=${FILES:-600}

trap run_cleanup EXIT
trap 'say "interrupted: cleaning up"; exit 130' INT TERM HUP

[ -x "$SHMD" ] && [ -f "$LIB" ] && [ -x "$OPENREAD" ] || die "run 'make bench-firstpass'"
[ "$(id -u)" = 0 ] || { say "SKIPPING: needs root (sshd, FUSE mounts)"; exit 0; }
[ -c /dev/fuse ] || { say "SKIPPING: no /dev/fuse"; exit 0; }
for c in sshfs ssh fusermount3; do
    command -v $c >/dev/null || { say "SKIPPING: $c not installed (make bench installs it)"; exit 0; }
done
[ -x /usr/sbin/sshd ] || { say "SKIPPING: sshd not installed (make bench installs it)"; exit 0; }
mkdir -p "$RAW" "$OUT"
: > "$RAW/firstpass.txt"

WORK=$(mktemp -d /var/tmp/shmcache-firstpass.XXXXXX)
defer "rm -rf $WORK"
ORIGIN=$WORK/origin
mkdir -p "$ORIGIN/static/f" "$WORK/ssh"
for i in $(seq "$FILES"); do head -c 4096 /dev/urandom > "$ORIGIN/static/f/$i"; done
start_sshd "$WORK/ssh"
say "origin: $FILES x 4 KiB on $(findmnt -n -o FSTYPE -T "$ORIGIN"); sshd on port $SSHD_PORT"

ns_of() { sed -n 's/.*ns_per_file=\([0-9]*\).*/\1/p' <<< "$1"; }
# CPU ns of every thread of the given pids
cpu_ns() {
    local t=0 p f
    for p in "$@"; do
        for f in /proc/"$p"/task/*/schedstat; do
            [ -r "$f" ] && t=$((t + $(cut -d' ' -f1 "$f" 2>/dev/null || echo 0)))
        done
    done
    echo $t
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

{
    echo "# First pass against raw sshfs, by round-trip time"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r)."
    echo "\`make bench-firstpass\` (bench/firstpass.sh): $FILES x 4 KiB files, one pass of"
    echo "open+fstat+read+close per file, $ROUNDS ABBA rounds of raw/shim/shim/raw per row; each"
    echo "shim pass starts on an empty tier and shmd has loaded every file before the next pass."
    echo "CPU columns: µs of CPU per file of each process during the pass (median over"
    echo "the rounds); sshd is the file server's side, which on a real network runs elsewhere."
    echo
    echo "| round trip | raw µs/file | shim µs/file | shim ÷ raw (median, min–max) | raw CPU sshfs/ssh/sshd | shim CPU sshfs/ssh/sshd/shmd |"
    echo "| --- | --- | --- | --- | --- | --- |"
} > "$WORK/table.md"

n=0
for delay in $DELAYS; do
    n=$((n + 1))
    port=$SSHD_PORT how="sshd directly"
    if [ "$delay" != 0 ]; then
        start_relay "$WORK" "$delay" "$SSHD_PORT"
        port=$DELAY_PORT how="delayrelay +$delay µs each way"
    fi
    mnt=$WORK/mnt$n
    mount_sshfs "$mnt" "$port" "$RAW/firstpass-sshfs$n.log"
    sshfs_pid=$(pgrep -f "^sshfs .*$mnt\$" | head -1)
    ssh_pid=$(pgrep -f "^ssh .*-oPort=$port " | head -1)
    # this connection's side of sshd: the listener's children and theirs
    server_pids=$(for p in $(pgrep -P "$SSHD_PID"); do echo "$p"; pgrep -P "$p"; done | tr '\n' ' ')
    [ -n "$sshfs_pid" ] && [ -n "$ssh_pid" ] && [ -n "$server_pids" ] || die "cannot find sshfs, ssh or sshd's pids"
    start_shmd "fp$n"
    inst=$INST
    shmd_pid=$(pgrep -f "shmd --dir $inst" | head -1)
    ls "$mnt/static/f" | sed "s|^|$mnt/static/f/|" > "$WORK/list$n"
    "$OPENREAD" -c "$WORK/list$n" > /dev/null || die "cannot read the mount"

    # pass raw|shim -> "ns cpu_sshfs cpu_ssh cpu_sshd cpu_shmd" (ns per file)
    pass() {
        local o c0 c1 c2 c3 e=()
        if [ "$1" = shim ]; then
            "$SHMD" flush --dir "$inst" > /dev/null
            e=(env LD_PRELOAD="$LIB" SHMCACHE_PREFIX="$mnt" SHMCACHE_DIR="$inst")
        fi
        sleep 1.1 # past the kernel's 1 s attribute and entry timeouts: every pass looks up afresh
        c0=$(cpu_ns "$sshfs_pid") c1=$(cpu_ns "$ssh_pid") c2=$(cpu_ns $server_pids) c3=$(cpu_ns "$shmd_pid")
        o=$("${e[@]}" "$OPENREAD" -p 1 -w 0 "$WORK/list$n") || die "openread failed"
        echo "$(ns_of "$o") $(( ($(cpu_ns "$sshfs_pid") - c0) / FILES )) $(( ($(cpu_ns "$ssh_pid") - c1) / FILES ))" \
             "$(( ($(cpu_ns $server_pids) - c2) / FILES )) $(( ($(cpu_ns "$shmd_pid") - c3) / FILES ))"
        if [ "$1" = shim ]; then
            [[ $o == *shim=1* ]] || die "the shim was not loaded"
            wait_entries "$inst" "$FILES" || die "shmd did not load the $FILES files"
        fi
    }
    ratios=() rawv=() shimv=() rc=() sc=()
    for r in $(seq "$ROUNDS"); do
        a=($(pass raw)) b=($(pass shim)) c=($(pass shim)) d=($(pass raw))
        [ ${#a[@]} = 5 ] && [ ${#b[@]} = 5 ] && [ ${#c[@]} = 5 ] && [ ${#d[@]} = 5 ] ||
            die "a pass failed (see above)"
        ratio=$(awk -v a="${a[0]}" -v b="${b[0]}" -v c="${c[0]}" -v d="${d[0]}" 'BEGIN {printf "%.3f", (b + c) / (a + d)}')
        echo "delay_us=$delay round=$r raw=${a[*]} shim=${b[*]} shim=${c[*]} raw=${d[*]} ratio=$ratio" >> "$RAW/firstpass.txt"
        ratios+=("$ratio") rawv+=("${a[0]}" "${d[0]}") shimv+=("${b[0]}" "${c[0]}")
        rc+=("${a[1]} ${a[2]} ${a[3]}" "${d[1]} ${d[2]} ${d[3]}")
        sc+=("${b[1]} ${b[2]} ${b[3]} ${b[4]}" "${c[1]} ${c[2]} ${c[3]} ${c[4]}")
    done
    col() { printf '%s\n' "${@:2}" | awk -v k="$1" '{print $k}' | median; }
    us() { awk -v x="$1" 'BEGIN {printf "%.0f", x / 1000}'; }
    med=$(printf '%s\n' "${ratios[@]}" | median)
    lo=$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)
    hi=$(printf '%s\n' "${ratios[@]}" | sort -n | tail -1)
    rtt=$(awk -v d="$delay" 'BEGIN {print (d == 0) ? "0 (" : d * 2 / 1000 " ms ("}')
    echo "| ${rtt}$how) | $(us "$(printf '%s\n' "${rawv[@]}" | median)") | $(us "$(printf '%s\n' "${shimv[@]}" | median)")" \
         "| $(printf '%.3f' "$med") ($lo–$hi) | $(us "$(col 1 "${rc[@]}")") / $(us "$(col 2 "${rc[@]}")") / $(us "$(col 3 "${rc[@]}")")" \
         "| $(us "$(col 1 "${sc[@]}")") / $(us "$(col 2 "${sc[@]}")") / $(us "$(col 3 "${sc[@]}")") / $(us "$(col 4 "${sc[@]}")") |" >> "$WORK/table.md"
    say "round trip $rtt$how): shim ÷ raw median $med ($lo–$hi)"
    unmount "$mnt"
done
cp "$WORK/table.md" "$OUT/results-firstpass.md"
cat "$OUT/results-firstpass.md"
