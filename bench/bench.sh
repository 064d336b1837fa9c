#!/bin/bash
# bench.sh - `make bench`: shmcache against a real network filesystem, its
# peers and a real web app, side by side in one run (root, Debian 12).
#
#  1. an origin tree on ext4 (bench/mktree.py): static assets, 4 KiB files,
#     a 64 MiB file, a Python package tree; the same tree copied to tmpfs;
#  2. sshd on 127.0.0.1 (throwaway keys, free ports), mounted with sshfs,
#     sshfs -o kernel_cache and rclone (sftp, --vfs-cache-mode full), and
#     again with sshfs and rclone through a 2 ms round trip (tc netem where
#     the kernel has it, else bench/delayrelay: +DELAY_US each direction);
#  3. micro rows: ns per file for open+fstat+read+close (bench/openread),
#     per size class, configurations interleaved round by round;
#  4. gunicorn (4 workers, demo/app.py: plain WSGI + wsgi.file_wrapper)
#     and nginx (with/without open_file_cache) under wrk;
#  5. python3 imports of the package tree from the mount;
#  6. memory: tier bytes vs the working set, the workers' PSS;
#  7. bench/results.md, bench/results.png, bench/SUMMARY.md (bench/report.py)
#     from the samples in bench/results-raw/.
#
# Every hit row checks that shmd's hit counter grew by the number of opens
# (and misses did not), every mount and the tier are checked byte for byte
# against the origin (digest), so a broken setup stops the run instead of
# producing a number. Everything set up is torn down on exit, failure or
# Ctrl-C. Without root or /dev/fuse the rows that need them are skipped.
#
# Environment: ROUNDS (micro rounds, 7), FAST_REPS (alternations of the
# tmpfs/hit and ext4/pass-through pairs per round, 3), WEB_ROUNDS (5), WEB_SECONDS (6),
# WEB_CONNS (8), PY_ROUNDS (5), PY_REPS (3 runs per round), DELAY_US (1000),
# DELAY_METHOD (auto|netem|relay), SKIP (space-separated: micro web py 2ms),
# BENCH_SCALE (file counts of the tree, 1.0), BENCH_OUT (where results.md,
# results.png and SUMMARY.md go: bench/).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"   # ROOT, SHMD, LIB, OPENREAD, OUT and the plumbing
RAW=$BENCH/results-raw
ROUNDS=${ROUNDS:-7}
WEB_ROUNDS=${WEB_ROUNDS:-5}
WEB_SECONDS=${WEB_SECONDS:-6}
WEB_CONNS=${WEB_CONNS:-8}
PY_ROUNDS=${PY_ROUNDS:-5}
PY_REPS=${PY_REPS:-3}
DELAY_US=${DELAY_US:-1000}
DELAY_METHOD=${DELAY_METHOD:-auto}
SKIP=" ${SKIP:-} "
export BENCH_SCALE=${BENCH_SCALE:-1}

trap run_cleanup EXIT
trap 'say "interrupted: cleaning up"; exit 130' INT TERM HUP

skipping() { [[ $SKIP == *" $1 "* ]]; }
T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

[ -x "$SHMD" ] && [ -f "$LIB" ] && [ -x "$OPENREAD" ] || die "run 'make bench' (needs shmd/shmd, preload/libshmcache.so, bench/openread)"
# results-raw/firstpass/ is bench/firstpass.sh's, results-raw/startup/ bench/startup.sh's
find "$RAW" -mindepth 1 -maxdepth 1 ! -name firstpass ! -name startup -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$RAW/lists" "$OUT"

