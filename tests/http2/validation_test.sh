#!/usr/bin/env bash
# fastrt-h2's validation of what clients send and what apps answer (issue
# 11, items 2c and 3a-3d): validation.py's raw-socket checks against a server
# running tests/http2/validation_app.py. Usage: validation_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"

port=$(free_port)
"$server_bin" --port "$port" --pinned 1 --header-timeout 1 --app validation_app:app --app-dir "$here" \
  --access-log "$work/access.log" >"$work/server.out" 2>"$work/server.err" &
pid=$!
if ! wait_serving "$pid" "$work/server.out"; then
  echo "FAIL server did not start"; cat "$work/server.out" "$work/server.err"; exit 1
fi

timeout 240 /usr/bin/python3 "$here/validation.py" "$port" "$work/access.log" "$work/server.err" >"$work/raw.out" 2>&1
status=$?
sed 's/^/     /' "$work/raw.out"
check "validation checks (tests/http2/validation.py)" test "$status" -eq 0
check "the server is still running" kill -0 "$pid"

if [ "$failures" -ne 0 ]; then
  echo "--- server stderr"; cat "$work/server.err"
  echo "--- access log"; cat "$work/access.log"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
