#!/bin/bash
# run-demo.sh - `make run`: the real use on an embedded sample.
#
# Builds a sample static tree on disk, starts an unmodified web app on it
# (gunicorn with 4 workers and demo/app.py, or Python's own threaded WSGI
# server where gunicorn is absent) under `shmd exec`, which starts shmd for
# a temporary instance and preloads the library, then sends it rounds of
# requests for every file. The first round misses (a cold page cache when
# run as root); the hit ratio climbs and the time per request falls as the
# tier fills. Prints `shmd stats` at the end, then stops everything.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shmd=$root/shmd/shmd
work=$(mktemp -d /var/tmp/shmcache-demo.XXXXXX)
inst=/dev/shm/shmcache-demo-$$
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    "$shmd" stop --dir "$inst" >/dev/null 2>&1 || true
    rm -rf "$work" "$inst"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A static-asset mix: many small css/js/svg files, some images.
python3 - "$work/static" <<'PY'
import os, random, sys
random.seed(7)
root = sys.argv[1]
for d, n, lo, hi, ext in (("css", 120, 1024, 16384, "css"), ("js", 120, 2048, 16384, "js"),
                          ("svg", 40, 512, 4096, "svg"), ("img", 20, 65536, 262144, "png")):
    os.makedirs(os.path.join(root, d))
    for i in range(n):
        with open(os.path.join(root, d, f"f{i:03d}.{ext}"), "wb") as f:
            f.write(random.randbytes(random.randint(lo, hi)))
PY
find "$work/static" -type f | sort > "$work/files"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

if command -v gunicorn >/dev/null; then
    what="gunicorn, 4 workers, demo/app.py (wsgi.file_wrapper: sendfile)"
    cmd=(gunicorn -w 4 -b "127.0.0.1:$port" --chdir "$root/demo" --log-level warning app:app)
else
    what="python3 wsgiref threaded server, demo/app.py (gunicorn not installed)"
    cmd=(python3 "$root/demo/app.py" "$port")
fi
echo "shmcache demo: $(wc -l < "$work/files") files ($(du -sk "$work/static" | cut -f1) KiB) in $work/static"
echo "web app: $what, on 127.0.0.1:$port"
echo "instance: $inst (started by shmd exec)"
# Evict the sample tree's pages, and only theirs (not the host's whole page
# cache, as drop_caches would): written back first, then POSIX_FADV_DONTNEED,
# as any user may for files they can open.
python3 - "$work/files" <<'PY'
import os, sys
for path in open(sys.argv[1]).read().split("\n"):
    if path:
        fd = os.open(path, os.O_RDONLY)
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
echo "the sample tree's pages evicted (posix_fadvise DONTNEED, no other page cache touched):"
echo "the first round reads the disk"
echo

DEMO_ROOT=$work/static "$shmd" exec --dir "$inst" --settle-ms 0 -p "$work/static" -- "${cmd[@]}" &
server=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
done
if command -v curl >/dev/null; then
    first=$(sed -n 1p "$work/files")
    curl -s -o /dev/null -w "curl ${first#"$work/static"}: HTTP %{http_code}, %{size_download} bytes\n\n" \
        "http://127.0.0.1:$port${first#"$work/static"}"
fi
python3 "$root/demo/client.py" "$port" "$work/static" "$work/files" "$shmd" "$inst" 4
echo
"$shmd" stats --dir "$inst"