# ---- 0. what this machine can do --------------------------------------------------------
IS_ROOT=no
[ "$(id -u)" = 0 ] && IS_ROOT=yes
# command -> Debian package
declare -A PKG=([sshd]=openssh-server [ssh]=openssh-client [sshfs]=sshfs
                [fusermount3]=fuse3 [rclone]=rclone [gunicorn]=gunicorn [wrk]=wrk
                [nginx]=nginx [gnuplot]=gnuplot-nox [python3]=python3)
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing=()
for c in "${!PKG[@]}"; do have "$c" || missing+=("${PKG[$c]}"); done
[ -x "$PY" ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    if [ $IS_ROOT = yes ]; then
        say "installing from Debian: ${missing[*]}"
        apt_install "${missing[@]}" ||
            say "could not install all of: ${missing[*]} (see $RAW/apt.log); their rows are skipped"
    else
        say "not root: cannot install ${missing[*]}; their rows are skipped"
    fi
fi
[ -x "$PY" ] || die "needs Debian's $PY"

HAVE_FUSE=yes
why_no_fuse=
if [ $IS_ROOT != yes ]; then
    HAVE_FUSE=no why_no_fuse="not root"
elif [ ! -c /dev/fuse ]; then
    HAVE_FUSE=no why_no_fuse="no /dev/fuse"
else
    for c in sshd ssh sshfs fusermount3; do
        have "$c" || { HAVE_FUSE=no why_no_fuse="$c not installed"; }
    done
fi
HAVE_RCLONE=$HAVE_FUSE
have rclone || HAVE_RCLONE=no
[ $HAVE_FUSE = yes ] || say "SKIPPING every network-filesystem row (sshfs, rclone, shim on sshfs): $why_no_fuse"
[ $HAVE_RCLONE = yes ] || [ $HAVE_FUSE = no ] || say "SKIPPING the rclone rows: rclone not installed"
CAN_DROP=no
if [ $IS_ROOT = yes ] && sync && echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; then
    CAN_DROP=yes
else
    say "SKIPPING the cold ext4 row: cannot drop the page cache (not root)"
fi
# The page cache only (1), not dentries and inodes (3): dropping inodes
# renumbers every sshfs file (FUSE assigns inode numbers per lookup), and
# shmd's revalidation then drops those entries as changed (see results.md).
drop_caches() { sync; echo 1 > /proc/sys/vm/drop_caches; }

# helpers compiled here (make builds only openread)
cc -O2 -Wall -Wextra -o "$BENCH/delayrelay" "$BENCH/delayrelay.c"

# ---- 1. the origin tree and its tmpfs copy ---------------------------------------------------
WORK=$(mktemp -d /var/tmp/shmcache-bench.XXXXXX)
defer "rm -rf $WORK"
FLOOR=$(mktemp -d /dev/shm/shmcache-bench-floor.XXXXXX)
defer "rm -rf $FLOOR"
ORIGIN=$WORK/origin
fstype() { findmnt -n -o FSTYPE -T "$1" 2>/dev/null || stat -f -c %T "$1"; }
say "origin tree on $(fstype "$WORK") ($WORK), tmpfs copy in $FLOOR"
"$PY" "$BENCH/mktree.py" "$ORIGIN"
cp -a "$ORIGIN/." "$FLOOR/"
ORIGIN_FS=$(fstype "$ORIGIN")

# Size classes: name -> origin files (sorted).
CLASSES="4k asset img 64m"
declare -A CLASS_DESC=([4k]="4 KiB" [asset]="1-16 KiB css/js/svg" [img]="64 KiB-1 MiB images"
                       [64m]="64 MiB")
(cd "$ORIGIN" && find micro/4k -type f | sort) > "$RAW/lists/4k.rel"
(cd "$ORIGIN" && find static/css static/js static/svg -type f | sort) > "$RAW/lists/asset.rel"
(cd "$ORIGIN" && find static/img -type f | sort) > "$RAW/lists/img.rel"
echo static/big/video.bin > "$RAW/lists/64m.rel"
# list CLASS BASE -> a list file of absolute paths under BASE
list() {
    local f=$RAW/lists/$1.$(echo "$2" | tr / _)
    [ -f "$f" ] || sed "s|^|$2/|" "$RAW/lists/$1.rel" > "$f"
    echo "$f"
}
# expected bytes and digest of the first N files of a class (from the origin)
declare -A DIGEST
origin_check() { # CLASS N -> "bytes digest"
    local k=$1:$2
    if [ -z "${DIGEST[$k]:-}" ]; then
        local o
        o=$("$OPENREAD" -c -n "$2" "$(list "$1" "$ORIGIN")")
        DIGEST[$k]="$(sed 's/.*bytes=\([0-9]*\).*/\1/' <<< "$o") $(sed 's/.*digest=\([0-9a-f]*\).*/\1/' <<< "$o")"
    fi
    echo "${DIGEST[$k]}"
}
nfiles() { wc -l < "$RAW/lists/$1.rel"; }

# verify_tree BASE WHAT [env...]: every class under BASE has the origin's bytes
verify_tree() {
    local base=$1 what=$2 c o n
    shift 2
    for c in $CLASSES; do
        n=$(nfiles "$c")
        o=$("$@" "$OPENREAD" -c "$(list "$c" "$base")") || die "$what: cannot read class $c"
        read -r eb ed <<< "$(origin_check "$c" "$n")"
        [[ $o == *"bytes=$eb digest=$ed"* ]] ||
            die "$what: class $c differs from the origin ($o; want bytes=$eb digest=$ed)"
    done
    say "$what: all $(( $(nfiles 4k) + $(nfiles asset) + $(nfiles img) + 1 )) files byte-identical to the origin"
}
verify_tree "$FLOOR" "tmpfs copy"

# ---- 2. sshd, the mounts, the 2 ms round trip ------------------------------------------------
DELAY_HOW=none
M_SSHFS= M_KC= M_RC= M_SSHFS2= M_RC2=
if [ $HAVE_FUSE = yes ]; then
    mkdir -p "$WORK/ssh" "$WORK/mnt"
    chmod 700 "$WORK/ssh"
    NETEM_PORT=
    if [ "$DELAY_METHOD" != relay ] && ! skipping 2ms && have tc; then
        NETEM_PORT=$(freeport)
    fi
    start_sshd "$WORK/ssh"
    say "sshd on 127.0.0.1:$SSHD_PORT (pid $SSHD_PID)"
    if ! skipping 2ms; then
        if [ -n "$NETEM_PORT" ] && listening "$NETEM_PORT" && netem_try "$DELAY_US" "$NETEM_PORT"; then
            DELAY_PORT=$NETEM_PORT DELAY_HOW="tc netem on lo, +${DELAY_US} us each direction (port $NETEM_PORT)"
        else
            [ "$DELAY_METHOD" = netem ] && die "tc netem is not available here (DELAY_METHOD=netem)"
            start_relay "$WORK" "$DELAY_US" "$SSHD_PORT"
            DELAY_HOW="bench/delayrelay (no netem qdisc in this kernel), +${DELAY_US} us each direction"
        fi
        say "2 ms path: $DELAY_HOW"
    fi
    M_SSHFS=$WORK/mnt/sshfs
    mount_sshfs "$M_SSHFS" "$SSHD_PORT" "$RAW/sshfs.log"
    M_KC=$WORK/mnt/sshfs-kc
    mount_sshfs "$M_KC" "$SSHD_PORT" "$RAW/sshfs-kc.log" kernel_cache
    if [ $HAVE_RCLONE = yes ]; then
        M_RC=$WORK/mnt/rclone
        mount_rclone "$M_RC" "$SSHD_PORT" "$RAW/rclone.log" "$WORK/rclone-cache"
    fi
    if ! skipping 2ms; then
        M_SSHFS2=$WORK/mnt/sshfs-2ms
        mount_sshfs "$M_SSHFS2" "$DELAY_PORT" "$RAW/sshfs-2ms.log"
        if [ $HAVE_RCLONE = yes ]; then
            M_RC2=$WORK/mnt/rclone-2ms
            mount_rclone "$M_RC2" "$DELAY_PORT" "$RAW/rclone-2ms.log" "$WORK/rclone-cache-2ms"
        fi
    fi
    # byte checks; for rclone this first read also fills its VFS cache (warm)
    for m in $M_SSHFS $M_KC $M_RC $M_SSHFS2 $M_RC2; do
        verify_tree "$m" "$(basename "$m")"
    done
    say "mounts ready ($(elapsed))"
fi

# ---- shmd instances -----------------------------------------------------------------------------
# lan / 2ms: the warm tiers of the hit rows (and the imports); first /
# first2: emptied before every first-pass run. Default revalidation (1 s)
# everywhere: each daemon stats its entries on the mount once a second.
declare -A INSTS
SRC=$ORIGIN    # where the shim's hit rows read from (sshfs when there is one)
[ $HAVE_FUSE = yes ] && SRC=$M_SSHFS
start_shmd lan
INSTS[lan]=$INST
start_shmd first
INSTS[first]=$INST
start_shmd firstx
INSTS[firstx]=$INST
if [ -n "$M_SSHFS2" ]; then
    start_shmd 2ms
    INSTS[2ms]=$INST
    start_shmd first2
    INSTS[first2]=$INST
fi
declare -A INST_PREFIX=([lan]=$SRC [first]=$SRC [2ms]=$M_SSHFS2 [first2]=$M_SSHFS2
                        [firstx]=$ORIGIN)
shim_env() { # INSTNAME [PREFIX]
    echo env LD_PRELOAD="$LIB" SHMCACHE_DIR="${INSTS[$1]}" SHMCACHE_PREFIX="${2:-${INST_PREFIX[$1]}}"
}
# the pass-through row reads the origin on ext4 with the prefix elsewhere
PASS_PREFIX=$SRC
[ "$SRC" = "$ORIGIN" ] && PASS_PREFIX=$WORK/not-the-origin
TOTAL_FILES=$(find "$ORIGIN" -type f | wc -l)
warm_tier() { # INSTNAME BASE
    "$SHMD" warm --dir "${INSTS[$1]}" "$2/micro" "$2/static" "$2/py" > "$RAW/warm-$1.log" 2>&1 ||
        { tail -5 "$RAW/warm-$1.log" >&2; die "shmd warm $1 failed"; }
    wait_entries "${INSTS[$1]}" "$TOTAL_FILES" ||
        die "tier $1 holds $(stat_of "${INSTS[$1]}" entries) of $TOTAL_FILES files"
    local h0 h1 n
    h0=$(stat_of "${INSTS[$1]}" hits)
    # shellcheck disable=SC2046
    verify_tree "$2" "tier $1 (hits)" $(shim_env "$1")
    h1=$(stat_of "${INSTS[$1]}" hits)
    n=$(( $(nfiles 4k) + $(nfiles asset) + $(nfiles img) + 1 ))
    [ $((h1 - h0)) -ge "$n" ] || die "tier $1: $((h1 - h0)) hits for $n opens: not served from the tier"
}
# object_lists: for each class, the tier's object file behind every path
# (the shim's descriptor, as /proc/self/fd shows it), for row (a'): the same
# pages as the hits, read without the shim. Two tmpfs copies of a file can
# read at quite different speeds on this kind of VM (a 64 MiB file copied
# twice: the first copy read 1.2-1.7x slower than the second in 3 of 3
# trials, whichever name it had), so only the same pages isolate what the
# shim costs.
object_lists() {
    local c
    for c in $CLASSES; do
        # shellcheck disable=SC2046
        $(shim_env lan) "$PY" -c '
import os, sys
inst = sys.argv[1]
for p in sys.stdin.read().split():
    fd = os.open(p, os.O_RDONLY)
    o = os.readlink("/proc/self/fd/%d" % fd)
    os.close(fd)
    if not o.startswith(inst + "/"):
        sys.exit("not in the tier: " + p)
    print(o)' "${INSTS[lan]}" < "$(list "$c" "$SRC")" > "$RAW/lists/$c.objects" ||
            die "cannot list the tier objects of class $c"
    done
}
if ! skipping micro || ! skipping py; then
    warm_tier lan "$SRC"
    object_lists
    [ -n "$M_SSHFS2" ] && warm_tier 2ms "$M_SSHFS2"
    say "tiers warm ($(elapsed))"
fi

# ---- meta ---------------------------------------------------------------------------------------
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host=$(uname -n)"
    echo "kernel=$(uname -r)"
    echo "cpus=$(nproc)"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "mem=$(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "origin_fs=$ORIGIN_FS"
    echo "rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- tier preload shmd 2>/dev/null || echo '+local changes')"
    echo "have_fuse=$HAVE_FUSE"
    echo "why_no_fuse=$why_no_fuse"
    echo "have_rclone=$HAVE_RCLONE"
    echo "can_drop=$CAN_DROP"
    echo "delay=$DELAY_HOW"
    echo "delay_us=$DELAY_US"
    echo "rounds=$ROUNDS"
    echo "fast_reps=${FAST_REPS:-3}"
    echo "web_rounds=$WEB_ROUNDS"
    echo "web_seconds=$WEB_SECONDS"
    echo "web_conns=$WEB_CONNS"
    echo "py_rounds=$PY_ROUNDS"
    echo "py_reps=$PY_REPS"
    echo "versions=sshfs $(sshfs --version 2>&1 | sed -n 's/^SSHFS version //p' | head -1), $(have rclone && rclone version 2>/dev/null | head -1), gunicorn $(have gunicorn && gunicorn --version 2>/dev/null | awk '{print $NF}' | tr -d '()'), $(have nginx && nginx -v 2>&1 | sed 's/.*: //'), $(have wrk && wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), Python $("$PY" -c 'import platform; print(platform.python_version())')"
    for c in $CLASSES; do echo "class_$c=$(nfiles "$c") x ${CLASS_DESC[$c]}"; done
} > "$RAW/meta.env"

