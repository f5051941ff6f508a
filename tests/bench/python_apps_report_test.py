#!/usr/bin/python3
"""bench/python_apps/: the report, the h2load parser it relies on, and PSS summation (no benchmark run).

usage: python_apps_report_test.py [BENCH_DIR]

- bench/http2/h2load_stats.py turns a canned h2load summary and --log-file into the JSON line
  run_apps_bench.sh feeds the report (req/s, p50/p99 nearest rank, ok only if all 2xx).
- apps_report.py, from hand-written results: ratios to uvicorn / the best gunicorn class at the
  same worker count, PSS medians, n/a rows and NOT MEASURED verdicts for a server fastrt-h2
  refused, MET/MISSED verdicts, the I/O-bound table, exit 1 on a failed run.
- run_apps_bench.sh parses, answers --help, and rejects an unknown argument (nothing started).
- pss.py over a real process tree spawned here (a parent and two children): every process of the
  tree is summed, each one's Pss from /proc/PID/smaps_rollup, and nothing outside the tree.
Stdlib only; every subprocess is bounded by a timeout.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "bench")
APPS = os.path.join(BENCH, "python_apps")
PY = "/usr/bin/python3"
MiB = 2**20

H2LOAD_OUT = """starting benchmark...
spawning thread #0: 10 total client(s). 2000 total requests
Application protocol: h2c
progress: 10% done
progress: 100% done

