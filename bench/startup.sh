#!/bin/bash
# startup.sh - `make bench-startup`: application start-up from a slow mount
# (issue 11), as root on Debian 12. Three apps, each started as a fresh
# process from its own directory:
#   node  eslint's CLI on one file, from a tree of `npm install eslint
#         webpack @babel/core express` (cached in results-raw/startup/cache,
#         so reruns do not reinstall);
#   py    Debian's Django (python3-django) with asgiref, sqlparse and pytz
#         copied into the app tree, .pyc compiled there: django.setup() with
#         5 contrib apps, imported from the tree (PYTHONPATH, checked);
#   php   Debian's phpunit and its libraries (/usr/share/php copied into the
#         tree, include_path .:TREE/share, the entry script from the tree)
#         running a 6-test file of a small code base with a PSR-4 autoloader.
# Configurations, interleaved round by round (order rotated every round):
#   tmpfs   the tree copied to tmpfs, no shim (the floor);
#   raw0    sshfs (defaults: no kernel_cache) to sshd on 127.0.0.1, no shim;
#   shim0   another sshfs mount of the same origin with the shim and a warm
#           tier (the app run under it until its misses are steady);
#   raw2, shim2  the same through bench/delayrelay, +DELAY_US each way.
# Raw and shim configurations use separate mounts, so the daemon's
# revalidation never warms the kernel's or sshfs's caches of a raw run. One
# shmd per app and round trip; only the daemon of the run being measured is
# running (the others are SIGSTOPped), so background revalidation loads
# neither the floor nor another app's run.
# Then: IDLE_ROUNDS times IDLE_S of no runs (all daemons running), then one
# run of every configuration; micro rows (bench/hookcost -t: a cached stat
# and a cached ENOENT against the same calls on tmpfs); a diagnosis of each
# app's warm shim run at 2 ms (SHMCACHE_LOG=miss, strace of the path calls
# that still reach the mount, FUSE requests by opcode from the kernel's
# fuse:fuse_request_send tracepoint); and the revalidation load of each warm
# tier while idle (each daemon alone for REVAL_S: its metadata system calls
# on the mount, the FUSE requests they cause, and the stat calls that reach
# the server, counted with perf on the syscalls and fuse tracepoints).
#
# Every run's output is compared with the floor's (paths normalised), each
# configuration's modules are checked to come from its own tree, and every
# shim run must show tier hits and no new misses (shmd stats), so a broken
# setup stops the run instead of producing a number.
#
# Output: bench/results-startup.md (BENCH_OUT), raw samples in
# bench/results-raw/startup/. Environment: ROUNDS (7), IDLE_S (30),
# IDLE_ROUNDS (7), DELAY_US (1000), REVAL_S (20: sshfs refreshes its cache every 20 s, all entries at once), MICRO_N (200000),
# APPS ("node py php").
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"   # ROOT, SHMD, LIB, OUT and the plumbing
. "$BENCH/apps.sh"  # the apps: NODE_PKGS, PY_PKGS, DIST, build_app_trees, app_cmd
RAW=$BENCH/results-raw/startup
CACHE=$RAW/cache
ROUNDS=${ROUNDS:-7}
IDLE_S=${IDLE_S:-30}
IDLE_ROUNDS=${IDLE_ROUNDS:-7}
DELAY_US=${DELAY_US:-1000}
REVAL_S=${REVAL_S:-20}
MICRO_N=${MICRO_N:-200000}
APPS=${APPS:-node py php}
WARM_MAX=10
HC=$BENCH/hookcost

trap run_cleanup EXIT
trap 'say "interrupted: cleaning up"; exit 130' INT TERM HUP
T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

[ -x "$SHMD" ] && [ -f "$LIB" ] && [ -x "$HC" ] || die "run 'make bench-startup'"
[ "$(id -u)" = 0 ] || { say "SKIPPING: needs root (sshd, FUSE mounts, apt-get)"; exit 0; }
[ -c /dev/fuse ] || { say "SKIPPING: no /dev/fuse"; exit 0; }
mkdir -p "$RAW" "$CACHE" "$OUT"
find "$RAW" -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} +