# ---- 3. micro rows ---------------------------------------------------------------------------
# row -> base directory, shim instance (empty: no shim), kind (file count,
# passes and warm-up passes per class, below).
declare -A ROW_BASE ROW_INST ROW_KIND
addrow() { ROW_BASE[$1]=$2 ROW_INST[$1]=$3 ROW_KIND[$1]=$4; MICRO_ROWS+=" $1"; }
MICRO_ROWS=
[ $CAN_DROP = yes ] && addrow ext4cold "$ORIGIN" "" cold
addrow tmpfs "$FLOOR" "" fast
addrow tmpobj objects "" fast
addrow hit "$SRC" lan fast
addrow ext4 "$ORIGIN" "" fast
addrow pass "$ORIGIN" lan fast
addrow first_ext4 "$ORIGIN" firstx single
if [ $HAVE_FUSE = yes ]; then
    addrow sshfs "$M_SSHFS" "" slow
    addrow sshfs_kc "$M_KC" "" slow
    [ -n "$M_RC" ] && addrow rclone "$M_RC" "" slow
    addrow sshfs_1 "$M_SSHFS" "" single
    addrow first "$M_SSHFS" first single
    if [ -n "$M_SSHFS2" ]; then
        addrow sshfs_2ms "$M_SSHFS2" "" slow2
        [ -n "$M_RC2" ] && addrow rclone_2ms "$M_RC2" "" slow2
        addrow hit_2ms "$M_SSHFS2" 2ms fast
        addrow sshfs_1_2ms "$M_SSHFS2" "" single2
        addrow first_2ms "$M_SSHFS2" first2 single2
    fi
