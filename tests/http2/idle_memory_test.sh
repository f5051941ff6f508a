#!/usr/bin/env bash
# A connection whose memory was given back while idle keeps working
# (issue 15 item 2): fastrt-h2's watchdog drops the pages of nghttp2's
# frame buffer when it finds a connection idle (session_memory.hpp,
# connection_watchdog.hpp). With 1 s header/SETTINGS/send/body timeouts the
# watchdog looks in every 0.5 s; the client pauses 1.5 s at times between
# requests with large, HPACK-indexed header fields and responses above the
# frame buffer's 16 KiB (tests/http2/idle_memory_client.py).
# Usage: idle_memory_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
source "$here/common.sh"

port=$(free_port)
"$server_bin" --port "$port" --pinned 1 --io-threads 1 --cpp-demo-routes --header-timeout 1 --settings-timeout 1 \
  --send-timeout 1 --body-timeout 1 --idle-timeout 0 >"$work/server.out" 2>"$work/server.err" &
pid=$!
check "fastrt-h2 started" wait_serving "$pid" "$work/server.out"
PYTHONPATH="$here" timeout 120 /usr/bin/python3 "$here/idle_memory_client.py" "$port" 1.5 >"$work/client.out" 2>&1
check "one connection, idle (memory given back) between requests, keeps answering: $(tail -1 "$work/client.out")" \
  test $? -eq 0
check "the server is still running" kill -0 "$pid"

if [ "$failures" -ne 0 ]; then
  echo "--- client"; cat "$work/client.out"
  echo "--- server stderr"; tail -20 "$work/server.err"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
