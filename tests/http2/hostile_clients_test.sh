#!/usr/bin/env bash
# fastrt-h2 against hostile clients (hostile_clients.py): memory stays
# bounded and connections end when clients stall their windows, stall their
# uploads, provoke resets or half-close; a stalled streamed body is reset.
# Each group starts its own server with the flags it needs and the test app
# (tests/http2/test_app.py). Usage: hostile_clients_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"

# start_server FLAGS...: test_app:app on a free port ($port, $url, $pid).
start_server() { start_app test_app:app "$@" || exit 1; }

hostile() {  # hostile CHECK: hostile_clients.py against the running server
  timeout 60 /usr/bin/python3 "$here/hostile_clients.py" "$1" "$port" --pid "$pid" >"$work/hostile.out" 2>&1
  local status=$?
  sed 's/^/     /' "$work/hostile.out"
  check "hostile clients: $1" test "$status" -eq 0
  check "no sanitizer report after $1" bash -c "! grep -qE 'runtime error|Sanitizer' '$work/server.err'"
}

budget=(--max-buffered 16777216 --max-buffered-per-connection 4194304)  # 16 MiB, 4 MiB
start_server --pinned 2 --send-timeout 2 "${budget[@]}"
hostile zero_window
hostile answer_budget
check "the shut windows are logged" grep -q "flow-control window shut" "$work/server.err"
start_server --pinned 2 --body-timeout 2 "${budget[@]}"
hostile slow_post
check "the stalled bodies are logged" grep -q "stalled for --body-timeout" "$work/server.err"
start_server --pinned 2 --send-timeout 2 --body-timeout 2 "${budget[@]}"
hostile both
start_server --pinned 1 --send-timeout 3 --body-timeout 1
hostile stalled_body_shut_window
start_server --pinned 1 --handler-timeout 1
hostile stalled_piece
check "the stalled piece is logged" grep -q "no piece within --handler-timeout" "$work/server.err"
start_server --pinned 1
hostile made_you_reset
check "the reset flood is logged" grep -q "too many streams reset" "$work/server.err"
start_server --pinned 1
hostile half_closed

if [ "$failures" -ne 0 ]; then
  echo "--- last server stderr"; tail -50 "$work/server.err"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