fi
# files (0: all) / passes / warm-up passes, per kind and class:
# 4k asset img 64m; slow kinds use the first files of a class.
declare -A KIND_N=([fast]="0 0 0 0" [cold]="0 0 0 0" [slow]="300 300 40 1" [slow2]="100 100 20 1"
                   [single]="300 300 40 1" [single2]="100 100 20 1")
declare -A KIND_P=([fast]="20 20 10 5" [cold]="1 1 1 1" [slow]="3 3 2 2" [slow2]="2 2 1 1"
                   [single]="1 1 1 1" [single2]="1 1 1 1")
declare -A KIND_W=([fast]="2 2 2 1" [cold]="0 0 0 0" [slow]="1 1 1 1" [slow2]="1 1 1 1"
                   [single]="0 0 0 0" [single2]="0 0 0 0")
class_idx() { case $1 in 4k) echo 1 ;; asset) echo 2 ;; img) echo 3 ;; 64m) echo 4 ;; esac; }
pick() { echo "$1" | cut -d' ' -f"$2"; }

printf 'round\trep\trow\tclass\tfiles\tpasses\tns_per_file\tmin_pass\tmax_pass\n' > "$RAW/micro.tsv"
printf 'round\trow\tclass\tfiles\tcached_1s\tunsent\tringed\n' > "$RAW/fill.tsv"
# fill_record ROUND ROW CLASS N INST UNSENT0 RINGED0: the copies the tier
# holds 1 s after a first pass of N files (polled; at once when all are in)
fill_record() {
    local t0 e u g
    t0=$(date +%s%N)
    while :; do
        e=$("$SHMD" stats --dir "$5" --json | "$PY" -c 'import json, sys
s = json.load(sys.stdin)
print(s["entries"] - s["meta_entries"] - s["negative_entries"])')
        [ "$e" -ge "$4" ] && break
        [ $(( $(date +%s%N) - t0 )) -ge 1000000000 ] && break
        sleep 0.05
    done
    u=$(stat_of "$5" misses_unsent)
    g=$(stat_of "$5" misses_ringed)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$e" $((u - $6)) $((g - $7)) \
        >> "$RAW/fill.tsv"
}
micro_run() { # ROUND ROW CLASS [REP]
    local r=$1 row=$2 c=$3 rep=${4:-1} i kind inst n p w lst out h0 m0 h1 m1 u0 g0 opens
    i=$(class_idx "$c")
    kind=${ROW_KIND[$row]}
    inst=${ROW_INST[$row]}
    n=$(pick "${KIND_N[$kind]}" "$i")
    p=$(pick "${KIND_P[$kind]}" "$i")
    w=$(pick "${KIND_W[$kind]}" "$i")
    [ "$n" = 0 ] && n=$(nfiles "$c")
    if [ "$row" = tmpobj ]; then
        lst=$RAW/lists/$c.objects
    else
        lst=$(list "$c" "${ROW_BASE[$row]}")
    fi
    local -a envv=()
    if [ -n "$inst" ]; then
        if [ "$row" = pass ]; then
            read -ra envv <<< "$(shim_env "$inst" "$PASS_PREFIX")"
        else
            read -ra envv <<< "$(shim_env "$inst")"
        fi
        if [ "$kind" = single ] || [ "$kind" = single2 ]; then
            # a first pass: empty tier
            "$SHMD" flush --dir "${INSTS[$inst]}" > /dev/null
            [ "$(stat_of "${INSTS[$inst]}" entries)" = 0 ] || die "flush of $inst left entries"
        fi
        h0=$(stat_of "${INSTS[$inst]}" hits)
        m0=$(stat_of "${INSTS[$inst]}" misses)
        u0=$(stat_of "${INSTS[$inst]}" misses_unsent)
        g0=$(stat_of "${INSTS[$inst]}" misses_ringed)
    fi
    [ "$kind" = cold ] && drop_caches
    out=$("${envv[@]}" "$OPENREAD" -n "$n" -p "$p" -w "$w" "$lst") ||
        die "openread failed: row $row class $c"
    # checks: the right bytes, the shim where (and only where) it belongs,
    # hits counted for every open of a hit row, misses for a first pass
    read -r eb _ <<< "$(origin_check "$c" "$n")"
    [[ $out == *" bytes=$eb "* ]] || die "row $row class $c: wrong byte count ($out, want $eb)"
    if [ -n "$inst" ]; then
        [[ $out == *"shim=1"* ]] || die "row $row: libshmcache.so not loaded"
        h1=$(stat_of "${INSTS[$inst]}" hits)
        m1=$(stat_of "${INSTS[$inst]}" misses)
        opens=$((n * (p + w)))
        case $row in
        hit*)
            [ $((h1 - h0)) -ge $opens ] && [ $((m1 - m0)) = 0 ] ||
                die "row $row class $c: $((h1 - h0)) hits, $((m1 - m0)) misses for $opens opens: not served from the tier" ;;
        first*)
            [ $((h1 - h0)) = 0 ] && [ $((m1 - m0)) = "$opens" ] ||
                die "row $row class $c: $((h1 - h0)) hits, $((m1 - m0)) misses for $opens first opens"
            # how much of the pass the tier holds a second after it (every
            # miss must reach the daemon, issue 12), then let the daemon
            # finish loading before the next row runs
            fill_record "$r" "$row" "$c" "$n" "${INSTS[$inst]}" "$u0" "$g0"
            wait_entries "${INSTS[$inst]}" "$n" ||
                say "note: $row $c: tier holds $(stat_of "${INSTS[$inst]}" entries) of $n after the first pass" ;;
        pass)
            [ "$h1" = "$h0" ] && [ "$m1" = "$m0" ] || die "row pass: the shim served a path outside the prefixes" ;;
        esac
    else
        [[ $out == *"shim=0"* ]] || die "row $row: libshmcache.so loaded where it must not be"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$rep" "$row" "$c" "$n" "$p" \
        "$(sed 's/.* ns_per_file=\([0-9]*\).*/\1/' <<< "$out")" \
        "$(sed 's/.*min_pass_ns_per_file=\([0-9]*\).*/\1/' <<< "$out")" \
        "$(sed 's/.*max_pass_ns_per_file=\([0-9]*\).*/\1/' <<< "$out")" >> "$RAW/micro.tsv"
}

