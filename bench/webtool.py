"""webtool.py - helpers of bench/web.sh.

    webtool.py check URL ROOT PATHSFILE
        GET every path once over one keep-alive connection and compare each
        body with the file ROOT+path byte for byte; prints
        "requests=N bytes=B" or exits 1 on the first difference.
    webtool.py parse WRKOUTPUT
        prints "rps p50_ms p99_ms requests non2xx socket_errors" from wrk's
        --latency output (exit 1 if it is not there)."""
import http.client
import re
import sys


def check(url, root, paths_file):
    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    n = total = 0
    with open(paths_file) as f:
        paths = [line.strip() for line in f if line.strip()]
    for p in paths:
        conn.request("GET", p)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"webtool: {url}{p}: HTTP {r.status}")
        with open(root + p, "rb") as f:
            if f.read() != body:
                sys.exit(f"webtool: {url}{p}: body differs from {root + p}")
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
        n += 1
        total += len(body)
    print(f"requests={n} bytes={total}")


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * UNIT[m.group(2)]


def parse(path):
    out = open(path).read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    req = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and req):
        sys.exit(f"webtool: no wrk result in {path}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    print(f"{float(rps.group(1)):.1f} {ms(p50.group(1)):.3f} {ms(p99.group(1)):.3f} {req.group(1)} "
          f"{non2xx.group(1) if non2xx else 0} {sum(map(int, sock.groups())) if sock else 0}")


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(*sys.argv[2:5])
    elif sys.argv[1] == "parse":
        parse(sys.argv[2])
    else:
        sys.exit(__doc__)