# ---- what this machine needs ------------------------------------------------------------
declare -A PKG=([/usr/sbin/sshd]=openssh-server [ssh]=openssh-client [sshfs]=sshfs
                [fusermount3]=fuse3 [strace]=strace [perf]=linux-perf [node]=nodejs [npm]=npm
                [php]=php-cli [phpunit]=phpunit [/usr/bin/python3]=python3)
missing=()
[ -d "$DIST/django" ] || missing+=(python3-django)
need_packages
HAVE_PERF=yes
perf stat -e fuse:fuse_request_send -x, -o /dev/null -- true 2>/dev/null ||
    { HAVE_PERF=no; say "perf cannot count fuse:fuse_request_send: no FUSE request counts"; }
cc -O2 -Wall -Wextra -o "$BENCH/delayrelay" "$BENCH/delayrelay.c"

# ---- the app trees: origin on ext4, floor on tmpfs ---------------------------------------
WORK=$(mktemp -d /var/tmp/shmcache-startup.XXXXXX)
defer "rm -rf $WORK"
ORIGIN=$WORK/origin
FLOOR=$(mktemp -d /dev/shm/shmcache-startup-floor.XXXXXX)
defer "rm -rf $FLOOR"
mkdir -p "$ORIGIN" "$WORK/ssh" "$WORK/out"
chmod 700 "$WORK/ssh"

build_app_trees

# ---- sshd, the round trip, four mounts ---------------------------------------------------
start_sshd "$WORK/ssh"
start_relay "$WORK" "$DELAY_US" "$SSHD_PORT"
say "sshd on 127.0.0.1:$SSHD_PORT, +$DELAY_US µs each way through delayrelay on port $DELAY_PORT"
MOUNT_PROBE=$(set -- $APPS; echo "$1")
declare -A SSHFS_PID BASE=([tmpfs]=$FLOOR) MNTPORT=([raw0]=$SSHD_PORT [shim0]=$SSHD_PORT [raw2]=$DELAY_PORT [shim2]=$DELAY_PORT)
for cfg in raw0 shim0 raw2 shim2; do
    BASE[$cfg]=$WORK/mnt/$cfg
    mount_sshfs "${BASE[$cfg]}" "${MNTPORT[$cfg]}" "$RAW/sshfs-$cfg.log"
    SSHFS_PID[$cfg]=$SPAWNED
done
CFGS="tmpfs raw0 shim0 raw2 shim2"
INST_ROOT_RE=/dev/shm/shmcache-bench-$$-
rtt_of() { case $1 in *2) echo 2 ;; *) echo 0 ;; esac; }

# ---- one shmd per app and round trip; only the measured one runs -------------------------------
declare -A INSTD DPID
ALL_DPIDS=
for app in $APPS; do
    for r in 0 2; do
        start_shmd "$app$r"
        INSTD[$app$r]=$INST
        DPID[$app$r]=$(pgrep -f "^$SHMD --dir $INST " | head -1)
        [ -n "${DPID[$app$r]}" ] || die "no pid for shmd $app$r"
        ALL_DPIDS+=" ${DPID[$app$r]}"
    done
done
defer "kill -CONT $ALL_DPIDS"   # runs before the daemons' stops
RUNNING=all
# daemons_only KEY|all|none: SIGCONT that daemon (or all), SIGSTOP the others
daemons_only() {
    [ "$1" = "$RUNNING" ] && return 0
    local k woke=no
    for k in "${!DPID[@]}"; do
        if [ "$1" = all ] || [ "$k" = "$1" ]; then
            kill -CONT "${DPID[$k]}"
            woke=yes
        else
            kill -STOP "${DPID[$k]}"
        fi
    done
    RUNNING=$1
    if [ $woke = yes ]; then
        # answers again, and its heartbeat (every 100 ms) is fresh
        for k in "${!DPID[@]}"; do
            if [ "$1" = all ] || [ "$k" = "$1" ]; then
                "$SHMD" stats --dir "${INSTD[$k]}" > /dev/null || die "shmd $k does not answer"
            fi
        done
        sleep 0.3
    fi
}
STATKEYS="hits misses meta_hits negative_hits dir_hits misses_received"
counters() { stats_fields "$1" ' ' $STATKEYS; } # INST -> the STATKEYS values
# settle INST: until the daemon's loads and records stop changing
settle() { settle_stats "$1" 100 3 0.1 entries meta_loads; }

