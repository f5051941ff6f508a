#!/usr/bin/python3
"""Markdown results + target verdicts from run_http1_bench.sh's JSON lines.

usage: report.py RESULTS_DIR

RESULTS_DIR/runs.jsonl   one line per h2load --h1 run (bench/http2/h2load_stats.py)
RESULTS_DIR/servers.json name -> {"role": "cpp" | "python" | "peer", "body_bytes": N}

The medians, spreads and failure rules are bench/http2/report.py's (its
summarize() and print_load_table()); only the peers and the targets differ: ratios to h2o and to
nginx, and the C++ route must reach >= 1.0x h2o and >= 1.2x nginx. Exit
status 1 if any run failed (the verdicts are still printed).
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http2"))
from report import load_jsonl, print_load_table, quotient, summarize  # noqa: E402  (bench/http2/report.py)

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

    failed_any = print_load_table(summary, servers, loads, ratio, peers=[(p, 2) for p in PEERS], client="h2load --h1")
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
