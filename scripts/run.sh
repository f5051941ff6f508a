#!/usr/bin/env bash
# Builds fastrt (g++-12, Release) and starts the main job. Until the HTTP/2
# server lands this is the parallel-primes demo: a coroutine fan-out over a
# thread_pool that reports its speed-up over one thread.
# Extra arguments go to the program: scripts/run.sh --limit 20000000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target parallel_primes >/dev/null
exec build/release/examples/parallel_primes/parallel_primes "$@"