# ---- running an app --------------------------------------------------------------------------
# run_app APP CFG OUT [WRAPPER...]: one start of APP in configuration CFG,
# from its directory, output to OUT; sets MS (wall time) and RC. The shim
# configurations run with that app's daemon; others with no daemon running.
run_app() {
    local app=$1 cfg=$2 out=$3 base t0 t1
    shift 3
    base=${BASE[$cfg]}
    app_cmd "$app" "$base"
    # every configuration starts through env(1), so all pay the same exec
    # and PATH search
    local -a e=(env)
    if [[ $cfg == shim* ]]; then
        e=(env LD_PRELOAD="$LIB" SHMCACHE_DIR="${INSTD[$app$(rtt_of "$cfg")]}" SHMCACHE_PREFIX="$base")
        daemons_only "$app$(rtt_of "$cfg")"
    else
        daemons_only none
    fi
    RC=0
    t0=$EPOCHREALTIME
    (cd "$base/$app" && exec "$@" "${e[@]}" "${CMD[@]}") > "$out" 2>&1 < /dev/null || RC=$?
    t1=$EPOCHREALTIME
    MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) * 1000}')
}
declare -A WANT_OUT WANT_RC
# same_output APP CFG OUT: the output equals the floor's (paths and timing lines normalised)
normalise() { sed -e "s|$2|TREE|g" -e '/^Time: .*Memory: /d' "$1"; }
same_output() {
    local n
    n=$(normalise "$3" "${BASE[$2]}")
    [ "$n" = "${WANT_OUT[$1]}" ] && [ "$RC" = "${WANT_RC[$1]}" ] || {
        diff <(echo "${WANT_OUT[$1]}") <(echo "$n") | head -20 >&2
        die "$1 in $2: output or exit status ($RC, floor ${WANT_RC[$1]}) differs from the floor's"
    }
}

# ---- checks: the output, and every module from its own tree -----------------------------------
cat > "$WORK/check.js" <<'EOF'
// preloaded (node -r) by the check runs: which files did require() load?
process.on('exit', () => {
  const fs = require('fs');
  const files = Object.keys(require.cache);
  fs.writeFileSync(process.env.STARTUP_CHECK, files.join('\n') + '\n');
});
EOF
cat > "$WORK/check.php" <<'EOF'
<?php // prepended (phpunit --prepend) by the check runs: which files did PHP include?
register_shutdown_function(function () {
    file_put_contents(getenv('STARTUP_CHECK'), implode("\n", get_included_files()) . "\n");
});
EOF
cat > "$WORK/check.py" <<'EOF'
# run by the check runs: every module of the app tree from TREE, none compiled
import _frozen_importlib_external as ext, os, runpy, sys
compiled = []
to_code = ext.SourceLoader.source_to_code
ext.SourceLoader.source_to_code = lambda *a, **k: compiled.append(a) or to_code(*a, **k)
tree, code, pkgs = sys.argv[1], sys.argv[2], sys.argv[3]
sys.argv = ['-c', pkgs]
exec(compile(code, '<startup>', 'exec'), {'__name__': '__main__'})
files = [getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]
with open(os.environ['STARTUP_CHECK'], 'w') as f:
    f.write('\n'.join(x for x in files if x.startswith(tree + '/') or '/dist-packages/' in x) + '\n')