finished in 500.00ms, {rps} req/s, 100.00KB/s
requests: 2000 total, 2000 started, 2000 done, {ok} succeeded, {bad} failed, 0 errored, 0 timeout
status codes: {ok} 2xx, 0 3xx, 0 4xx, {bad} 5xx
traffic: 100.00KB (102400) total, 10.00KB (10240) headers (space savings 90.00%), 26.00KB (26000) data
"""


def h2load_stats(rps, latencies_us, statuses):
    """Runs h2load_stats.py on a canned summary and per-request log; returns its JSON."""
    ok = sum(1 for s in statuses if 200 <= s < 300)
    with tempfile.TemporaryDirectory() as d:
        out, log = os.path.join(d, "out"), os.path.join(d, "log")
        with open(out, "w") as f:
            f.write(H2LOAD_OUT.format(rps=f"{rps:.2f}", ok=ok, bad=len(statuses) - ok))
        with open(log, "w") as f:
            f.writelines(f"{1700000000000000 + i}\t{s}\t{lat}\n" for i, (s, lat) in enumerate(zip(statuses, latencies_us)))
        p = subprocess.run([PY, os.path.join(BENCH, "http2", "h2load_stats.py"), "uvicorn, 1 worker", "/hello", "2", out, log],
                           capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout)


class H2loadParser(unittest.TestCase):
    def test_summary_and_percentiles(self):
        # 2000 requests, latencies 1..2000 µs: p50 = 1000 µs, p99 = 1980 µs (nearest rank).
        line = h2load_stats(4000.0, list(range(2000, 0, -1)), [200] * 2000)
        self.assertTrue(line["ok"], line)
        self.assertEqual((line["server"], line["load"], line["round"]), ("uvicorn, 1 worker", "/hello", 2))
        self.assertEqual((line["rps"], line["total"], line["p50_us"], line["p99_us"]), (4000.0, 2000, 1000, 1980))

    def test_a_5xx_fails_the_run(self):
        line = h2load_stats(4000.0, [100] * 2000, [200] * 1999 + [503])
        self.assertFalse(line["ok"])
        self.assertTrue(any("5xx" in p for p in line["problems"]), line)


def server(app, kind, workers, **extra):
    return {"app": app, "kind": kind, "workers": workers, "cpus": "0" if workers == 1 else "0,1", **extra}


def run(name, route, round_no, rps, p50=1000, p99=5000, ok=True, total=None):
    line = {"server": name, "load": route, "round": round_no, "ok": ok, "problems": [] if ok else ["4 failed, 0 errored, 0 timeout"]}
    if ok:
        line.update(rps=rps, total=total or rps * 5, p50_us=p50, p99_us=p99)
    return line


REFUSED = "--interface: ASGI is not supported yet"


def results(flask_ok=True):
    """Two rounds of /hello and /json. Per route and worker count the medians are:
    Flask on fastrt-h2 1 pinned 6,500; gunicorn sync 2,000, gthread 3,000 (best); uvicorn 1 worker
    10,000; 2 workers: fastrt-h2 Flask 9,000, gunicorn sync 5,000, gthread 4,000 (best: sync).
    Starlette on fastrt-h2 was refused (ASGI)."""
    servers = {
        "fastrt-h2 Starlette, 1 pinned": server("starlette", "fastrt-h2", 1, refused=REFUSED),
        "fastrt-h2 Flask, 1 pinned": server("flask", "fastrt-h2", 1),
        "fastrt-h2 Starlette, 2 pinned": server("starlette", "fastrt-h2", 2, refused=REFUSED, io="/sleep", io_load="-c 10 -m 100"),
        "fastrt-h2 Flask, 2 pinned": server("flask", "fastrt-h2", 2),
        "fastrt-h2 native async, 2 pinned": server("native", "fastrt-h2", 2, io="/", io_load="-c 10 -m 100"),
        "uvicorn, 1 worker": server("starlette", "uvicorn", 1),
        "uvicorn, 2 workers": server("starlette", "uvicorn", 2, io="/sleep", io_load="--h1 -c 1000"),
        "gunicorn sync, 1 worker": server("flask", "gunicorn sync", 1),
        "gunicorn gthread, 1 worker": server("flask", "gunicorn gthread", 1),
        "gunicorn sync, 2 workers": server("flask", "gunicorn sync", 2),
        "gunicorn gthread, 2 workers": server("flask", "gunicorn gthread", 2),
    }
    rates = {"fastrt-h2 Flask, 1 pinned": (6000, 7000), "fastrt-h2 Flask, 2 pinned": (9000, 9000),
             "uvicorn, 1 worker": (10000, 10000), "uvicorn, 2 workers": (15000, 15000),
             "gunicorn sync, 1 worker": (2000, 2000), "gunicorn gthread, 1 worker": (3000, 3000),
             "gunicorn sync, 2 workers": (5000, 5000), "gunicorn gthread, 2 workers": (4000, 4000)}
    pss = {"fastrt-h2 Flask, 1 pinned": 40, "fastrt-h2 Flask, 2 pinned": 55, "uvicorn, 1 worker": 22,
           "uvicorn, 2 workers": 64, "gunicorn sync, 1 worker": 39, "gunicorn gthread, 1 worker": 40,
           "gunicorn sync, 2 workers": 60, "gunicorn gthread, 2 workers": 50}
    runs, readings, io = [], [], []
    for r in (1, 2):
        for route in ("/hello", "/json"):
            for name, (first, second) in rates.items():
                ok = flask_ok or name != "gunicorn sync, 1 worker" or r == 1
                runs.append(run(name, route, r, first if r == 1 else second, ok=ok))
                readings.append({"server": name, "load": route, "round": r, "pss_bytes": pss[name] * MiB, "pids": [1]})
        io.append(run("fastrt-h2 native async, 2 pinned", "/", r, 12000, p50=60000, p99=90000, total=5000))
        io.append(run("uvicorn, 2 workers", "/sleep", r, 5000, p50=120000, p99=350000, total=5000))
    return servers, runs, readings, io


def report(servers, runs, readings, io):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "servers.json"), "w") as f:
            json.dump(servers, f)
        for name, lines in (("runs.jsonl", runs), ("pss.jsonl", readings), ("io.jsonl", io)):
            with open(os.path.join(d, name), "w") as f:
                f.writelines(json.dumps(x) + "\n" for x in lines)
        with open(os.path.join(d, "io.json"), "w") as f:
            json.dump({"sleep_s": 0.05, "in_flight": 1000, "requests": 5000}, f)
        p = subprocess.run([PY, os.path.join(APPS, "apps_report.py"), d], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.status, cls.out = report(*results())

    def test_exit_status_ok(self):
        self.assertEqual(self.status, 0, self.out)

    def test_flask_rows_against_the_best_gunicorn_class(self):
        self.assertIn("| Flask | fastrt-h2 Flask, 1 pinned | 1 pinned | 0 | /hello | 6,500 | 6,000–7,000 | 1.00 ms | 5.00 ms | 40.0 MiB | 2.17× |", self.out)
        self.assertIn("| Flask | gunicorn sync, 1 worker | 1 worker | 0 | /json | 2,000 |", self.out)
        self.assertIn("| 39.0 MiB | 0.67× |", self.out)
        # With 2 workers the best class is sync (5,000): 9,000 / 5,000.
        self.assertIn("| Flask | fastrt-h2 Flask, 2 pinned | 2 pinned | 0,1 | /json | 9,000 | 9,000–9,000 | 1.00 ms | 5.00 ms | 55.0 MiB | 1.80× |", self.out)

    def test_starlette_rows_against_uvicorn_and_refused_rows(self):
        self.assertIn("| Starlette | uvicorn, 2 workers | 2 workers | 0,1 | /hello | 15,000 |", self.out)
        self.assertIn(f"| Starlette | fastrt-h2 Starlette, 1 pinned | 1 pinned | 0 | /hello | n/a (fastrt-h2 refused: {REFUSED}) |", self.out)

    def test_io_bound_table(self):
        self.assertIn("ideal wall time 0.25 s", self.out)
        self.assertIn("| native async def app(request) | fastrt-h2 native async, 2 pinned | 2 pinned | -c 10 -m 100 | 12,000 | 60.00 ms | 90.00 ms | 1.80× | 0.42 s |", self.out)
        self.assertIn("| Starlette /sleep | fastrt-h2 Starlette, 2 pinned | 2 pinned | -c 10 -m 100 | n/a (fastrt-h2 refused:", self.out)

    def test_verdicts(self):
        verdicts = self.out.split("Targets:")[1]
        expected = [
            f"- NOT MEASURED Starlette on fastrt-h2, 1 pinned, /hello ≥ 1.5× uvicorn, 1 worker (fastrt-h2 refused: {REFUSED})",
            "- MET          Flask on fastrt-h2, 1 pinned, /hello ≥ 2.0× best gunicorn class, 1 worker: 2.17× (per round 2.00–2.33×)",
            "- MET          PSS of Flask on fastrt-h2, 2 pinned ≤ gunicorn sync, 2 workers: 55.0 MiB vs 60.0 MiB (0.92×)",
            "- MISSED       PSS of Flask on fastrt-h2, 2 pinned ≤ gunicorn gthread, 2 workers: 55.0 MiB vs 50.0 MiB (1.10×)",
            "- NOT MEASURED PSS of Starlette on fastrt-h2, 2 pinned ≤ uvicorn, 2 workers",
            "- NOT MEASURED I/O-bound Starlette /sleep on fastrt-h2, 2 pinned",
            "- MET          I/O-bound native async def app(request) on fastrt-h2, 2 pinned: p99 ≤ 2 × 0.05 s: 90.00 ms",
        ]
        for line in expected:
            self.assertIn(line, verdicts)
        self.assertEqual(len([l for l in verdicts.splitlines() if l.startswith("- ")]), 9, verdicts)


class FailedRun(unittest.TestCase):
    def test_a_failed_run_shows_and_fails(self):
        status, out = report(*results(flask_ok=False))
        self.assertEqual(status, 1, out)
        self.assertIn("| Flask | gunicorn sync, 1 worker | 1 worker | 0 | /hello | **FAILED** |", out)
        # Without gunicorn sync, gthread is the best 1-worker class: 6,500 / 3,000.
        self.assertIn("Flask on fastrt-h2, 1 pinned, /hello ≥ 2.0× best gunicorn class, 1 worker: 2.17×", out)


class Script(unittest.TestCase):
    """run_apps_bench.sh parses (bash -n), documents itself and refuses what it does not know,
    without starting anything."""

    SCRIPT = os.path.join(APPS, "run_apps_bench.sh")

    def test_syntax(self):
        p = subprocess.run(["bash", "-n", self.SCRIPT], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_help(self):
        p = subprocess.run([self.SCRIPT, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("run_apps_bench.sh [--quick] [--fastrt-h2 PATH]", p.stdout)
        self.assertNotIn("set -euo", p.stdout)

    def test_unknown_argument(self):
        p = subprocess.run([self.SCRIPT, "--no-such-flag"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown argument --no-such-flag", p.stderr)

    def test_bad_round_count(self):
        p = subprocess.run([self.SCRIPT, "--rounds", "x"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("whole number above 0, not 'x'", p.stderr)


TREE = """
import subprocess, sys, time
kids = [subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(%d * 2**20); time.sleep(60)" % mib])
        for mib in (8, 16)]
