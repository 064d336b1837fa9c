#!/usr/bin/python3
"""fleet_report.py RAW - bench/results-fleet.md from bench/fleet.sh's rows
(starts.tsv, warm.tsv, blobs.tsv, env.txt in RAW), on stdout."""
import statistics
import sys

RAW = sys.argv[1]
APPS = {"node": "node: eslint CLI on one file",
        "py": "python: Django `django.setup()`, 5 contrib apps",
        "php": "php: phpunit, 6 tests, PSR-4 autoloader"}


def tsv(name):
    with open(f"{RAW}/{name}") as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, ln.rstrip("\n").split("\t"))) for ln in f if ln.strip()]


env = dict(ln.rstrip("\n").split("=", 1) for ln in open(f"{RAW}/env.txt") if "=" in ln)
starts, warms, blobs = tsv("starts.tsv"), tsv("warm.tsv"), tsv("blobs.tsv")
rtts = env["rtts"].split()
apps = [a for a in APPS if any(r["app"] == a for r in starts)]


def num(r, k):
    return float(r[k])


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def ms(x):
    return "–" if x != x else f"{x:,.0f} ms"


def pick(app, rtt, fleet, phase, hosts):
    return [r for r in starts if r["app"] == app and r["rtt"] == rtt and r["fleet"] == fleet
            and r["phase"] == phase and int(r["host"]) in hosts]


def per_round(rows, f):
    """f over each round's rows, the median over rounds"""
    rounds = sorted({r["round"] for r in rows})
    return med([f([r for r in rows if r["round"] == k]) for k in rounds])


print("# The fleet tier: many hosts on one slow store\n")
print(f"{env['date']}, {env['cpus']} CPUs ({env['cpu']}), {env['mem']}, kernel {env['kernel']}, "
      f"{env['os']}, shmcache {env['rev']}; sshfs {env['sshfs']} to sshd on 127.0.0.1 through "
      f"bench/delayrelay at {', '.join(rtts)} ms round trip; memcached {env['memcached']} through "
      f"bench/delayrelay at {int(env['fleet_rtt_us']) / 1000:g} ms round trip. `make bench-fleet` "
      f"(bench/fleet.sh, {env['secs']} s), {env['rounds']} round(s) of new hosts.\n")
print("Each host is its own sshfs mount of the origin (its own kernel and sshfs caches) and its "
      "own `shmd` (defaults, `--settle-ms 0`), with `--fleet` or without; every start is a fresh "
      "process of the app, its output checked against the same app on tmpfs. Cold: the host's "
      "first start (an empty tier, a fresh mount); hosts 2–4 start one after another after host 1. "
      "Warm tier: host 4 started again until its misses are steady. Warmed: a 5th host that ran "
      "`shmd warm --from-fleet` before its first start, as an autoscaled host would before it "
      "takes traffic. The program waits for the fleet at the default `SHMCACHE_FLEET_WAIT_MS`.\n")