assert not compiled, 'compiled %d sources: the .pyc files are not used' % len(compiled)
EOF
# check_run APP CFG: a run that lists the files of the tree it loaded (all
# must be from CFG's own tree); sets CHECKED to how many
CHECK= CHECKED=
check_run() {
    local app=$1 cfg=$2 base=${BASE[$2]}
    CHECK=$WORK/out/check-$1-$2
    : > "$CHECK"
    run_app "$app" "$cfg" "$WORK/out/c.out" env STARTUP_CHECK="$CHECK"
    local list=$CHECK
    CHECK=
    [ "$RC" = "${WANT_RC[$app]}" ] || { tail -5 "$WORK/out/c.out" >&2; die "$app check run in $cfg failed (exit $RC)"; }
    grep -q "^$base/$app/" "$list" || die "$app in $cfg: the check found no file of the tree loaded"
    if grep -v -e "^$base/$app/" -e "^$WORK/check\." -e '/_distutils_hack/' "$list" | grep -q .; then
        grep -v -e "^$base/$app/" -e "^$WORK/check\." "$list" | head -5 >&2
        die "$app in $cfg loads files from outside its tree $base/$app"
    fi
    CHECKED=$(grep -c "^$base/$app/" "$list" || true)
}

# ---- the floor's output, then every configuration checked -----------------------------------------
{
    machine_env
    echo "origin_fs=$(findmnt -n -o FSTYPE -T "$ORIGIN")"
    echo "delay_us=$DELAY_US"
    echo "rounds=$ROUNDS"
    echo "idle_s=$IDLE_S"
    echo "idle_rounds=$IDLE_ROUNDS"
    echo "reval_s=$REVAL_S"
    echo "micro_n=$MICRO_N"
    echo "apps=$APPS"
    echo "have_perf=$HAVE_PERF"
    v() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$1" | head -1; }
    for app in $APPS; do
        echo "files_$app=$(find "$ORIGIN/$app" -type f | wc -l)"
        case $app in
        node) echo "versions_node=node $(node --version), eslint $(v "$ORIGIN/node/node_modules/eslint/package.json"), webpack $(v "$ORIGIN/node/node_modules/webpack/package.json"), @babel/core $(v "$ORIGIN/node/node_modules/@babel/core/package.json"), express $(v "$ORIGIN/node/node_modules/express/package.json"); $(find "$ORIGIN/node/node_modules" -name package.json -path '*/node_modules/*/package.json' ! -path '*/node_modules/*/*/*/package.json' | wc -l) packages"
              echo "cmd_node=node node_modules/eslint/bin/eslint.js $ESLINT_NOCONF --rule 'semi: error' one.js" ;;
        py) echo "versions_py=Python $("$PY" -c 'import platform; print(platform.python_version())'), Django $(PYTHONPATH=$ORIGIN/py "$PY" -c 'import django; print(django.get_version())') (python3-django $(dpkg-query -W -f '${Version}' python3-django))"
            echo "cmd_py=PYTHONPATH=TREE DJANGO_SETTINGS_MODULE=benchsite.settings python3 -c 'import django; django.setup(); ...'" ;;
        php) echo "versions_php=PHP $(php -r 'echo PHP_VERSION;'), $(php "$ORIGIN/php/phpunit" --version 2>/dev/null | head -1 | sed 's/ by .*//')"
             echo "cmd_php=php -d include_path=.:TREE/share phpunit --do-not-cache-result --bootstrap app/bootstrap.php tests/CartTest.php" ;;
        esac
    done
} > "$RAW/meta.env"

for app in $APPS; do
    run_app "$app" tmpfs "$WORK/out/ref"
    WANT_RC[$app]=$RC
    WANT_OUT[$app]=$(normalise "$WORK/out/ref" "$FLOOR")
    case $app in
    node) want='Missing semicolon' ;;
    py) want='auth contenttypes messages sessions staticfiles' ;;
    php) want='OK (6 tests' ;;
    esac
    grep -qF "$want" "$WORK/out/ref" || { cat "$WORK/out/ref" >&2; die "$app on tmpfs: no '$want' in its output"; }
    cp "$WORK/out/ref" "$RAW/output-$app.txt"
    nfiles=
    for cfg in $CFGS; do
        run_app "$app" "$cfg" "$WORK/out/o"
        same_output "$app" "$cfg" "$WORK/out/o"
        check_run "$app" "$cfg"
        [ -z "$nfiles" ] || [ "$CHECKED" = "$nfiles" ] || die "$app in $cfg loads $CHECKED files of its tree, on tmpfs $nfiles"
        nfiles=$CHECKED
    done
    echo "loaded_$app=$nfiles" >> "$RAW/meta.env"
    say "$app: the same output in all of $CFGS, each loading $nfiles files of its own tree"
