#!/usr/bin/python3
"""Markdown tables + target verdicts from run_apps_bench.sh's results.

usage: apps_report.py RESULTS_DIR

RESULTS_DIR/servers.json  name -> {"app": "flask"|"starlette"|"native", "kind": "fastrt-h2"|
                          "gunicorn"|"uvicorn"|"hypercorn", "workers": N, "cpus": "0"|"0,1",
                          ["refused": fastrt-h2's start-up message when it would not serve the app]}
RESULTS_DIR/runs.jsonl    one line per h2load run of a route (bench/http2/h2load_stats.py;
                          its "load" is the route, e.g. "/hello")
RESULTS_DIR/pss.jsonl     {"server", "load", "round", "pss_bytes", "pids"}: the server's process
                          tree (pss.py) right after that loaded run
RESULTS_DIR/io.jsonl      h2load_stats.py lines of the I/O-bound route (1000 requests in flight)
RESULTS_DIR/io.json       {"sleep_s": 0.05, "in_flight": 1000, "requests": 5000}

Req/s, latencies and PSS are medians over the rounds (bench/http2/report.py's
summarize). Ratios compare servers with the same number of workers on the
same route: Starlette rows to uvicorn, Flask rows to the faster gunicorn
worker class. A server fastrt-h2 refused at start-up shows "n/a" and its
targets "NOT MEASURED". Exit status 1 if any run failed.
"""

import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http2"))
from report import fmt_ratio, fmt_us, load_jsonl, quotient, summarize  # noqa: E402  (bench/http2/report.py)

APP_TITLE = {"flask": "Flask", "starlette": "Starlette", "native": "native async def app(request)"}


def fmt_mib(nbytes):
    return "–" if nbytes is None else f"{nbytes / 2**20:.1f} MiB"


def workers_text(info):
    unit = "pinned" if info["kind"] == "fastrt-h2" else ("worker" if info["workers"] == 1 else "workers")
    return f"{info['workers']} {unit}"


def print_row(head, info, row, blanks, numbers):
    """Prints one table row: head + numbers(row) when the row has numbers; else "n/a" for a
    server fastrt-h2 refused, "**FAILED**" and why for a failed run, nothing when it did not
    run (blanks: the empty cells after the first). Returns True for a failed run."""
    if info.get("refused"):
        print(head + f"| n/a (fastrt-h2 refused: {info['refused']}) " + "| " * blanks + "|")
    elif row is None:
        pass
    elif "rps" not in row:
        why = "; ".join(sorted({p for r in row["failed"] for p in r["problems"]}))
        print(head + "| **FAILED** " + "| " * (blanks - 1) + f"| {why} |")
        return True
    else:
        print(head + numbers(row))
    return False


class Results:
    def __init__(self, directory):
        self.servers = json.load(open(os.path.join(directory, "servers.json")))
        self.runs = load_jsonl(os.path.join(directory, "runs.jsonl"))
        self.pss_readings = load_jsonl(os.path.join(directory, "pss.jsonl"))
        self.io_runs = load_jsonl(os.path.join(directory, "io.jsonl"))
        io_path = os.path.join(directory, "io.json")
        self.io = json.load(open(io_path)) if os.path.exists(io_path) else {}
        self.routes = list(dict.fromkeys(r["load"] for r in self.runs))
        self.summary = summarize(self.runs, self.servers, self.routes)
        self.io_loads = list(dict.fromkeys(r["load"] for r in self.io_runs))
        self.io_summary = summarize(self.io_runs, self.servers, self.io_loads)

    def named(self, app, kind, workers):
        for name, info in self.servers.items():
            if (info["app"], info["kind"], info["workers"]) == (app, kind, workers):
                return name
        return None

    def rps(self, name, route):
        return self.summary.get((name, route), {}).get("rps") if name else None

    def pss(self, name, route=None):
        """Median PSS of the server's readings after its runs of one route, or of all the
        throughput routes (not the I/O-bound one, which only some servers run)."""
        routes = self.routes if route is None else [route]
        values = [p["pss_bytes"] for p in self.pss_readings if p["server"] == name and p["load"] in routes]
        return statistics.median(values) if values else None

    def per_round_ratios(self, name, route):
        """The row's req/s over its peer's (as in peer_rps) round by round: the runs of one round
        were made minutes apart at most, so each ratio saw nearly the same machine."""
        def rates(server):
            return {r["round"]: r["rps"] for r in self.runs if r["server"] == server and r["load"] == route and r["ok"]}
        info = self.servers[name]
        if info["app"] == "starlette":
            peers = [self.named("starlette", "uvicorn", info["workers"])]
        else:
            peers = [self.named("flask", "gunicorn " + k, info["workers"]) for k in ("sync", "gthread")]
        mine, theirs = rates(name), [rates(p) for p in peers if p]
        ratios = []
        for round_no in sorted(mine):
            best = max((t[round_no] for t in theirs if round_no in t), default=None)
            if best:
                ratios.append(mine[round_no] / best)
        return ratios

    def peer_rps(self, info, route):
        """The rate a row is compared with: uvicorn (ASGI) or the best gunicorn class (WSGI),
        same number of workers, same route."""
        if info["app"] == "starlette":
            return self.rps(self.named("starlette", "uvicorn", info["workers"]), route)
        rates = [self.rps(self.named("flask", "gunicorn " + k, info["workers"]), route) for k in ("sync", "gthread")]
        rates = [r for r in rates if r is not None]
        return max(rates) if rates else None


