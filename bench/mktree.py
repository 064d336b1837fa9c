"""mktree.py - the origin tree of `make bench`, deterministic (seeded).

    python3 mktree.py ROOT

ROOT/static   a static-asset mix: css/ js/ svg/ (many 1-16 KiB files),
              img/ (64 KiB - 1 MiB images), big/video.bin (64 MiB)
ROOT/micro/4k 1000 files of exactly 4 KiB (the headline size class)
ROOT/py       copies of the standard library's json, email, http and asyncio
              packages with their __pycache__ (compiled by this interpreter,
              so an import from ROOT/py finds valid .pyc files)

Contents are random bytes: nothing on the way compresses, so every byte
crosses the (network) filesystem. File counts scale with BENCH_SCALE
(default 1.0) for quick runs."""
import compileall
import os
import random
import shutil
import sys
import sysconfig

root = sys.argv[1]
scale = float(os.environ.get("BENCH_SCALE", "1"))
rng = random.Random(20261124)


def n(count):
    return max(1, int(count * scale))


def write(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))


for d, count, lo, hi, ext in (("css", 200, 1024, 16384, "css"),
                              ("js", 200, 1024, 16384, "js"),
                              ("svg", 100, 1024, 8192, "svg")):
    for i in range(n(count)):
        write(f"{root}/static/{d}/{d}{i:04d}.{ext}", rng.randint(lo, hi))
for i in range(n(40)):
    write(f"{root}/static/img/img{i:03d}.png", rng.randint(64 * 1024, 1024 * 1024))
write(f"{root}/static/big/video.bin", 64 * 1024 * 1024)
for i in range(n(1000)):
    write(f"{root}/micro/4k/f{i:04d}.bin", 4096)

stdlib = sysconfig.get_paths()["stdlib"]
for pkg in ("json", "email", "http", "asyncio"):
    shutil.copytree(os.path.join(stdlib, pkg), os.path.join(root, "py", pkg),
                    ignore=shutil.ignore_patterns("*.opt-*.pyc"))
# (re)compile with this interpreter: .pyc headers must match the copies
compileall.compile_dir(os.path.join(root, "py"), quiet=1)
