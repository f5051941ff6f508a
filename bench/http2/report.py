#!/usr/bin/python3
"""Markdown results + target verdicts from run_http2_bench.sh's JSON lines.

usage: report.py RESULTS_DIR

RESULTS_DIR/runs.jsonl   one line per h2load run (h2load_stats.py)
RESULTS_DIR/servers.json name -> {"role": ..., "body_bytes": ...}
RESULTS_DIR/rss.jsonl    one line per idle-connection test (h2_idle_conns.py + "server")

Req/s and latencies are medians over the rounds (each round runs every
server once per load, interleaved, so a noisy moment hits all of them
alike); the spread column is min-max req/s over the rounds. Exit status 1
if any run failed (the verdicts are still printed).
"""

import json
import os
import statistics
import sys


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt_us(us):
    if us is None:
        return "–"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us} µs"


def main():
    results = sys.argv[1]
    runs = load_jsonl(os.path.join(results, "runs.jsonl"))
    servers = json.load(open(os.path.join(results, "servers.json")))
    rss = load_jsonl(os.path.join(results, "rss.jsonl"))
    failed_any = False

    loads = list(dict.fromkeys(r["load"] for r in runs))
    summary = {}  # (server, load) -> dict
    for name in servers:
        for load in loads:
            mine = [r for r in runs if r["server"] == name and r["load"] == load]
            if not mine:
                continue
            bad = [r for r in mine if not r["ok"]]
            row = {"rounds": len(mine), "failed": bad}
            good = [r for r in mine if r["ok"]]
            if good and not bad:
                rps = [r["rps"] for r in good]
                row.update(rps=statistics.median(rps), n=int(statistics.median(r["total"] for r in good)), lo=min(rps), hi=max(rps),
                           p50=statistics.median(r["p50_us"] for r in good),
                           p99=statistics.median(r["p99_us"] for r in good))
            summary[(name, load)] = row

    def ratio(name, load, peer):
        a, b = summary.get((name, load), {}), summary.get((peer, load), {})
        if "rps" not in a or "rps" not in b or b["rps"] == 0:
            return None
        return a["rps"] / b["rps"]

    print("| server | load (h2load) | body | requests/run | req/s (median) | req/s spread | p50 | p99 | × nghttpd | × Hypercorn |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for load in loads:
        for name, info in servers.items():
            row = summary.get((name, load))
            if row is None:
                continue
            if "rps" not in row:
                failed_any = True
                why = "; ".join(sorted({p for r in row["failed"] for p in r["problems"]}))
                print(f"| {name} | {load} | {info['body_bytes']} B | | **FAILED** | | | | | {why} |")
                continue
            rn, rh = ratio(name, load, "nghttpd"), ratio(name, load, "Hypercorn")
            print(f"| {name} | {load} | {info['body_bytes']} B | {row['n']:,} | {row['rps']:,.0f} | {row['lo']:,.0f}–{row['hi']:,.0f} "
                  f"| {fmt_us(row['p50'])} | {fmt_us(row['p99'])} "
                  f"| {'–' if rn is None else f'{rn:.2f}×'} | {'–' if rh is None else f'{rh:.1f}×'} |")

    if rss:
        print()
        print("| server (idle h2c connections) | connections held | RSS before | RSS after | RSS per connection |")
        print("|---|---:|---:|---:|---:|")
        for r in rss:
            held = f"{r['still_open']:,} of {r['connections']:,}"
            if r.get("errors"):
                held += " (errors: " + "; ".join(r["errors"]) + ")"
                failed_any = True
            print(f"| {r['server']} | {held} | {r['rss_before'] / 2**20:.1f} MiB | {r['rss_after'] / 2**20:.1f} MiB "
                  f"| {r['bytes_per_conn']:,.0f} B ({r['bytes_per_conn'] / 1024:.1f} KiB) |")

    # Verdicts: one line per target and load. A failed run counts as missed.
    print()
    print("Targets:")

    def verdict(text, value, goal):
        ok = value is not None and value >= goal
        shown = "no result" if value is None else f"{value:.2f}×"
        print(f"- {'MET   ' if ok else 'MISSED'} {text}: {shown} (target ≥ {goal}×)")

    cpp = [n for n, i in servers.items() if i["role"] == "cpp"]
    pys = [n for n, i in servers.items() if i["role"] == "python"]
    for load in loads:
        for name in cpp:
            verdict(f"{name} vs nghttpd, {load}", ratio(name, load, "nghttpd"), 1.2)
            verdict(f"{name} vs h2o, {load}", ratio(name, load, "h2o"), 1.0)
        for name in pys:
            verdict(f"{name} vs Hypercorn, {load}", ratio(name, load, "Hypercorn"), 15)
    for r in rss:
        if r["server"].startswith("fastrt-h2"):
            ok = not r.get("errors") and r["still_open"] == r["connections"] and r["bytes_per_conn"] <= 4096
            print(f"- {'MET   ' if ok else 'MISSED'} {r['server']} RSS per idle connection: "
                  f"{r['bytes_per_conn']:,.0f} B (target ≤ 4096 B)")
        if r["still_open"] != r["connections"]:
            failed_any = True
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
