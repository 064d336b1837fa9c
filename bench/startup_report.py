"""startup_report.py - bench/results-raw/startup/ into results-startup.md, and
the start-up section of SUMMARY.md (bench/startup.sh).

    python3 startup_report.py RAWDIR OUTDIR

Ratios are per round first (shim and floor ran in the same round, a few
seconds apart), then the median of those, with their range."""
import collections
import csv
import os
import re
import statistics
import sys

RAW, OUT = sys.argv[1], sys.argv[2]
med = statistics.median
TARGET = 1.10
MICRO_TARGET = 0.5


def tsv(name):
    path = os.path.join(RAW, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def lines(name):
    path = os.path.join(RAW, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [x.rstrip("\n") for x in f if x.strip()]


meta = {}
with open(os.path.join(RAW, "meta.env")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("=")
        meta[k] = v
APPS = meta["apps"].split()
LABEL = {"node": "node: eslint CLI on one file", "py": "python: Django 3.2 `django.setup()`, 5 contrib apps",
         "php": "php: phpunit, 6 tests, PSR-4 autoloader"}
SHORT = {"node": "node", "py": "python", "php": "php"}
rtt_ms = 2 * int(meta["delay_us"]) / 1000

runs = tsv("runs.tsv")
by = collections.defaultdict(dict)   # (phase, app, cfg) -> {round: ms}
tier = collections.defaultdict(list)  # (app, cfg) -> [row]
for r in runs:
    by[(r["phase"], r["app"], r["cfg"])][int(r["round"])] = float(r["ms"])
    if r["phase"] == "round" and r["cfg"].startswith("shim"):
        tier[(r["app"], r["cfg"])].append(r)


def ms(phase, app, cfg):
    v = by.get((phase, app, cfg))
    return med(v.values()) if v else None


def ratios(phase, app, a, b):
    x, y = by.get((phase, app, a), {}), by.get((phase, app, b), {})
    return [x[k] / y[k] for k in sorted(x) if k in y and y[k] > 0]


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:,.0f} ms" if v >= 10 else f"{v:.1f} ms"


def fmt_ratio(v, digits=2):
    if not v:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}×"
    return f"{med(v):.{digits}f}× ({min(v):.{digits}f}–{max(v):.{digits}f})"


def verdict(v, target=TARGET):
    if not v:
        return "-"
    return "met" if med(v) <= target else "**not met**"


verdicts = {}


def startup_table(phase, title):
    out = [title, ""]
    out.append(f"| app | tmpfs (floor) | raw sshfs | shim | shim ÷ tmpfs | raw sshfs, {rtt_ms:g} ms RTT "
               f"| shim, {rtt_ms:g} ms RTT | shim ÷ tmpfs, {rtt_ms:g} ms | target ≤ {TARGET:.2f}× at {rtt_ms:g} ms |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for app in APPS:
        r0, r2 = ratios(phase, app, "shim0", "tmpfs"), ratios(phase, app, "shim2", "tmpfs")
        verdicts[(phase, app)] = (r2, verdict(r2))
        out.append(f"| {LABEL[app]} | {fmt_ms(ms(phase, app, 'tmpfs'))} | {fmt_ms(ms(phase, app, 'raw0'))} "
                   f"| {fmt_ms(ms(phase, app, 'shim0'))} | {fmt_ratio(r0)} | {fmt_ms(ms(phase, app, 'raw2'))} "
                   f"| {fmt_ms(ms(phase, app, 'shim2'))} | {fmt_ratio(r2)} | {verdict(r2)} |")
    out.append("")
    return out


md = []
md.append("# Application start-up from a slow mount")
md.append("")
md.append(f"{meta['date']}, {meta['cpus']} CPUs ({meta['cpu']}), {meta['mem']}, kernel {meta['kernel']}, "
          f"{meta['os']}, shmcache {meta['rev']}; sshfs {meta['sshfs']} (defaults: no `kernel_cache`) "
          f"to sshd on 127.0.0.1, origin on {meta['origin_fs']}; the {rtt_ms:g} ms round trip through "
          f"bench/delayrelay (+{meta['delay_us']} µs each way). `make bench-startup` "
          f"(bench/startup.sh, {meta['duration']}).")
md.append("")
md.append("Each run is a fresh process started from the app's directory (`cd` included in the time), "
          "its output compared with the floor's. tmpfs: the tree copied to /dev/shm, no shim; raw sshfs: "
          "no shim; shim: another sshfs mount of the same origin, `LD_PRELOAD=libshmcache.so` with a warm "
          "tier (the app run under it until its misses were steady), one shmd per app and round trip "
          "with the defaults (`--revalidate-ms 1000 --negative-ms 1000`), the only daemon running "
          "during its runs (the others SIGSTOPped; none during tmpfs and raw runs). Configurations "
          f"interleaved round by round, order rotated each round; medians of {meta['rounds']} rounds; "
          "ratios are medians of per-round ratios (range in brackets).")
md.append("")
md += startup_table("round", f"## Start-up (median of {meta['rounds']} rounds)")
md += startup_table("idle", f"## Restart after {meta['idle_s']} s idle (median of {meta['idle_rounds']}: "
                    f"each {meta['idle_s']} s without any run, every daemon running, then one run of each "
                    "configuration)")
md.append("After the idle time the kernel's attribute and entry caches (1 s) and sshfs's own cache "
          "(20 s) have expired for the raw mounts; the tier kept revalidating and still serves.")
md.append("")

# tier counters per measured shim run
md.append("## What the tier served per run (medians over the measured rounds)")
md.append("")
md.append("| app | round trip | opens served (hits) | stat/access/readlink served | of them ENOENT | listings served | opens not served (misses) | notices sent to shmd |")
md.append("|---|---|---:|---:|---:|---:|---:|---:|")
for app in APPS:
    for cfg in ("shim0", "shim2"):
        rows = tier.get((app, cfg))
        if not rows:
            continue

        def m(k):
            return f"{med(int(r[k]) for r in rows):,.0f}"
        md.append(f"| {SHORT[app]} | {'0' if cfg == 'shim0' else f'{rtt_ms:g} ms'} | {m('hits')} | {m('meta_hits')} "
                  f"| {m('negative_hits')} | {m('dir_hits')} | {m('misses')} | {m('misses_received')} |")
md.append("")

# micro
micro = collections.defaultdict(list)
for r in tsv("micro.tsv"):
    micro[r["row"]].append(float(r["ns"]))
per_round = collections.defaultdict(dict)
for r in tsv("micro.tsv"):
    per_round[r["row"]][int(r["round"])] = float(r["ns"])


def mratio(a, b):
    x, y = per_round.get(a, {}), per_round.get(b, {})
    return [x[k] / y[k] for k in sorted(x) if k in y and y[k] > 0]


micro_lines = []
if micro:
    md.append(f"## A cached stat and a cached ENOENT (ns per call, median of {meta['rounds']} rounds)")
    md.append("")
    md.append(f"`bench/hookcost -t N stat|nostat PATH` ({int(meta['micro_n']):,} calls; sshfs rows "
              f"{int(meta['micro_n']) // 100:,}, at {rtt_ms:g} ms {int(meta['micro_n']) // 1000:,}) on `{meta['micro_path']}` and a missing name beside it; "
              "the cached rows through the 0 ms shim mount with its warm tier, each checked to have "
              "counted one tier hit per call.")
    md.append("")
    md.append(f"| call | ns per call | ÷ the same call on tmpfs | target ≤ {MICRO_TARGET}× |")
    md.append("|---|---:|---:|---|")
    rows = [("stat_tmpfs", "stat, tmpfs, no shim", None), ("stat_hit", "stat, cached (tier)", "stat_tmpfs"),
            ("stat_pass", "stat, tmpfs, shim loaded (outside the prefix)", "stat_tmpfs"),
            ("noent_tmpfs", "stat → ENOENT, tmpfs, no shim", None),
            ("noent_hit", "stat → ENOENT, cached (tier)", "noent_tmpfs"),
            ("stat_sshfs", "stat, raw sshfs (kernel attribute cache)", "stat_tmpfs"),
            ("noent_sshfs", "stat → ENOENT, raw sshfs (a FUSE lookup each)", "noent_tmpfs"),
            ("noent_sshfs2", f"stat → ENOENT, raw sshfs, {rtt_ms:g} ms RTT", "noent_tmpfs")]
    for key, label, base in rows:
        if key not in micro:
            continue
        rv = mratio(key, base) if base else []
        tgt = verdict(rv, MICRO_TARGET) if key in ("stat_hit", "noent_hit") else ""
        md.append(f"| {label} | {med(micro[key]):,.0f} | {fmt_ratio(rv) if base else ''} | {tgt} |")
        if key in ("stat_hit", "noent_hit"):
            micro_lines.append((label, med(micro[key]), rv))
    v = mratio("noent_hit", "stat_tmpfs")
    if v:
        md.append("")
        md.append(f"A cached ENOENT against a (successful) stat on tmpfs: {fmt_ratio(v)}.")
    md.append("")

# revalidation
reval = tsv("reval.tsv")
if reval:
    md.append(f"## Revalidation load of each warm tier while the app is idle ({reval[0]['secs']} s, each daemon alone)")
    md.append("")
    md.append("Counted with `perf stat` on tracepoints: the daemon's metadata system calls on the mount "
              "(`newfstatat`, `statx`, `newlstat`, `newstat`, `openat`, `getdents64`, `readlinkat`, "
              "`faccessat` entered by shmd's threads), the FUSE requests they caused "
              "(`fuse:fuse_request_send` by shmd's threads: what the kernel's own caches did not answer), "
              "and the stat calls the file server made (the same stat tracepoints in every sshd process "
              "of the test's sshd: what sshfs did not answer from its own cache, i.e. what crossed the "
              "network; cross-checked with the read system calls of those processes from /proc/PID/io "
              "and their CPU time). CPU is per cent of one CPU: shmd; the shim mount's sshfs and its ssh. "
              "The kernel's caches (1 s) send the daemon's stats on to sshfs, whose own cache (20 s, "
              "refreshed for all its entries at once) answers them, so the server sees each path about "
              "once per 20 s: the window is 20 s by default (`REVAL_S`).")
    md.append("")
    md.append("| app | round trip | tier entries (metadata, ENOENT, listings) | shmd metadata calls/s | FUSE requests/s | server stat calls/s | server reads/s | shmd CPU | sshfs+ssh CPU | server CPU |")
    md.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in reval:
        s = float(r["secs"])
        md.append(f"| {SHORT[r['app']]} | {'0' if r['rtt'] == '0' else f'{rtt_ms:g} ms'} | {int(r['entries']):,} "
                  f"({int(r['meta_entries']):,}, {int(r['negative_entries']):,}, {int(r['dir_entries']):,}) "
                  f"| {int(r['shmd_calls']) / s:,.0f} | {int(r['shmd_fuse']) / s:,.0f} "
                  f"| {int(r['server_stats']) / s:,.0f} | {int(r.get('server_reads') or 0) / s:,.0f} "
                  f"| {int(r['shmd_cpu_ms']) / s / 10:.1f}% | {int(r.get('sshfs_cpu_ms') or 0) / s / 10:.1f}% "
                  f"| {int(r.get('server_cpu_ms') or 0) / s / 10:.1f}% |")
    md.append("")

# diagnosis
md.append(f"## What a warm shim run at {rtt_ms:g} ms still asks of the mount")
md.append("")
md.append("Per app, one run each (not timed): the FUSE requests the app's processes sent "
          "(`perf record -e fuse:fuse_request_send`; each one not answered by sshfs's cache is a round "
          "trip), the calls the shim did not serve (`SHMCACHE_LOG=miss`, with whether the path exists "
          "on the origin), and the path system calls on the mount that reached the kernel "
          "(`strace -f -e trace=%file`, instance directory excluded).")
md.append("")
diag_summary = {}
for app in APPS:
    md.append(f"### {LABEL[app]}")
    md.append("")
    for cfg in ("raw2", "shim2"):
        ops = [x.split() for x in lines(f"diag-{app}-fuse-{cfg}.txt")]
        if ops or os.path.exists(os.path.join(RAW, f"diag-{app}-fuse-{cfg}.txt")):
            total = sum(int(c) for _, c in ops)
            diag_summary[(app, cfg)] = total
            what = ", ".join(f"{c} {o}" for o, c in ops) or "none"
            md.append(f"- FUSE requests, {'raw sshfs' if cfg == 'raw2' else 'shim (warm)'}: **{total:,}** ({what})")
    log = [x.split("\t") for x in lines(f"diag-{app}-log.tsv")]
    if log:
        c = collections.Counter((k, w) for k, w, _ in log)
        md.append(f"- not served by the shim: {len(log)} calls: "
                  + "; ".join(f"{n} {k} ({w})" for (k, w), n in c.most_common()))
        ex = collections.OrderedDict()
        for k, w, p in log:
            ex.setdefault((k, w), [])
            if len(ex[(k, w)]) < 3:
                ex[(k, w)].append(p)
        for (k, w), ps in ex.items():
            md.append(f"  - {k}, {w}: " + ", ".join(f"`{p}`" for p in ps))
    else:
        md.append("- not served by the shim: nothing (`SHMCACHE_LOG=miss` printed no line)")
    st = lines(f"diag-{app}-strace.txt")
    if st:
        c = collections.Counter()
        exs = collections.OrderedDict()
        durs = []
        for ln in st:
            m = re.match(r"^\d+\s+([a-z0-9_]+)\(", ln)
            call = m.group(1) if m else "?"
            res = "ENOENT" if "ENOENT" in ln else ("error" if re.search(r"= -1 E", ln) else "ok")
            c[(call, res)] += 1
            d = re.search(r"<([0-9.]+)>\s*$", ln)
            if d:
                durs.append(float(d.group(1)) * 1000)
            # strace -y: a descriptor argument is N</its/path>, a name relative to it follows
            mm = re.search(r'\((?:(?:AT_FDCWD|\d+)<([^>]*)>, )?"([^"]*)"', ln) or re.search(r'\(\d+<([^>]*)>()', ln)
            exs.setdefault((call, res), [])
            if mm and len(exs[(call, res)]) < 3:
                pth = mm.group(2)
                if mm.group(1) and not pth.startswith("/"):
                    pth = mm.group(1) + ("/" + pth if pth else "")
                pth = pth.split("/mnt/shim2/", 1)[-1]
                if pth not in exs[(call, res)]:
                    exs[(call, res)].append(pth)
        t = (f", {sum(durs):,.0f} ms in all (median {med(durs):.1f} ms, max {max(durs):.1f} ms, under strace)"
             if durs else "")
        md.append(f"- path system calls on the mount: {len(st)}{t}: "
                  + "; ".join(f"{n} {k} → {r}" for (k, r), n in c.most_common()))
        for (k, r), ps in exs.items():
            md.append(f"  - {k} → {r}: " + ", ".join(f"`{p}`" for p in ps))
    else:
        md.append("- path system calls on the mount: none")
    if log:
        nm = sum(1 for k, w, _ in log if w == "missing, parent missing too")
        gap = (ms("round", app, "shim2") or 0) - (ms("round", app, "tmpfs") or 0)
        gap0 = (ms("round", app, "shim0") or 0) - (ms("round", app, "tmpfs") or 0)
        per = med(micro["noent_sshfs2"]) / 1e6 if micro.get("noent_sshfs2") else None
        est = f" ≈ {nm * per:,.0f} ms at the measured {per:.2f} ms per ENOENT on raw sshfs at {rtt_ms:g} ms" if per and nm else ""
        md.append(f"- **why**: {nm} of the {len(log)} unserved calls ask for a name under a directory that does "
                  "not exist either; shmd records a negative entry only when the parent directory can be "
                  "stat'ed (`look()` in shmd/meta.c), so these are asked of the mount on every run, each a "
                  f"FUSE LOOKUP{est}. The shim's whole gap to the floor: {gap:,.0f} ms at {rtt_ms:g} ms "
                  f"RTT, {gap0:,.0f} ms at 0 ms.")
    env = {}
    for x in lines(f"diag-{app}-shim2.env"):
        k, _, v = x.partition("=")
        env[k] = v
    sh = [x.split(",") for x in lines(f"diag-{app}-shmd.csv") if not x.startswith("#")]
    if env and sh:
        n = sum(int(x[0]) for x in sh if x[0].isdigit())
        bg = [float(r["shmd_fuse"]) / float(r["secs"]) for r in tsv("reval.tsv") if r["app"] == app and r["rtt"] == "2"]
        bgs = f"; its idle revalidation alone sends about {bg[0] * float(env['window_ms']) / 1000:,.0f} in that time" if bg else ""
        md.append(f"- shmd's own FUSE requests on the mount during that shim run ({env['run_ms']} ms, "
                  f"counted over {env['window_ms']} ms around it): {n:,}{bgs}")
    md.append("")

# setup
md.append("## Setup")
md.append("")
for app in APPS:
    md.append(f"- {SHORT[app]}: {meta.get('versions_' + app, '')}; {int(meta['files_' + app]):,} files in the tree, "
              f"{int(meta['loaded_' + app]):,} of them loaded by a run; `{meta['cmd_' + app]}`; tier warm after "
              f"{meta.get('warm_runs_' + app + 'shim0', '?')} runs (0 ms) and {meta.get('warm_runs_' + app + 'shim2', '?')} ({rtt_ms:g} ms).")
md.append("- Every run's output (paths normalised, phpunit's time line dropped) and exit status equal the "
          "floor's; a check run per configuration lists the files loaded (node: `require.cache`; python: "
          "every module's `__file__`, and no source compiled; php: `get_included_files()`), all from "
          "that configuration's own tree and as many as on tmpfs; every measured shim run counted tier "
          "hits and metadata hits and no more than a few misses (`shmd stats`).")
md.append("")
with open(os.path.join(OUT, "results-startup.md"), "w") as f:
    f.write("\n".join(md))

# ---- the start-up section of SUMMARY.md (report.py keeps it) -----------------------------------
s = ["## Start-up (`make bench-startup`)", ""]
s.append(f"Application start-up, warm tier against the tmpfs floor at {rtt_ms:g} ms RTT (median of "
         f"{meta['rounds']} rounds; after {meta['idle_s']} s idle in brackets); target ≤ {TARGET:.2f}×. "
         f"Full tables and the diagnosis: `bench/results-startup.md` ({meta['date']}).")
s.append("")
s.append(f"| app | tmpfs | raw sshfs, {rtt_ms:g} ms | shim, {rtt_ms:g} ms | shim ÷ tmpfs | after idle | target |")
s.append("|---|---:|---:|---:|---:|---:|---|")
for app in APPS:
    r2, v = verdicts[("round", app)]
    i2, vi = verdicts[("idle", app)]
    ok = "met" if v == "met" and vi == "met" else "**not met**"
    s.append(f"| {LABEL[app]} | {fmt_ms(ms('round', app, 'tmpfs'))} | {fmt_ms(ms('round', app, 'raw2'))} "
             f"| {fmt_ms(ms('round', app, 'shim2'))} | {med(r2):.2f}× | {med(i2):.2f}× | {ok} |" if r2 and i2 else
             f"| {LABEL[app]} | - | - | - | - | - | - |")
if micro_lines:
    s.append("")
    s.append("- " + "; ".join(f"{label}: {ns:,.0f} ns, {med(rv):.2f}× the same call on tmpfs"
                              for label, ns, rv in micro_lines) + f" (target ≤ {MICRO_TARGET}×).")
s.append("")
summary = os.path.join(OUT, "SUMMARY.md")
old = open(summary).read() if os.path.exists(summary) else ""
head = old.split("\n## Start-up (`make bench-startup`)")[0].rstrip("\n")
with open(summary, "w") as f:
    f.write((head + "\n\n" if head else "") + "\n".join(s))
print(f"report: {os.path.join(OUT, 'results-startup.md')}, {summary}")
