#!/usr/bin/python3
"""bench/http2/report.py's tables, from hand-written results (no servers run).

usage: http2_report_test.py [REPORT_PY]

With a --baseline binary in the results (servers.json "baseline_of"), the
report must show its rows, a "new / baseline" section with the right ratios
(req/s, per-round range, p50/p99, RSS per connection), no target verdicts for
the baseline, and FAILED (exit 1) for a failed baseline run. Without one, no
trace of it. Idle-connection rows carry the 1 M projection; a count the open-file
limit could not hold is a "skipped" row and a NOT RUN verdict; an --idle-only run
(no servers.json, no load runs) reports the idle table alone. Stdlib only; each case runs report.py once (bounded by a timeout).
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else \
    os.path.join(HERE, "..", "..", "bench", "http2", "report.py")
LOADS = ("-c 50 -m 10", "-c 100 -m 100")
BASE = "fastrt-h2 C++ (baseline)"


def run(server, load, round_no, rps, p50=100, p99=900, ok=True):
    line = {"server": server, "load": load, "round": round_no, "ok": ok, "problems": [] if ok else ["3 failed, 0 errored, 0 timeout"]}
    if ok:
        line.update(rps=rps, total=1000, p50_us=p50, p99_us=p99)
    return line


def idle(server, per_conn, baseline_of=None):
    line = {"server": server, "connections": 100, "still_open": 100, "rss_before": 2**20,
            "rss_after": 2**20 + per_conn * 100, "bytes_per_conn": per_conn, "errors": []}
    if baseline_of:
        line["baseline_of"] = baseline_of
    return line


def results(with_baseline, baseline_ok=True):
    """Two rounds of both loads. The new C++ route does 12,000 then 13,000 req/s, its
    baseline 10,000 then 13,000 (per-round ratios 1.20 and 1.00)."""
    servers = {"fastrt-h2 C++": {"role": "cpp", "body_bytes": 27},
               "nghttpd": {"role": "peer", "body_bytes": 13},
               "h2o": {"role": "peer", "body_bytes": 13}}
    runs, rss = [], [idle("fastrt-h2 (C++ route)", 3000), idle("nghttpd", 5000)]
    for load in LOADS:
        for r, (new, base) in enumerate(((12000, 10000), (13000, 13000)), start=1):
            runs.append(run("fastrt-h2 C++", load, r, new, p50=150))
            runs.append(run("nghttpd", load, r, 10000))
            runs.append(run("h2o", load, r, 11000))
            if with_baseline:
                runs.append(run(BASE, load, r, base, p50=100, p99=600, ok=baseline_ok or r == 1))
    if with_baseline:
        servers[BASE] = {"role": "baseline", "body_bytes": 27, "baseline_of": "fastrt-h2 C++"}
        rss.insert(1, idle("fastrt-h2 (C++ route) (baseline)", 2400, baseline_of="fastrt-h2 (C++ route)"))
    return servers, runs, rss


def report(servers, runs, rss):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "servers.json"), "w") as f:
            json.dump(servers, f)
        with open(os.path.join(d, "runs.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in runs)
        with open(os.path.join(d, "rss.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rss)
        p = subprocess.run(["/usr/bin/python3", REPORT, d], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout


def rows_starting(text, prefix):
    return [line for line in text.splitlines() if line.startswith(prefix)]


class WithoutBaseline(unittest.TestCase):
    def test_no_trace_of_a_baseline(self):
        status, out = report(*results(with_baseline=False))
        self.assertEqual(status, 0, out)
        self.assertNotIn("baseline", out.lower())
        self.assertIn("| fastrt-h2 C++ | -c 50 -m 10 | 27 B | 1,000 | 12,500 | 12,000–13,000 |", out)
        self.assertIn("- MET    fastrt-h2 (C++ route) RSS per idle connection at 100: 3,000 B", out)
        self.assertIn("| 3,000 B (2.9 KiB) | 2.8 GiB |", out)  # 3,000 B x 1 M


class IdleOnly(unittest.TestCase):
    def test_idle_table_alone_and_skipped_counts(self):
        rss = [idle("fastrt-h2 (C++ route)", 3000),
               {"server": "fastrt-h2 (C++ route)", "connections": 100000,
                "skipped": "open-file hard limit 20000 < 100200"}]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "rss.jsonl"), "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rss)
            p = subprocess.run(["/usr/bin/python3", REPORT, d], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("| fastrt-h2 (C++ route) | 100,000: skipped (open-file hard limit 20000 < 100200) |", p.stdout)
        self.assertIn("- NOT RUN fastrt-h2 (C++ route) RSS per idle connection at 100,000", p.stdout)
        self.assertIn("- MET    fastrt-h2 (C++ route) RSS per idle connection at 100: 3,000 B", p.stdout)


class WithBaseline(unittest.TestCase):
    def setUp(self):
        self.status, self.out = report(*results(with_baseline=True))

    def test_exit_status_ok(self):
        self.assertEqual(self.status, 0, self.out)

    def test_baseline_rows_in_the_main_table(self):
        self.assertEqual(len(rows_starting(self.out, f"| {BASE} | ")), 2, self.out)
        self.assertIn(f"| {BASE} | -c 50 -m 10 | 27 B | 1,000 | 11,500 | 10,000–13,000 |", self.out)

    def test_new_over_baseline_throughput(self):
        self.assertIn("New / baseline", self.out)
        # Medians 12,500 / 11,500 = 1.09; per-round 1.20 and 1.00; p50 150/100; p99 900/600.
        for load in LOADS:
            self.assertIn(f"| fastrt-h2 C++ | {load} | 12,500 | 11,500 | 1.09× | 1.00–1.20× | 1.50× | 1.50× |", self.out)

    def test_new_over_baseline_rss(self):
        self.assertIn("| fastrt-h2 (C++ route), 100 | 3,000 B | 2,400 B | 1.25× |", self.out)

    def test_no_verdicts_for_the_baseline(self):
        verdicts = self.out.split("Targets:")[1]
        self.assertNotIn("baseline", verdicts)
        self.assertEqual(len(rows_starting(verdicts.strip(), "- ")), 5, verdicts)


class FailedBaseline(unittest.TestCase):
    def test_failed_baseline_run_shows_and_fails(self):
        status, out = report(*results(with_baseline=True, baseline_ok=False))
        self.assertEqual(status, 1, out)
        self.assertIn(f"| {BASE} | -c 50 -m 10 | 27 B | | **FAILED** |", out)
        self.assertIn("| fastrt-h2 C++ | -c 50 -m 10 | 12,500 | **FAILED** | – | 1.20× | – | – |", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
