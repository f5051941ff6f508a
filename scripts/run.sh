#!/usr/bin/env bash
# Builds fastrt (g++-12, Release) and starts the main job: fastrt-h2, the
# HTTP/2 server, serving the bundled demo Python app on 127.0.0.1:8080
# (h2c with prior knowledge: curl --http2-prior-knowledge http://127.0.0.1:8080/).
# Ctrl-C sends GOAWAY and stops it cleanly.
# Extra arguments go to the server: scripts/run.sh --port 9000 --app mymod:app --app-dir .
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target fastrt-h2 >/dev/null
exec build/release/examples/http2_server/fastrt-h2 "$@"