print("## Start-up (median of hosts 2–4; ratios to the warm tier)\n")
print("| app | round trip | no fleet: host 1 | no fleet: hosts 2–4 | fleet: host 1 | fleet: hosts 2–4 "
      "| warm tier | fleet hosts 2–4 ÷ warm | warmed host ÷ warm | target ≤ 1.5× at 20 ms |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for app in apps:
    for rtt in rtts:
        def t(fleet, phase, hosts):
            return per_round(pick(app, rtt, fleet, phase, hosts),
                             lambda rs: med([num(r, "ms") for r in rs]))
        warm = t("fleet", "warm", {4})
        cold = t("fleet", "cold", {2, 3, 4})
        warmed = t("fleet", "warmed", {5})
        met = ""
        if rtt == "20":
            best = min(cold / warm, warmed / warm)
            met = ("met" if best <= 1.5 else "not met") + \
                (" (warmed host)" if warmed / warm < cold / warm else " (cold host)")
        print(f"| {APPS[app]} | {rtt} ms | {ms(t('none', 'cold', {1}))} | "
              f"{ms(t('none', 'cold', {2, 3, 4}))} | {ms(t('fleet', 'cold', {1}))} | {ms(cold)} | "
              f"{ms(warm)} | {cold / warm:.2f}× | {warmed / warm:.2f}× | {met} |")

print("\n## Reads of file content from the store (hosts 2–4, and the warmed host)\n")
print("Copies a host made from the source (`source_loads`) per file it loaded (`loads`): the "
      "store's reads of content for the files the fleet already held (host 1's). The program's "
      "own first opens: served from the tier after waiting for the fleet (`fleet_wait_hits`), "
      "of all its opens that missed (`misses`), the rest read the store themselves.\n")
print("| app | round trip | files loaded | from the source | per file (target ≤ 0.05) | from the fleet "
      "| first opens served after the wait | waits past the bound | without the fleet: per file "
      "| warmed host: per file |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for app in apps:
    for rtt in rtts:
        rows = pick(app, rtt, "fleet", "cold", {2, 3, 4})
        s = {k: sum(num(r, k) for r in rows) for k in
             ("loads", "source_loads", "fleet_hits", "fleet_wait_hits", "fleet_wait_timeouts", "misses")}
        none = pick(app, rtt, "none", "cold", {2, 3, 4})
        nl = sum(num(r, "loads") for r in none)
        ns = sum(num(r, "source_loads") for r in none)
        w = pick(app, rtt, "fleet", "warmed", {5})
        wl = sum(num(r, "loads") for r in w)
        ws = sum(num(r, "source_loads") for r in w)
        per = s["source_loads"] / s["loads"] if s["loads"] else float("nan")
        print(f"| {app} | {rtt} ms | {s['loads']:,.0f} | {s['source_loads']:,.0f} | {per:.3f} "
              f"({'met' if per <= 0.05 else 'not met'}) | {s['fleet_hits']:,.0f} | "
              f"{s['fleet_wait_hits']:,.0f} of {s['misses']:,.0f} | {s['fleet_wait_timeouts']:,.0f} | "
              f"{ns / nl if nl else float('nan'):.3f} | {ws / wl if wl else float('nan'):.3f} |")

print("\n## The per-file cost: a fleet fetch against a source read\n")
print(f"A cold host's `cat` of {env['blobs']} files of 32 KiB, one process, each file opened "
      "once: with the fleet holding them (the program's open waits for the fetch and reads the "
      "tier's copy), and without a fleet (the program reads the store). Both pay the store's "
      "metadata round trips of the open itself.\n")
print("| round trip | with the fleet, per file | source read, per file | fleet ÷ source | "
      "served after the wait | copies from the source |")
print("|---|---:|---:|---:|---:|---:|")
for rtt in rtts:
    def cost(fleet):
        rows = [r for r in blobs if r["rtt"] == rtt and r["fleet"] == fleet]
        return med([num(r, "ms") / num(r, "files") for r in rows]), rows
    f, fr = cost("fleet")
    n, _ = cost("none")
    served = sum(num(r, "fleet_wait_hits") for r in fr)
    src = sum(num(r, "source_loads") for r in fr)
    files = sum(num(r, "files") for r in fr)
    print(f"| {rtt} ms | {f:.2f} ms | {n:.2f} ms | {f / n:.2f}× | {served:,.0f} of {files:,.0f} | "
          f"{src:,.0f} |")

try:
    wait = open(f"{RAW}/fleetwait.txt").read().strip().splitlines()
except OSError:
    wait = []
if wait:
    print(f"\nThe program's wait itself, by file size (`bench/fleetwait.sh`: host A fills the "
          f"fleet, host B `cat`s the files, the shim's `ppoll` timed by `strace -T`; the store is "
          f"local here, memcached {int(env['fleet_rtt_us']) / 1000:g} ms away):\n")
    print("```")
    print("\n".join(wait))
    print("```")

print("\n## `shmd warm --from-fleet` on the 5th host\n")
print("| app | round trip | time | what it said |")
print("|---|---|---:|---|")
for r in warms:
    print(f"| {r['app']} | {r['rtt']} ms | {float(r['secs']):.2f} s | {r['said'].strip()} |")