def print_load_table(res):
    """Throughput, latency and memory of every server and route; True if a run failed."""
    failed_any = False
    print("| app | server | workers | CPUs | route | req/s (median) | req/s spread | p50 | p99 | PSS, all processes | × uvicorn / × best gunicorn |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for app in ("starlette", "flask"):
        for route in res.routes:
            for name, info in sorted(res.servers.items(), key=lambda item: item[1]["workers"]):
                if info["app"] != app:
                    continue
                head = f"| {APP_TITLE[app]} | {name} | {workers_text(info)} | {info['cpus']} | {route} "
                def numbers(row, name=name, info=info, route=route):
                    ratio = quotient(row["rps"], res.peer_rps(info, route))
                    return (f"| {row['rps']:,.0f} | {row['lo']:,.0f}–{row['hi']:,.0f} | {fmt_us(row['p50'])} "
                            f"| {fmt_us(row['p99'])} | {fmt_mib(res.pss(name, route))} | {fmt_ratio(ratio)} |")
                failed_any |= print_row(head, info, res.summary.get((name, route)), 5, numbers)
    return failed_any


def print_io_table(res):
    """The I/O-bound route; True if a run failed."""
    if not res.io_runs and not any(i.get("io") for i in res.servers.values()):
        return False
    failed_any = False
    sleep_s, in_flight, n = res.io.get("sleep_s", 0.05), res.io.get("in_flight", 1000), res.io.get("requests")
    print()
    print(f"I/O-bound: each request awaits asyncio.sleep({sleep_s}); {in_flight} requests in flight, "
          f"{n:,} per run (ideal wall time {n / in_flight * sleep_s:.2f} s: {n / in_flight:.0f} waves of the sleep)")
    print()
    print("| app | server | workers | load (h2load) | req/s (median) | p50 | p99 | p99 / sleep | wall time (median) |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for name, info in res.servers.items():
        if not info.get("io"):
            continue
        what = APP_TITLE[info["app"]] + ("" if info["app"] == "native" else " " + info["io"])
        head = f"| {what} | {name} | {workers_text(info)} | {info.get('io_load', '')} "
        row = next((res.io_summary[(name, load)] for load in res.io_loads if (name, load) in res.io_summary), None)

        def numbers(row, name=name):
            walls = [r["total"] / r["rps"] for r in res.io_runs if r["server"] == name and r["ok"] and r["rps"]]
            return (f"| {row['rps']:,.0f} | {fmt_us(row['p50'])} | {fmt_us(row['p99'])} "
                    f"| {fmt_ratio(row['p99'] / 1e6 / sleep_s)} | {statistics.median(walls):.2f} s |")
        failed_any |= print_row(head, info, row, 4, numbers)
    return failed_any


def print_verdicts(res):
    print()
    print("Targets:")

    def line(state, text):
        print(f"- {state:<12} {text}")

    def refused(name):
        return name and res.servers[name].get("refused")

    # Throughput, per core: the 1-pinned fastrt-h2 row against the 1-worker peer rows.
    for app, goal, peer in (("starlette", 1.5, "uvicorn, 1 worker"), ("flask", 2.0, "best gunicorn class, 1 worker")):
        name = res.named(app, "fastrt-h2", 1)
        for route in res.routes:
            text = f"{APP_TITLE[app]} on fastrt-h2, 1 pinned, {route} ≥ {goal}× {peer}"
            if name is None:
                continue
            if refused(name):
                line("NOT MEASURED", f"{text} (fastrt-h2 refused: {res.servers[name]['refused']})")
                continue
            value = quotient(res.rps(name, route), res.peer_rps(res.servers[name], route))
            met = value is not None and value >= goal
            rounds = res.per_round_ratios(name, route)
            spread = f" (per round {min(rounds):.2f}–{max(rounds):.2f}×)" if len(rounds) > 1 else ""
            line("MET" if met else "MISSED", f"{text}: {'no result' if value is None else fmt_ratio(value)}{spread}")

    # Memory: 2 pinned workers in one process against each peer's 2 worker processes.
    for app, peers in (("flask", ("gunicorn sync", "gunicorn gthread")), ("starlette", ("uvicorn", "hypercorn"))):
        name = res.named(app, "fastrt-h2", 2)
        for kind in peers:
            other = res.named(app, kind, 2)
            if name is None or other is None:
                continue
            text = f"PSS of {APP_TITLE[app]} on fastrt-h2, 2 pinned ≤ {other}"
            if refused(name):
                line("NOT MEASURED", f"{text} (fastrt-h2 refused: {res.servers[name]['refused']})")
                continue
            mine, theirs = res.pss(name), res.pss(other)
            if mine is None or theirs is None:
                line("MISSED", f"{text}: no reading")
                continue
            line("MET" if mine <= theirs else "MISSED",
                 f"{text}: {fmt_mib(mine)} vs {fmt_mib(theirs)} ({fmt_ratio(mine / theirs)})")

    # I/O-bound: p99 within 2x the sleep on fastrt-h2's 2 pinned workers.
    sleep_s = res.io.get("sleep_s", 0.05)
    for name, info in res.servers.items():
        if not info.get("io") or info["kind"] != "fastrt-h2":
            continue
        what = APP_TITLE[info["app"]] + ("" if info["app"] == "native" else " " + info["io"])
        text = f"I/O-bound {what} on fastrt-h2, {workers_text(info)}: p99 ≤ 2 × {sleep_s} s"
        if info.get("refused"):
            line("NOT MEASURED", f"{text} (fastrt-h2 refused: {info['refused']})")
            continue
        row = next((res.io_summary[(name, load)] for load in res.io_loads if (name, load) in res.io_summary), {})
        p99 = row.get("p99")
        met = p99 is not None and p99 / 1e6 <= 2 * sleep_s
        line("MET" if met else "MISSED", f"{text}: {'no result' if p99 is None else fmt_us(p99)}")


def main():
    res = Results(sys.argv[1])
    failed_any = print_load_table(res)
    failed_any |= print_io_table(res)
    print_verdicts(res)
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
