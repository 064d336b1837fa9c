"""Rounds of HTTP requests for every file of the sample tree, one
connection per request (as browsers fetch assets), checking every body's
length. Prints the mean time per request of the round and the hit ratio,
in the round and since the start, from `shmd stats --json`."""
import http.client
import json
import os
import subprocess
import sys
import time

port, root, listfile, shmd, inst, rounds = sys.argv[1:7]
paths = [l.rstrip("\n") for l in open(listfile)]


def stats():
    out = subprocess.run([shmd, "stats", "--dir", inst, "--json"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def get(rel):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    c.request("GET", "/" + rel)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, len(body)


before = stats()
first = before
for n in range(1, int(rounds) + 1):
    t0 = time.perf_counter()
    for p in paths:
        status, length = get(os.path.relpath(p, root))
        if status != 200 or length != os.path.getsize(p):
            sys.exit(f"demo: {p}: status {status}, {length} bytes")
    ms = (time.perf_counter() - t0) * 1000 / len(paths)
    now = stats()
    dh, dm = now["hits"] - before["hits"], now["misses"] - before["misses"]
    th, tm = now["hits"] - first["hits"], now["misses"] - first["misses"]
    print(f"round {n}: {len(paths)} requests, {ms:6.2f} ms per request, "
          f"hit ratio {100 * dh / max(dh + dm, 1):5.1f}% this round, "
          f"{100 * th / max(th + tm, 1):5.1f}% so far", flush=True)
    before = now
    if n == 1:
        # the misses were reported; shmd loads them in the background
        for _ in range(200):
            if stats()["entries"] >= len(paths):
                break
            time.sleep(0.05)