print(" ".join(str(k.pid) for k in kids), flush=True)
time.sleep(60)
"""


class TreePss(unittest.TestCase):
    def setUp(self):
        sys.path.insert(0, APPS)
        import pss  # bench/python_apps/pss.py
        self.pss = pss
        self.parent = subprocess.Popen([PY, "-c", TREE], stdout=subprocess.PIPE, text=True)
        self.children = [int(p) for p in self.parent.stdout.readline().split()]
        self.addCleanup(self.stop)

    def stop(self):
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.parent.kill()
        self.parent.wait(timeout=10)
        self.parent.stdout.close()

    def wait_for_children(self):
        # Each child is ready once its bytearray is touched: its Pss has passed the size.
        for _ in range(100):
            sizes = [self.pss.pss_of(pid) or 0 for pid in self.children]
            if sizes[0] > 8 * MiB and sizes[1] > 16 * MiB:
                return
            subprocess.run(["sleep", "0.1"], timeout=5)
        self.fail(f"the children never grew: {sizes}")

    def test_sums_the_whole_tree_and_nothing_else(self):
        self.wait_for_children()
        total, pids = self.pss.tree_pss(self.parent.pid)
        self.assertEqual(sorted(pids), sorted([self.parent.pid] + self.children))
        self.assertNotIn(os.getpid(), pids)
        each = [self.pss.pss_of(pid) for pid in pids]
        # The processes sleep: their Pss holds still, bar a page or two of bookkeeping.
        self.assertAlmostEqual(total, sum(each), delta=256 * 1024)
        self.assertGreater(total, self.pss.pss_of(self.parent.pid) + 24 * MiB)

    def test_command_line(self):
        self.wait_for_children()
        p = subprocess.run([PY, os.path.join(APPS, "pss.py"), str(self.parent.pid)], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        line = json.loads(p.stdout)
        self.assertEqual(len(line["pids"]), 3)
        self.assertGreater(line["pss_bytes"], 24 * MiB)

    def test_a_gone_process_is_an_error(self):
        self.parent.kill()
        self.parent.wait(timeout=10)
        p = subprocess.run([PY, os.path.join(APPS, "pss.py"), str(self.parent.pid)], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is gone", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
