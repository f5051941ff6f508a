#!/usr/bin/python3
"""Markdown results + target verdicts from run_http1_bench.sh's JSON lines.

usage: report.py RESULTS_DIR

RESULTS_DIR/runs.jsonl   one line per h2load --h1 run (bench/http2/h2load_stats.py)
RESULTS_DIR/servers.json name -> {"role": "cpp" | "python" | "peer", "body_bytes": N}

The medians, spreads and failure rules are bench/http2/report.py's (its
summarize()); only the peers and the targets differ: ratios to h2o and to
nginx, and the C++ route must reach >= 1.0x h2o and >= 1.2x nginx. Exit
status 1 if any run failed (the verdicts are still printed).
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http2"))
from report import fmt_ratio, fmt_us, load_jsonl, quotient, summarize  # noqa: E402  (bench/http2/report.py)

PEERS = ("h2o", "nginx")
TARGETS = (("h2o", 1.0), ("nginx", 1.2))  # for the C++ route


def main():
    results = sys.argv[1]
    runs = load_jsonl(os.path.join(results, "runs.jsonl"))
    servers = json.load(open(os.path.join(results, "servers.json")))
    loads = list(dict.fromkeys(r["load"] for r in runs))
    summary = summarize(runs, servers, loads)

    def ratio(name, load, peer):
        return quotient(summary.get((name, load), {}).get("rps"), summary.get((peer, load), {}).get("rps"))

    failed_any = False
    print("| server | load (h2load --h1) | body | requests/run | req/s (median) | req/s spread | p50 | p99 | "
          + " | ".join(f"× {p}" for p in PEERS) + " |")
    print("|---|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(PEERS))
    for load in loads:
        for name, info in servers.items():
            row = summary.get((name, load))
            if row is None:
                continue
            if "rps" not in row:
                failed_any = True
                why = "; ".join(sorted({p for r in row["failed"] for p in r["problems"]}))
                print(f"| {name} | {load} | {info['body_bytes']} B | | **FAILED** | | | | {why} |" + " |" * (len(PEERS) - 1))
                continue
            ratios = " | ".join(fmt_ratio(ratio(name, load, p)) for p in PEERS)
            print(f"| {name} | {load} | {info['body_bytes']} B | {row['n']:,} | {row['rps']:,.0f} "
                  f"| {row['lo']:,.0f}–{row['hi']:,.0f} | {fmt_us(row['p50'])} | {fmt_us(row['p99'])} | {ratios} |")

    print()
    print("Targets:")
    for load in loads:
        for name in (n for n, i in servers.items() if i["role"] == "cpp"):
            for peer, goal in TARGETS:
                value = ratio(name, load, peer)
                ok = value is not None and value >= goal
                shown = "no result" if value is None else f"{value:.2f}×"
                print(f"- {'MET   ' if ok else 'MISSED'} {name} vs {peer}, {load}: {shown} (target ≥ {goal}×)")
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