done

# ---- warm tiers: each shim configuration run until its misses are steady ------------------------------
printf 'phase\tround\tapp\tcfg\tms\trc\thits\tmisses\tmeta_hits\tnegative_hits\tdir_hits\tmisses_received\n' > "$RAW/runs.tsv"
DELTA=()
# measure PHASE ROUND APP CFG: one timed run, its output checked, the tier's counters
# (for the shim) before and after in DELTA; a line of runs.tsv
measure() {
    local phase=$1 round=$2 app=$3 cfg=$4 k inst= i
    local -a c0=() c1=()
    DELTA=(0 0 0 0 0 0)
    if [[ $cfg == shim* ]]; then
        k=$app$(rtt_of "$cfg")
        inst=${INSTD[$k]}
        daemons_only "$k"
        read -ra c0 <<< "$(counters "$inst")"
    fi
    run_app "$app" "$cfg" "$WORK/out/m"
    same_output "$app" "$cfg" "$WORK/out/m"
    if [ -n "$inst" ]; then
        [ "$phase" = warm ] && settle "$inst"
        read -ra c1 <<< "$(counters "$inst")"
        for i in 0 1 2 3 4 5; do DELTA[$i]=$((c1[i] - c0[i])); done
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$round" "$app" "$cfg" "$MS" "$RC" "$(IFS=$'\t'; echo "${DELTA[*]}")" >> "$RAW/runs.tsv"
    if [ -n "$inst" ] && [ "$phase" != warm ]; then
        # hits: opens, stats and listings from the tier; the opens of
        # existing files not served (misses) must not grow
        [ "${DELTA[0]}" -gt 0 ] && [ "${DELTA[2]}" -gt 0 ] ||
            die "$app $cfg ($phase $round): ${DELTA[0]} hits, ${DELTA[2]} metadata hits: not served from the tier"
        [ "${DELTA[1]}" -le $(( ${DELTA[0]} / 50 + 2 )) ] ||
            die "$app $cfg ($phase $round): ${DELTA[1]} misses against ${DELTA[0]} hits: the tier is not warm"
    fi
}
for app in $APPS; do
    for cfg in shim0 shim2; do
        prev=-1 steady=no
        for i in $(seq 1 $WARM_MAX); do
            measure warm "$i" "$app" "$cfg"
            if [ "$i" -ge 3 ] && [ "${DELTA[1]}" = 0 ] && [ "${DELTA[5]}" = "$prev" ]; then
                steady=yes
                break
            fi
            prev=${DELTA[5]}
        done
        echo "warm_runs_$app$cfg=$i" >> "$RAW/meta.env"
        k=$app$(rtt_of "$cfg")
        [ $steady = yes ] || say "note: $app $cfg: misses not steady after $WARM_MAX runs (last: ${DELTA[1]} misses, ${DELTA[5]} notices)"
        say "$app $cfg: tier warm after $i runs: $("$SHMD" stats --dir "${INSTD[$k]}" | sed -n 's/^entries *//p'); a run: ${DELTA[0]} hits, ${DELTA[2]} metadata hits (${DELTA[3]} negative), ${DELTA[4]} listings, ${DELTA[1]} misses, ${DELTA[5]} notices"
    done
done
say "tiers warm ($(elapsed))"

