#!/usr/bin/python3
"""Markdown results + target verdicts from run_http2_bench.sh's JSON lines.

usage: report.py RESULTS_DIR

RESULTS_DIR/runs.jsonl   one line per h2load run (h2load_stats.py)
RESULTS_DIR/servers.json name -> {"role": ..., "body_bytes": ...[, "baseline_of": NAME]}
RESULTS_DIR/rss.jsonl    one line per idle-connection test (h2_idle_conns.py + "server"
                         [+ "baseline_of"])

Req/s and latencies are medians over the rounds (each round runs every
server once per load, interleaved, so a noisy moment hits all of them
alike); the spread column is min-max req/s over the rounds. Exit status 1
if any run failed (the verdicts are still printed).

A server with "baseline_of" is another fastrt-h2 binary (--baseline) running
the same test as the server it names: the "new / baseline" section divides
the named server's numbers by its baseline's. Baselines get no target verdicts.
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


def fmt_ratio(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}×"


def quotient(a, b):
    # a / b, or None when either is missing or b is 0 (a failed or absent run).
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarize(runs, servers, loads):
    """(server, load) -> {"rounds", "failed"[, "rps", "n", "lo", "hi", "p50", "p99"]}.

    The medians are only there when every round of that pair succeeded."""
    summary = {}
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
    return summary


def print_load_table(summary, servers, loads, ratio, peers=(("nghttpd", 2), ("Hypercorn", 1)), client="h2load"):
    """The throughput/latency table, with a ratio column per (peer, digits);
    returns True if a run failed. bench/http1/report.py uses it too."""
    failed_any = False
    print(f"| server | load ({client}) | body | requests/run | req/s (median) | req/s spread | p50 | p99 | "
          + " | ".join(f"× {peer}" for peer, _ in peers) + " |")
    print("|---|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(peers))
    for load in loads:
        for name, info in servers.items():
            row = summary.get((name, load))
            if row is None:
                continue
            if "rps" not in row:
                failed_any = True
                why = "; ".join(sorted({p for r in row["failed"] for p in r["problems"]}))
                print(f"| {name} | {load} | {info['body_bytes']} B | | **FAILED** | | | |" + " |" * (len(peers) - 1) + f" {why} |")
                continue
            ratios = " | ".join(fmt_ratio(ratio(name, load, peer), digits) for peer, digits in peers)
            print(f"| {name} | {load} | {info['body_bytes']} B | {row['n']:,} | {row['rps']:,.0f} | {row['lo']:,.0f}–{row['hi']:,.0f} "
                  f"| {fmt_us(row['p50'])} | {fmt_us(row['p99'])} | {ratios} |")
    return failed_any


def print_rss_table(rss):
    """The idle-connection table; returns True if a client reported errors."""
    failed_any = False
    print()
    print("| server (idle h2c connections) | connections held | RSS before | RSS after | RSS per connection "
          "| 1 M connections (projected) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rss:
        if r.get("skipped"):
            print(f"| {r['server']} | {r['connections']:,}: skipped ({r['skipped']}) | – | – | – | – |")
            continue
        held = f"{r['still_open']:,} of {r['connections']:,}"
        if r.get("errors"):
            held += " (errors: " + "; ".join(r["errors"]) + ")"
            failed_any = True
        print(f"| {r['server']} | {held} | {r['rss_before'] / 2**20:.1f} MiB | {r['rss_after'] / 2**20:.1f} MiB "
              f"| {r['bytes_per_conn']:,.0f} B ({r['bytes_per_conn'] / 1024:.1f} KiB) "
              f"| {r['bytes_per_conn'] * 1e6 / 2**30:.1f} GiB |")
    return failed_any


def per_round_rps_ratios(runs, name, baseline, load):
    """new / baseline req/s for each round in which both runs succeeded: the two ran
    back to back in that round, so the ratio of a pair sees nearly the same noise."""
    def by_round(server):
        return {r["round"]: r["rps"] for r in runs if r["server"] == server and r["load"] == load and r["ok"]}
    new, base = by_round(name), by_round(baseline)
    return [new[k] / base[k] for k in sorted(new.keys() & base.keys()) if base[k]]


def print_baseline_comparison(summary, runs, servers, loads, rss):
    """The "new / baseline" section: one row per fastrt-h2 test that has a baseline."""
    pairs = [(info["baseline_of"], name) for name, info in servers.items() if info.get("baseline_of")]
    print()
    print("New / baseline (each fastrt-h2 test divided by the same test of the --baseline binary, "
          "run in the same rounds; req/s above 1× and latency or RSS below 1× favour the new binary):")
    if pairs:  # (none after --idle-only: RSS rows only)
        print()
        print("| fastrt-h2 | load (h2load) | req/s new | req/s baseline | new / baseline req/s | per-round range "
              "| p50 new / baseline | p99 new / baseline |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
    for load in loads if pairs else []:
        for name, baseline in pairs:
            a, b = summary.get((name, load), {}), summary.get((baseline, load), {})
            per_round = per_round_rps_ratios(runs, name, baseline, load)
            spread = "–" if not per_round else fmt_ratio(per_round[0]) if len(per_round) == 1 \
                else f"{min(per_round):.2f}–{max(per_round):.2f}×"
            shown = [f"{row['rps']:,.0f}" if "rps" in row else "**FAILED**" for row in (a, b)]
            print(f"| {name} | {load} | {shown[0]} | {shown[1]} "
                  f"| {fmt_ratio(quotient(a.get('rps'), b.get('rps')))} | {spread} "
                  f"| {fmt_ratio(quotient(a.get('p50'), b.get('p50')))} | {fmt_ratio(quotient(a.get('p99'), b.get('p99')))} |")

    rss_by_server = {(r["server"], r["connections"]): r for r in rss}
    rss_pairs = [((r["baseline_of"], r["connections"]), (r["server"], r["connections"]))
                 for r in rss if r.get("baseline_of")]
    if rss_pairs:
        print()
        print("| fastrt-h2 (idle h2c connections) | RSS per connection new | RSS per connection baseline | new / baseline |")
        print("|---|---:|---:|---:|")
        for name, baseline in rss_pairs:
            a, b = rss_by_server.get(name, {}), rss_by_server.get(baseline, {})
            shown = [f"{r['bytes_per_conn']:,.0f} B" if "bytes_per_conn" in r else "–" for r in (a, b)]
            print(f"| {name[0]}, {name[1]:,} | {shown[0]} | {shown[1]} "
                  f"| {fmt_ratio(quotient(a.get('bytes_per_conn'), b.get('bytes_per_conn')))} |")


def print_verdicts(servers, loads, rss, ratio):
    """One line per target and load (a failed run counts as missed); returns True if
    an idle-connection test lost connections."""
    failed_any = False
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
        if r.get("skipped"):
            print(f"- NOT RUN {r['server']} RSS per idle connection at {r['connections']:,}: {r['skipped']}")
            continue
        if r["server"].startswith("fastrt-h2") and not r.get("baseline_of"):
            ok = not r.get("errors") and r["still_open"] == r["connections"] and r["bytes_per_conn"] <= 4096
            print(f"- {'MET   ' if ok else 'MISSED'} {r['server']} RSS per idle connection at {r['connections']:,}: "
                  f"{r['bytes_per_conn']:,.0f} B (target ≤ 4096 B)")
        if r["still_open"] != r["connections"]:
            failed_any = True
    return failed_any


def main():
    results = sys.argv[1]
    runs = load_jsonl(os.path.join(results, "runs.jsonl"))
    servers_file = os.path.join(results, "servers.json")  # (none after --idle-only)
    servers = json.load(open(servers_file)) if os.path.exists(servers_file) else {}
    rss = load_jsonl(os.path.join(results, "rss.jsonl"))

    loads = list(dict.fromkeys(r["load"] for r in runs))
    summary = summarize(runs, servers, loads)

    def ratio(name, load, peer):
        return quotient(summary.get((name, load), {}).get("rps"), summary.get((peer, load), {}).get("rps"))

    failed_any = print_load_table(summary, servers, loads, ratio) if runs else False  # (none after --idle-only)
    if rss:
        failed_any |= print_rss_table(rss)
    if any(info.get("baseline_of") for info in servers.values()) or any(r.get("baseline_of") for r in rss):
        print_baseline_comparison(summary, runs, servers, loads, rss)
    failed_any |= print_verdicts(servers, loads, rss, ratio)
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
