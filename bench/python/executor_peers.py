"""Python's own executors on the work of bench/python_executor_bench.

    python3.13 bench/python/executor_peers.py <spin_n> <tasks> <trivial_calls>

Prints one line per measurement in the same format as the C++ bench.
"""
import concurrent.futures as cf
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fastrt_bench_handlers import noop, spin  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    n, tasks, calls = (int(a) for a in sys.argv[1:4])
    seq = min(timed(lambda: [spin(n) for _ in range(tasks)]) for _ in range(3))
    print(f"(a) python sequential            {seq * 1e3:9.1f} ms  speed-up 1.00x")
    with cf.ThreadPoolExecutor(2) as pool:
        t = min(timed(lambda: list(pool.map(spin, [n] * tasks))) for _ in range(3))
    print(f"(a) ThreadPoolExecutor(2)        {t * 1e3:9.1f} ms  speed-up {seq / t:.2f}x")
    with cf.ProcessPoolExecutor(2) as pool:
        list(pool.map(spin, [1] * 4))  # start the workers outside the timing
        t = min(timed(lambda: list(pool.map(spin, [n] * tasks))) for _ in range(3))
    print(f"(a) ProcessPoolExecutor(2)       {t * 1e3:9.1f} ms  speed-up {seq / t:.2f}x")

    with cf.ThreadPoolExecutor(1) as pool:
        t = timed(lambda: [pool.submit(noop, i).result() for i in range(calls)])
        print(f"(b) ThreadPoolExecutor(1).submit().result(): {calls / t:12.0f} calls/s")
        rtts = []
        for i in range(2000):
            t0 = time.perf_counter()
            pool.submit(noop, i).result()
            rtts.append(time.perf_counter() - t0)
            time.sleep(0.0005)  # let the worker go idle
        q = statistics.quantiles(rtts, n=100)
        print(f"(b) ThreadPoolExecutor idle round trip: p50 {q[49] * 1e6:.1f} us  p99 {q[98] * 1e6:.1f} us")


if __name__ == "__main__":
    main()
