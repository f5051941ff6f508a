#!/usr/bin/python3
"""bench/http1/report.py's table and verdicts, from hand-written results (no servers run).

usage: http1_report_test.py [REPORT_PY]

The C++ route's ratios are to h2o and nginx, its targets >= 1.0x h2o and
>= 1.2x nginx per load; a failed run shows FAILED and exits 1. Stdlib only;
each case runs report.py once (bounded by a timeout).
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else \
    os.path.join(HERE, "..", "..", "bench", "http1", "report.py")
LOADS = ("-c 50 -m 1", "-c 50 -m 10")
# req/s per load: the C++ route beats both peers at -m 1, misses both at -m 10.
RPS = {"fastrt-h2 C++": (36000, 50000), "h2o": (30000, 60000), "nginx": (24000, 45000),
       "fastrt-h2 Python, 1 pinned": (20000, 30000)}
ROLES = {"fastrt-h2 C++": "cpp", "h2o": "peer", "nginx": "peer", "fastrt-h2 Python, 1 pinned": "python"}


def report(failed=None):
    """Runs report.py on two rounds of every (server, load); `failed`: (server, load) whose round 2 failed."""
    runs = []
    for name, rates in RPS.items():
        for load, rps in zip(LOADS, rates):
            for r in (1, 2):
                ok = (name, load) != failed or r == 1
                line = {"server": name, "load": load, "round": r, "ok": ok,
                        "problems": [] if ok else ["3 failed, 0 errored, 0 timeout"]}
                if ok:
                    line.update(rps=rps, total=1000, p50_us=300, p99_us=2000)
                runs.append(line)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "runs.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in runs)
        with open(os.path.join(d, "servers.json"), "w") as f:
            json.dump({n: {"role": ROLES[n], "body_bytes": 27 if n == "fastrt-h2 C++" else 13} for n in RPS}, f)
        done = subprocess.run([sys.executable, REPORT, d], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


class Http1Report(unittest.TestCase):
    def test_ratios_to_h2o_and_nginx(self):
        status, out = report()
        self.assertEqual(status, 0, out)
        self.assertIn("| load (h2load --h1) |", out)
        self.assertIn("| × h2o | × nginx |", out)
        rows = {tuple(cell.strip() for cell in line.split("|")[1:3]): line for line in out.splitlines()}
        cpp, nginx = rows[("fastrt-h2 C++", "-c 50 -m 1")], rows[("nginx", "-c 50 -m 10")]
        self.assertTrue(cpp.startswith("| fastrt-h2 C++ | -c 50 -m 1 | 27 B | 1,000 | 36,000 | 36,000–36,000 |"), cpp)
        self.assertTrue(cpp.endswith("| 2.00 ms | 1.20× | 1.50× |"), cpp)
        self.assertTrue(nginx.endswith("| 2.00 ms | 0.75× | 1.00× |"), nginx)

    def test_verdicts_for_the_cpp_route_only(self):
        _, out = report()
        self.assertIn("- MET    fastrt-h2 C++ vs h2o, -c 50 -m 1: 1.20× (target ≥ 1.0×)", out)
        self.assertIn("- MET    fastrt-h2 C++ vs nginx, -c 50 -m 1: 1.50× (target ≥ 1.2×)", out)
        self.assertIn("- MISSED fastrt-h2 C++ vs h2o, -c 50 -m 10: 0.83× (target ≥ 1.0×)", out)
        self.assertIn("- MISSED fastrt-h2 C++ vs nginx, -c 50 -m 10: 1.11× (target ≥ 1.2×)", out)
        self.assertNotIn("Python, 1 pinned vs", out)

    def test_a_failed_run_fails_the_report(self):
        status, out = report(failed=("h2o", "-c 50 -m 10"))
        self.assertEqual(status, 1, out)
        self.assertIn("| h2o | -c 50 -m 10 | 13 B | | **FAILED** | | | | | 3 failed, 0 errored, 0 timeout |", out)
        self.assertIn("- MISSED fastrt-h2 C++ vs h2o, -c 50 -m 10: no result (target ≥ 1.0×)", out)


if __name__ == "__main__":
    unittest.main()
