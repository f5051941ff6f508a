"""Handlers for bench/python_executor_bench and bench/python/executor_peers.py."""


def spin(n):
    """CPU-bound: holds the GIL throughout."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def noop(x):
    return x