# The closest comparisons, (h) hit between its floors (a) tmpfs and (a')
# its own objects, and (b) ext4 / (i) pass-through, run FAST_REPS times
# per round, the outer sides swapping every rep (ABBA), so a drift within a
# round favours neither; the report pairs them rep by rep. Prints ROW:REP
# tokens.
FAST_REPS=${FAST_REPS:-3}
round_rows() {
    local r=$1 row k a b out=
    for row in $MICRO_ROWS; do
        case $row in
        tmpfs)
            # the hit between its two floors, which swap ends every rep
            for k in $(seq 1 "$FAST_REPS"); do
                if [ $(((r + k) % 2)) = 0 ]; then out+=" tmpfs:$k hit:$k tmpobj:$k"
                else out+=" tmpobj:$k hit:$k tmpfs:$k"; fi
            done ;;
        ext4)
            for k in $(seq 1 "$FAST_REPS"); do
                if [ $(((r + k) % 2)) = 0 ]; then out+=" ext4:$k pass:$k"; else out+=" pass:$k ext4:$k"; fi
            done ;;
        hit|pass|tmpobj) ;;
        *) out+=" $row:1" ;;
        esac
    done
    echo $out
}
if ! skipping micro; then
    say "micro: rows${MICRO_ROWS}; $ROUNDS rounds, pairs x $FAST_REPS"
    for r in $(seq 1 "$ROUNDS"); do
        for c in $CLASSES; do
            for tok in $(round_rows "$r"); do
                micro_run "$r" "${tok%:*}" "$c" "${tok#*:}"
            done
        done
        say "micro round $r/$ROUNDS done ($(elapsed))"
    done
fi

# ---- 4. the web app, nginx, and 6. memory ----------------------------------------------------------
. "$BENCH/web.sh"
if ! skipping web && have gunicorn && have wrk; then
    web_phase
elif ! skipping web; then
    say "SKIPPING the web rows: gunicorn or wrk not installed"
fi

# ---- 5. python imports ------------------------------------------------------------------------------
. "$BENCH/pyimport.sh"
skipping py || py_phase

# ---- 7. the report ------------------------------------------------------------------------------------
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$RAW/meta.env"
echo "duration=$(elapsed)" >> "$RAW/meta.env"
say "writing the report ($(elapsed))"
"$PY" "$BENCH/report.py" "$RAW" "$OUT"
say "done in $(elapsed): $OUT/results.md, $OUT/results.png"
