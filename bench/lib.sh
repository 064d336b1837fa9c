# lib.sh - the plumbing of bench.sh (sourced): a cleanup stack, processes
# in their own sessions, free ports, sshd, sshfs and rclone mounts, the
# 2 ms round trip (tc netem where the kernel has it, else delayrelay), and
# shmd instances. Everything a function sets up it also registers for
# teardown, so bench.sh's EXIT trap undoes it in reverse order, also after
# a failure or Ctrl-C.

PY=/usr/bin/python3   # Debian's interpreter (gunicorn's, Django's); not a pyenv shim
# what the sourcing script (which sets BENCH, this directory) measures with
ROOT=$(cd "$BENCH/.." && pwd)
SHMD=$ROOT/shmd/shmd
LIB=$ROOT/preload/libshmcache.so
OPENREAD=$BENCH/openread
OUT=${BENCH_OUT:-$BENCH}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- the cleanup stack --------------------------------------------------------
CLEANUP=()
defer() { CLEANUP+=("$*"); }

# apt_install PKG...: Debian packages, as root, with no service of theirs
# started on install (sshd, nginx would take ports 22 and 80); apt-get
# update only when the install fails without. Its output in $RAW/apt.log.
# Returns apt-get's status.
apt_install() {
    local policy= rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
        defer "rm -f $policy"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$@" > "$RAW/apt.log" 2>&1 ||
        { apt-get update >> "$RAW/apt.log" 2>&1 &&
          apt-get install -y --no-install-recommends "$@" >> "$RAW/apt.log" 2>&1; } || rc=$?
    [ -n "$policy" ] && rm -f "$policy"
    return $rc
}
run_cleanup() {
    local i
    set +e
    for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUP[$i]}" >/dev/null 2>&1
    done
    CLEANUP=()
}

# ---- processes ------------------------------------------------------------------
# spawn LOG CMD...: start CMD in its own session (so its whole process group
# can be stopped by id), stdout+stderr to LOG; sets SPAWNED to its pid and
# registers the stop. Not from a $(...) subshell: $! must be ours.
SPAWNED=
spawn() {
    local log=$1
    shift
    setsid "$@" > "$log" 2>&1 < /dev/null &
    SPAWNED=$!
    defer "stop_group $SPAWNED"
}

# stop_group PID: SIGTERM to the process group PID leads, then SIGKILL after
# 5 s; only groups this script started.
stop_group() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

alive_or_die() { # PID LOG WHAT
    kill -0 "$1" 2>/dev/null || { tail -5 "$2" >&2; die "$3 exited"; }
}

freeport() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

listening() { # PORT
    "$PY" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)
PY
}

wait_listening() { # PORT PID LOG WHAT
    local i
    for i in $(seq 100); do
        listening "$1" && return 0
        alive_or_die "$2" "$3" "$4"
        sleep 0.1
    done
    die "$4 does not listen on port $1"
}

# came_up PORT: wait up to 10 s for the server just spawned to listen on
# PORT; if it does not (or died), stop it and fail.
came_up() {
    local i
    for i in $(seq 100); do
        listening "$1" && return 0
        kill -0 "$SPAWNED" 2>/dev/null || break
        sleep 0.1
    done
    listening "$1" && return 0
    stop_group "$SPAWNED"
    return 1
}

# ---- sshd with a throwaway key ----------------------------------------------------
# start_sshd DIR: host key, user key DIR/id, sshd on 127.0.0.1 (SSHD_PORT).
# With NETEM_PORT set, it listens there too (the delayed port).
start_sshd() {
    local d=$1 try
    ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey" -C bench-host
    ssh-keygen -q -t ed25519 -N '' -f "$d/id" -C bench-user
    cp "$d/id.pub" "$d/authorized_keys"
    mkdir -p /run/sshd   # privilege separation directory
    for try in 1 2 3; do
        SSHD_PORT=$(freeport)
        {
            echo "Port $SSHD_PORT"
            [ -n "${NETEM_PORT:-}" ] && echo "Port $NETEM_PORT"
            cat <<EOF
ListenAddress 127.0.0.1
HostKey $d/hostkey
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
        } > "$d/sshd_config"
        spawn "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
        SSHD_PID=$SPAWNED
        came_up "$SSHD_PORT" && return 0
    done
    cat "$d/sshd.log" >&2
    die "sshd did not start"
}

