#!/usr/bin/python3
"""One h2load run -> one JSON line.

usage: h2load_stats.py SERVER LOAD ROUND H2LOAD_STDOUT LOG_FILE

Reads h2load's summary (req/s, request and status-code counts) and its
--log-file (one line per request: start time in µs since the epoch, HTTP
status or -1 for a failed stream, µs until the end of the response) and
prints the run's numbers. `ok` is false unless every request finished with
a 2xx: a server that errors, resets or stalls must show as failed, not as
fast.
"""

import json
import re
import sys


def percentile(sorted_values, p):
    # Nearest rank: the smallest value with at least p% of the values at or below it.
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def main():
    server, load, round_no, stdout_path, log_path = sys.argv[1:6]
    text = open(stdout_path, errors="replace").read()
    out = {"server": server, "load": load, "round": int(round_no), "ok": False, "problems": []}

    m = re.search(r"finished in ([\d.]+\w*), ([\d.]+) req/s", text)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if not (m and req and codes):
        out["problems"].append("h2load printed no summary (crashed or timed out?)")
        print(json.dumps(out))
        return
    out["rps"] = float(m.group(2))
    total, _, done, succeeded, failed, errored, timeout = map(int, req.groups())
    s2xx, s3xx, s4xx, s5xx = map(int, codes.groups())
    out.update(total=total, done=done, succeeded=succeeded, failed=failed, errored=errored,
               timeout=timeout, s2xx=s2xx, non2xx=s3xx + s4xx + s5xx)

    latencies, bad_lines = [], 0
    with open(log_path) as f:
        for line in f:
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            status = int(fields[1])
            if not 200 <= status < 300:
                bad_lines += 1
            latencies.append(int(fields[2]))
    latencies.sort()
    out["logged"] = len(latencies)
    out["p50_us"] = percentile(latencies, 50)
    out["p99_us"] = percentile(latencies, 99)

    if total == 0 or s2xx == 0:
        out["problems"].append("no successful requests")
    if failed or errored or timeout:
        out["problems"].append(f"{failed} failed, {errored} errored, {timeout} timeout")
    if s2xx != succeeded or out["non2xx"]:
        out["problems"].append(f"status codes: {s2xx} 2xx, {s3xx} 3xx, {s4xx} 4xx, {s5xx} 5xx of {succeeded} succeeded")
    if bad_lines:
        out["problems"].append(f"{bad_lines} non-2xx or failed lines in the per-request log")
    out["ok"] = not out["problems"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
