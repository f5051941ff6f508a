#!/usr/bin/env bash
# SIGTERM ends fastrt-h2 with exit 0, every time, when several interpreters
# have imported stdlib modules whose C part is shared between interpreters
# (tests/http2/workers_app.py imports datetime, email, sqlite3, zoneinfo).
# Before the fix 11 runs of 12 aborted (exit 134, "free(): invalid pointer"
# in Py_EndInterpreter); see include/fastrt/python/runtime.hpp.
# 24 runs over three worker layouts. Usage: shutdown_test.sh path/to/fastrt-h2.
# Bounded: ~15 s (each server is killed after 20 s at most).
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$work"' EXIT

source "$here/common.sh"

layouts=("--pinned 2" "--pinned 3" "--pinned 1 --pooled-workers 2 --pooled-interpreters 2")
runs=0 clean=0
for run in $(seq 1 24); do
  flags=${layouts[$((run % ${#layouts[@]}))]}
  port=$(free_port)
  rm -f "$work/server.out"
  # shellcheck disable=SC2086
  timeout --foreground -s KILL 20 "$server_bin" --port "$port" --app workers_app:app --app-dir "$here" $flags \
    >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  if ! wait_serving "$pid" "$work/server.out"; then
    echo "FAIL run $run ($flags): server did not start"; cat "$work/server.out" "$work/server.err"
    failures=$((failures + 1)); wait "$pid" 2>/dev/null; pid=; continue
  fi
  answer=$(curl_h2 "http://127.0.0.1:$port/" 2>/dev/null)
  kill -TERM "$pid"
  wait "$pid"
  status=$?
  pid=
  runs=$((runs + 1))
  if [ "$status" -eq 0 ] && [ "$answer" = "ok" ] && ! grep -qi "invalid pointer\|corruption\|Fatal Python" "$work/server.err"; then
    clean=$((clean + 1))
  else
    echo "     run $run ($flags): exit $status, answer '$answer'"; sed 's/^/     /' "$work/server.err" | tail -5
  fi
done
check "SIGTERM after a request: exit 0 in all $runs runs (clean: $clean)" test "$clean" -eq 24

[ "$failures" -eq 0 ] && echo "all shutdown checks passed" || echo "$failures shutdown check(s) failed"
exit $((failures != 0))