# ---- the 2 ms round trip ------------------------------------------------------------
# setup_delay DIR METHOD DELAY_US: sets DELAY_PORT, the port through which
# sshd is reached with DELAY_US added in each direction, and DELAY_HOW.
# netem: a prio qdisc on lo whose 4th band (used only by the two filters on
# the delayed port, both directions) carries netem; needs lo to have no
# root qdisc yet. relay: bench/delayrelay in front of sshd.
netem_try() { # DELAY_US PORT
    tc qdisc show dev lo 2>/dev/null | grep -q 'qdisc noqueue' || return 1
    tc qdisc add dev lo root handle 1: prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1 \
        2>/dev/null || return 1
    defer "tc qdisc del dev lo root"
    tc qdisc add dev lo parent 1:4 handle 40: netem delay "${1}us" 2>/dev/null &&
        tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport "$2" 0xffff \
            flowid 1:4 2>/dev/null &&
        tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport "$2" 0xffff \
            flowid 1:4 2>/dev/null && return 0
    tc qdisc del dev lo root 2>/dev/null
    return 1
}

start_relay() { # DIR DELAY_US TARGET_PORT
    local i
    spawn "$1/relay.out" "$BENCH/delayrelay" "$2" "$3"
    RELAY_PID=$SPAWNED
    for i in $(seq 50); do
        DELAY_PORT=$(head -1 "$1/relay.out" 2>/dev/null | grep -E '^[0-9]+$' || true)
        [ -n "$DELAY_PORT" ] && return 0
        alive_or_die "$RELAY_PID" "$1/relay.out" delayrelay
        sleep 0.1
    done
    die "delayrelay printed no port"
}

# ---- mounts ----------------------------------------------------------------------------
# wait_mounted MNT PID LOG WHAT: until MNT is mounted and shows the origin's
# directory MOUNT_PROBE (default static, bench.sh's tree)
wait_mounted() {
    local i
    for i in $(seq 150); do
        if mountpoint -q "$1" && [ -d "$1/${MOUNT_PROBE:-static}" ]; then
            return 0
        fi
        alive_or_die "$2" "$3" "$4"
        sleep 0.1
    done
    die "$4: $1 not mounted"
}

unmount() { # MNT
    mountpoint -q "$1" || return 0
    fusermount3 -u "$1" 2>/dev/null || fusermount -u "$1" 2>/dev/null || umount -l "$1"
}

# mount_sshfs MNT PORT LOG [OPTIONS]: sshfs of ORIGIN, in the foreground (-f)
# in its own session so the unmount ends exactly this process.
mount_sshfs() {
    local mnt=$1 port=$2 log=$3 opts=${4:-}
    mkdir -p "$mnt"
    spawn "$log" sshfs -f -F /dev/null -p "$port" \
        -o IdentityFile="$WORK/ssh/id",StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR,BatchMode=yes ${opts:+-o "$opts"} \
        "root@127.0.0.1:$ORIGIN" "$mnt"
    local pid=$SPAWNED
    defer "unmount $mnt"
    wait_mounted "$mnt" "$pid" "$log" "sshfs${opts:+ -o $opts}"
}

