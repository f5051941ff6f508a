#!/usr/bin/env bash
# fastrt-h2's validation of what clients send and what apps answer (issue
# 11, items 2c and 3a-3d): validation.py's raw-socket checks against a server
# running tests/http2/validation_app.py. Usage: validation_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"

start_app validation_app:app --pinned 1 --header-timeout 1 --access-log "$work/access.log" || exit 1

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