# ---- rounds -------------------------------------------------------------------------------------
rotated() { # N WORDS...: the words rotated left by N
    local n=$1
    shift
    local -a w=("$@")
    n=$((n % ${#w[@]}))
    echo "${w[@]:n}" "${w[@]:0:n}"
}
for r in $(seq 1 "$ROUNDS"); do
    for app in $APPS; do
        for cfg in $(rotated "$r" $CFGS); do
            measure round "$r" "$app" "$cfg"
        done
    done
    say "round $r/$ROUNDS done ($(elapsed))"
done

# ---- restart after idle ----------------------------------------------------------------------------
for k in $(seq 1 "$IDLE_ROUNDS"); do
    daemons_only all
    say "idle $k/$IDLE_ROUNDS: ${IDLE_S} s without a run (every daemon running)"
    sleep "$IDLE_S"
    for app in $APPS; do
        for cfg in $(rotated "$k" $CFGS); do
            measure idle "$k" "$app" "$cfg"
        done
    done
done
say "after-idle runs done ($(elapsed))"

# ---- micro: a cached stat and a cached ENOENT against stat on tmpfs ---------------------------------------
first=$(set -- $APPS; echo "$1")
case $first in
node) rel=node/node_modules/eslint/package.json ;;
py) rel=py/django/__init__.py ;;
php) rel=php/share/PHPUnit/Autoload.php ;;
esac
neg=$(dirname "$rel")/startup-no-such-file.json
minst=${INSTD[${first}0]}
daemons_only "${first}0"
menv=(env LD_PRELOAD="$LIB" SHMCACHE_DIR="$minst" SHMCACHE_PREFIX="${BASE[shim0]}")
"${menv[@]}" "$HC" 1 stat "${BASE[shim0]}/$rel" || die "micro: cannot stat ${BASE[shim0]}/$rel"
"${menv[@]}" "$HC" 1 nostat "${BASE[shim0]}/$neg" || die "micro: ${BASE[shim0]}/$neg exists"
settle "$minst"
printf 'round\trow\tns\n' > "$RAW/micro.tsv"
SLOW_N=$((MICRO_N / 100))
micro_row() { # ROUND ROW N CALL PATH [shim] [CHECKFIELD]
    local o a b
    [ -n "${7:-}" ] && a=$(stat_of "$minst" "$7")
    if [ "${6:-}" = shim ]; then
        o=$("${menv[@]}" "$HC" -t "$3" "$4" "$5") || die "micro $2: hookcost failed"
    else
        o=$("$HC" -t "$3" "$4" "$5") || die "micro $2: hookcost failed"
    fi
    if [ -n "${7:-}" ]; then
        b=$(stat_of "$minst" "$7")
        [ $((b - a)) -ge "$3" ] || die "micro $2: $((b - a)) $7 for $3 calls: not served from the tier"
    fi
    printf '%s\t%s\t%s\n' "$1" "$2" "${o#ns_per_call=}" >> "$RAW/micro.tsv"
}
for r in $(seq 1 "$ROUNDS"); do
    micro_row "$r" stat_tmpfs "$MICRO_N" stat "$FLOOR/$rel"
    micro_row "$r" stat_hit "$MICRO_N" stat "${BASE[shim0]}/$rel" shim meta_hits
    micro_row "$r" stat_pass "$MICRO_N" stat "$FLOOR/$rel" shim
    micro_row "$r" noent_tmpfs "$MICRO_N" nostat "$FLOOR/$neg"
    micro_row "$r" noent_hit "$MICRO_N" nostat "${BASE[shim0]}/$neg" shim negative_hits
    micro_row "$r" stat_sshfs "$SLOW_N" stat "${BASE[raw0]}/$rel"
    micro_row "$r" noent_sshfs "$SLOW_N" nostat "${BASE[raw0]}/$neg"
    micro_row "$r" noent_sshfs2 "$((SLOW_N / 10))" nostat "${BASE[raw2]}/$neg"
done
echo "micro_path=$rel" >> "$RAW/meta.env"
say "micro rows done ($(elapsed))"