# mount_rclone MNT PORT LOG CACHEDIR: rclone's sftp backend on the same sshd,
# with its full VFS cache (the setting for repeated reads). Hash checks run
# md5sum over ssh for every new file: off (--sftp-disable-hashcheck), as
# for any sftp server without a shell; the cache then keys on size+mtime.
mount_rclone() {
    local mnt=$1 port=$2 log=$3 cache=$4
    mkdir -p "$mnt" "$cache"
    spawn "$log" rclone mount \
        ":sftp,host=127.0.0.1,port=$port,user=root,key_file=$WORK/ssh/id,shell_type=none:$ORIGIN" \
        "$mnt" --config /dev/null --cache-dir "$cache" --vfs-cache-mode full \
        --sftp-disable-hashcheck
    local pid=$SPAWNED
    defer "unmount $mnt"
    wait_mounted "$mnt" "$pid" "$log" "rclone mount"
}

# ---- shmd instances ----------------------------------------------------------------------
# start_shmd NAME [OPTIONS...]: a daemon on /dev/shm/shmcache-bench-PID-NAME
# (settle 0: the tree was just written; revalidation left at its default
# unless OPTIONS say otherwise). Sets INST to the directory.
start_shmd() {
    local name=$1 i
    shift
    INST=/dev/shm/shmcache-bench-$$-$name
    spawn "$RAW/shmd-$name.log" "$SHMD" --dir "$INST" --settle-ms 0 --capacity 2G "$@"
    local pid=$SPAWNED
    defer "rm -rf $INST"
    for i in $(seq 100); do
        "$SHMD" stats --dir "$INST" >/dev/null 2>&1 && return 0
        alive_or_die "$pid" "$RAW/shmd-$name.log" "shmd $name"
        sleep 0.05
    done
    die "shmd $name did not answer"
}

# need_packages: install from Debian what is missing of PKG (command ->
# package, an associative array) and of the array missing (packages the
# caller found missing otherwise); die when that fails
need_packages() {
    local c
    for c in "${!PKG[@]}"; do command -v "$c" >/dev/null 2>&1 || missing+=("${PKG[$c]}"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    say "installing from Debian: ${missing[*]}"
    apt_install "${missing[@]}" || die "could not install ${missing[*]} (see $RAW/apt.log)"
}

# machine_env: the env.txt lines every report starts from (the machine,
# the build, sshfs)
machine_env() {
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpus=$(nproc)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "mem=$(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "kernel=$(uname -r)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- tier preload shmd 2>/dev/null || echo '+local changes')"
    echo "sshfs=$(sshfs --version 2>&1 | sed -n 's/^SSHFS version //p' | head -1)"
}

# stats_fields INST SEP FIELD...: those `shmd stats` fields of INST, SEP
# between them (0 for a field it does not have)
stats_fields() {
    local inst=$1 sep=$2
    shift 2
    "$SHMD" stats --dir "$inst" --json | "$PY" -c 'import json, sys
s = json.load(sys.stdin)
print(sys.argv[1].join(str(s.get(k, 0)) for k in sys.argv[2:]))' "$sep" "$@"
}

# settle_stats INST TRIES SAME PERIOD FIELD...: until those fields of INST
# read the same SAME times in a row, PERIOD s apart (at most TRIES reads):
# the daemon's loads in the background are done
settle_stats() {
    local inst=$1 tries=$2 want=$3 period=$4 last= now same=0 i
    shift 4
    for i in $(seq "$tries"); do
        now=$(stats_fields "$inst" ' ' "$@")
        if [ "$now" = "$last" ]; then
            same=$((same + 1))
            [ $same -ge "$want" ] && return 0
        else
            same=0
        fi
        last=$now
        sleep "$period"
    done
}

stat_of() { # INST FIELD
    "$SHMD" stats --dir "$1" --json | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"
}

# wait_entries INST COUNT: until the daemon holds COUNT entries and has no
# load in flight (10 s of no progress is a failure).
wait_entries() {
    local last=-1 same=0 e
    while :; do
        e=$(stat_of "$1" entries)
        [ "$e" -ge "$2" ] && return 0
        if [ "$e" = "$last" ]; then
            same=$((same + 1))
            [ $same -ge 100 ] && return 1
        else
            same=0
        fi
        last=$e
        sleep 0.1
    done
}
