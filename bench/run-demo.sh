#!/bin/bash
# run-demo.sh - `make run`: the main job on an embedded sample.
#
# Builds a sample static tree on disk, starts shmd on a temporary instance
# through `shmd exec`, and reads the tree twice with an unmodified program
# (python3, as a web worker or an importer would: open, read, close):
# the first pass misses and reads the disk (page cache dropped when root),
# the second is served from the shared-memory tier. Prints the time per file
# of both passes and `shmd stats`, then stops the daemon and cleans up.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shmd=$root/shmd/shmd
work=$(mktemp -d /var/tmp/shmcache-demo.XXXXXX)
inst=/dev/shm/shmcache-demo-$$
cleanup() {
    "$shmd" stop --dir "$inst" >/dev/null 2>&1 || true
    rm -rf "$work" "$inst"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A static-asset mix: many small css/js/svg files, some images.
python3 - "$work/tree" <<'PY'
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
find "$work/tree" -type f | sort > "$work/files"
nfiles=$(wc -l < "$work/files")
bytes=$(du -sb "$work/tree" | cut -f1)

cat > "$work/read.py" <<'PY'
# An unmodified reader: open, read, close every file; report us per file.
import sys, time
paths = [l.rstrip("\n") for l in open(sys.argv[1])]
t0 = time.perf_counter_ns()
total = 0
for p in paths:
    with open(p, "rb") as f:
        total += len(f.read())
dt = time.perf_counter_ns() - t0
print(f"{dt / len(paths) / 1000:.1f} {total}")
PY

echo "shmcache demo: $nfiles files ($((bytes / 1024)) KiB) under $work/tree"
echo "instance $inst (started by shmd exec)"
echo
drop=no
if [ "$(id -u)" = 0 ] && sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
    drop=yes
fi

run() { "$shmd" exec --dir "$inst" --settle-ms 0 -p "$work/tree" -- python3 "$work/read.py" "$work/files"; }
read -r us1 total1 <<< "$(run)"
# the misses were reported to shmd, which loads them in the background
for _ in $(seq 200); do
    entries=$("$shmd" stats --dir "$inst" --json | sed 's/.*"entries": \([0-9]*\).*/\1/')
    [ "$entries" -ge "$nfiles" ] && break
    sleep 0.05
done
read -r us2 total2 <<< "$(run)"
[ "$total1" = "$total2" ] || { echo "demo: the two passes read different byte counts" >&2; exit 1; }

printf 'pass 1  misses, from %-22s %8s us per file\n' \
    "$([ $drop = yes ] && echo "disk (cold page cache):" || echo "disk (page cache warm):")" "$us1"
printf 'pass 2  hits, from the shared-memory tier:  %8s us per file   (%s x faster)\n' "$us2" \
    "$(awk -v a="$us1" -v b="$us2" 'BEGIN { printf "%.1f", a / b }')"
echo
"$shmd" stats --dir "$inst"