# ---- diagnosis: what a warm shim run at 2 ms still asks of the mount ------------------------------------
fuse_ops() { # PERFDATA -> "OPCODE count" lines, most first
    perf script -i "$1" -F trace 2>/dev/null | sed -n 's/.*opcode [0-9]* (FUSE_\([A-Z_]*\)).*/\1/p' |
        sort | uniq -c | sort -rn | awk '{print $2, $1}'
}
cat > "$WORK/onmount.py" <<'EOF'
# onmount.py MNT INSTROOT < strace -f -y output: the calls that reached the
# kernel on MNT (a path on it; a name relative to a descriptor or the
# working directory on it, which -y prints as N</path>; a descriptor of it)
import re, sys
mnt, inst = sys.argv[1], sys.argv[2]
on = lambda p: p == mnt or p.startswith(mnt + "/")
for ln in sys.stdin:
    m = re.match(r'^\d+ +(\w+)\((.*)$', ln)
    if not m or m.group(1) in ("execve", "getcwd") or inst in ln:
        continue
    a = m.group(2)
    if a.startswith('"'):  # stat, open, access, ...: a path first
        p = re.match(r'"([^"]*)"', a).group(1)
        hit = on(p) or not p.startswith("/")  # relative: the app's directory is on MNT
    else:  # *at(DIRFD, "path", ...) or a descriptor call
        d = re.match(r'(AT_FDCWD|\d+)(?:<([^>]*)>)?(?:, "([^"]*)")?', a)
        if not d:
            continue
        dpath, p = d.group(2), d.group(3)
        if p is not None and p.startswith("/"):
            hit = on(p)
        else:
            hit = on(dpath) if dpath else (d.group(1) == "AT_FDCWD" and p is not None)
    if hit:
        sys.stdout.write(ln)
