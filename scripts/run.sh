#!/usr/bin/env bash
# Builds fastrt (g++-12, Release) and starts the main job. Until the HTTP/2
# server lands this is fastrt-echo, the io_uring TCP echo server, on
# 127.0.0.1:7000 with one io thread per core (Ctrl-C stops it cleanly).
# Extra arguments go to the server: scripts/run.sh --port 9000 --threads 1
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target fastrt-echo >/dev/null
exec build/release/examples/echo_server/fastrt-echo --threads "$(nproc)" "$@"