EOF
# Each run 1.5 s after the previous: shmd retries a path it failed to record
# after 1 s, as it does between the spaced runs of the rounds.
for app in $APPS; do
    m=${BASE[shim2]}
    k=${app}2
    sleep 1.5
    run_app "$app" shim2 "$WORK/out/d" env SHMCACHE_LOG=miss
    grep '^shmcache\[' "$WORK/out/d" | sed 's/^shmcache\[[0-9]*\]: //' > "$RAW/diag-$app-log.txt" || true
    # each logged path: does it exist on the origin, and its parent?
    while read -r kind path; do
        o=$ORIGIN/${path#"$m"/}
        if [ -e "$o" ]; then w=exists
        elif [ -d "$(dirname "$o")" ]; then w="missing, parent exists"
        else w="missing, parent missing too"; fi
        printf '%s\t%s\t%s\n' "$kind" "$w" "${path#"$m"/}"
    done < "$RAW/diag-$app-log.txt" > "$RAW/diag-$app-log.tsv"
    sleep 1.5
    run_app "$app" shim2 "$WORK/out/d" strace -f -qq -T -y -e trace=%file,fstat,fstatfs,getdents64,fchdir \
        -o "$WORK/out/strace"
    # calls that reach the kernel on the mount: a path on it (absolute,
    # relative to the app's directory there, or to a descriptor of a
    # directory on it, which -y prints as N</path>), or a descriptor of it;
    # getcwd answers from the kernel's dentries, execve is the exec itself
    "$PY" "$WORK/onmount.py" "$m" "$INST_ROOT_RE" < "$WORK/out/strace" > "$RAW/diag-$app-strace.txt"
    if [ $HAVE_PERF = yes ]; then
        # the shim run, with the daemon's own FUSE requests counted meanwhile
        sleep 1.5
        daemons_only "$k"
        perf stat -x, -o "$RAW/diag-$app-shmd.csv" -e fuse:fuse_request_send -p "${DPID[$k]}" &
        ps=$!
        sleep 0.3
        t0=$EPOCHREALTIME
        run_app "$app" shim2 "$WORK/out/d" perf record -q -e fuse:fuse_request_send -o "$WORK/out/perf.data" --
        sleep 0.3
        kill -INT $ps
        wait $ps || true
        printf 'run_ms=%s\nwindow_ms=%s\n' "$MS" \
            "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}')" > "$RAW/diag-$app-shim2.env"
        fuse_ops "$WORK/out/perf.data" > "$RAW/diag-$app-fuse-shim2.txt"
        # the raw run (no daemon running, as in the rounds)
        sleep 1.5
        run_app "$app" raw2 "$WORK/out/d" perf record -q -e fuse:fuse_request_send -o "$WORK/out/perf.data" --
        fuse_ops "$WORK/out/perf.data" > "$RAW/diag-$app-fuse-raw2.txt"
    fi
    say "$app: diagnosis: $(wc -l < "$RAW/diag-$app-log.txt") calls the shim did not serve, $(wc -l < "$RAW/diag-$app-strace.txt") path calls on the mount"
done

# ---- revalidation load of each warm tier while idle ------------------------------------------------------
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
cpu_ns() { local t=0 f; for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "$f" 2>/dev/null || echo 0))); done; echo $t; }
STATCALLS=syscalls:sys_enter_newfstatat,syscalls:sys_enter_statx,syscalls:sys_enter_newlstat,syscalls:sys_enter_newstat
cpu_sum() { local t=0 p; for p in ${1//,/ }; do t=$((t + $(cpu_ns "$p"))); done; echo $t; }
syscr_sum() { # PIDS: read system calls made (each SFTP request the server reads is one or more)
    local t=0 p v
    for p in ${1//,/ }; do
        v=$(sed -n 's/^syscr: //p' "/proc/$p/io" 2>/dev/null || true)
        t=$((t + ${v:-0}))
    done
    echo $t
}
printf 'app\trtt\tentries\tmeta_entries\tnegative_entries\tdir_entries\tsecs\tshmd_calls\tshmd_fuse\tserver_stats\tshmd_cpu_ms\tserver_reads\tserver_cpu_ms\tsshfs_cpu_ms\n' > "$RAW/reval.tsv"
if [ $HAVE_PERF = yes ]; then
    for app in $APPS; do
        for r in 0 2; do
            k=$app$r
            daemons_only "$k"
            sleep 2
            read -r e me ne de <<< "$("$SHMD" stats --dir "${INSTD[$k]}" --json | "$PY" -c 'import json, sys
s = json.load(sys.stdin)
print(s["entries"], s["meta_entries"], s["negative_entries"], s["dir_entries"])')"
            server=$(descendants "$SSHD_PID" | paste -sd,)
            ps -o pid,ppid,comm,args -p "$server" > "$RAW/reval-$k-server-pids.txt" 2>&1 || true
            sf=${SSHFS_PID[shim$r]}   # the shim mount's sshfs and its ssh
            sf=$(echo "$sf" $(descendants "$sf") | tr ' ' ,)
            c0=$(cpu_ns "${DPID[$k]}") s0=$(cpu_sum "$server") r0=$(syscr_sum "$server") f0=$(cpu_sum "$sf")
            perf stat -x, -o "$RAW/reval-$k-shmd.csv" -p "${DPID[$k]}" \
                -e "fuse:fuse_request_send,$STATCALLS,syscalls:sys_enter_openat,syscalls:sys_enter_getdents64,syscalls:sys_enter_readlinkat,syscalls:sys_enter_faccessat" \
                -- sleep "$REVAL_S" &
            p1=$!
            perf stat -x, -o "$RAW/reval-$k-server.csv" -p "$server" -e "$STATCALLS" -- sleep "$REVAL_S" &
            p2=$!
            wait $p1 $p2 || die "perf stat failed (revalidation of $k)"
            c1=$(cpu_ns "${DPID[$k]}") s1=$(cpu_sum "$server") r1=$(syscr_sum "$server") f1=$(cpu_sum "$sf")
            # perf prints "<not counted>" for processes that never ran: 0
            sumof() { awk -F, -v pat="$2" '$3 ~ pat {s += $1} END {print s + 0}' "$1"; }
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$app" "$r" "$e" "$me" "$ne" "$de" "$REVAL_S" \
                "$(sumof "$RAW/reval-$k-shmd.csv" '^syscalls:')" "$(sumof "$RAW/reval-$k-shmd.csv" '^fuse:')" \
                "$(sumof "$RAW/reval-$k-server.csv" '^syscalls:')" "$(( (c1 - c0) / 1000000 ))" \
                "$((r1 - r0))" "$(( (s1 - s0) / 1000000 ))" "$(( (f1 - f0) / 1000000 ))" >> "$RAW/reval.tsv"
        done
    done
    say "revalidation load measured ($(elapsed))"
fi
daemons_only all

echo "duration=$(elapsed)" >> "$RAW/meta.env"
"$PY" "$BENCH/startup_report.py" "$RAW" "$OUT"
say "done in $(elapsed): $OUT/results-startup.md"
