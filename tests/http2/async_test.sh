#!/usr/bin/env bash
# fastrt-h2 with an `async def app` (tests/http2/async_app.py), awaited in
# each Python worker's asyncio event loop:
#  - 200 concurrent streams that each await asyncio.sleep(0.1), on 2 pinned
#    workers, all answer 200 within 2 s (one after another: 10 s per worker);
#  - plain asyncio inside a handler (gather, tasks, a queue, open_connection);
#  - a client's RST_STREAM and --handler-timeout (504) cancel the app's
#    task: the app records the CancelledError;
#  - --max-tasks-per-worker: beyond it, 503;
#  - SIGTERM lets the requests in flight finish (200), exit 0.
# Usage: async_test.sh path/to/fastrt-h2. Bounded: ~20 s.
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT

source "$here/common.sh"

start_server() { start_app async_app:app "$@" || exit 1; }
elapsed_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# --- concurrency: 200 streams x 0.1 s on 2 pinned workers ----------------------
start_server --pinned 2 --max-concurrent-streams 256
check "an async def app answers" test "$(curl_h2 "$url/sleep?s=0.01")" = "slept"
begin=$(date +%s.%N)
timeout 20 h2load -n 200 -c 1 -m 200 "$url/sleep?s=0.1" >"$work/h2load.out" 2>&1
took=$(elapsed_since "$begin")
echo "     200 concurrent streams x asyncio.sleep(0.1) on 2 pinned workers: $took s"
check "200 concurrent sleeping streams: all 200" grep -q "status codes: 200 2xx" "$work/h2load.out"
check "200 concurrent sleeping streams: within 2 s" awk -v t="$took" 'BEGIN { exit !(t < 2) }'
begin=$(date +%s.%N)
timeout 20 h2load -n 1000 -c 4 -m 100 "$url/sleep?s=0.1" >"$work/h2load.out" 2>&1
took=$(elapsed_since "$begin")
echo "     1000 requests, 4 connections x 100 streams: $took s"
check "1000 sleeping requests over 4 connections: all 200" grep -q "status codes: 1000 2xx" "$work/h2load.out"
check "1000 sleeping requests over 4 connections: within 4 s" awk -v t="$took" 'BEGIN { exit !(t < 4) }'
check "plain asyncio inside the app (gather, tasks, queue, open_connection)" \
  test "$(curl_h2 "$url/asyncio")" = "3 14 ping"
check "the task runs on the worker's thread" grep -q "^py-pinned-[01]$" <(curl_h2 "$url/where")

# hold_and_reset TAG COUNT SECONDS: COUNT streams GET /forever?tag=TAG on one
# connection (python-h2), held SECONDS, then each reset (RST_STREAM CANCEL).
hold_and_reset() {
  timeout 20 /usr/bin/python3 - "$port" "$@" <<'PY'
import socket, sys, time
import h2.config, h2.connection
port, tag, count, hold = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
sock = socket.create_connection(("127.0.0.1", port))
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
ids = []
for _ in range(count):
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":path", f"/forever?tag={tag}"), (":scheme", "http"),
                            (":authority", "127.0.0.1")], end_stream=True)
    ids.append(sid)
sock.sendall(conn.data_to_send())
time.sleep(hold)
for sid in ids:
    conn.reset_stream(sid)
sock.sendall(conn.data_to_send())
time.sleep(0.1)
sock.close()
PY
}

# --- cancellation ---------------------------------------------------------------
start_server --pinned 1 --handler-timeout 0.5
hold_and_reset reset 1 0.2
sleep 0.2
check "a client's RST_STREAM cancels the task (CancelledError in the app)" \
  test "$(curl_h2 "$url/cancelled")" = "reset"
status=$(curl_h2 -o /dev/null -w '%{http_code}' "$url/forever?tag=late")
check "--handler-timeout: 504" test "$status" = 504
sleep 0.2
check "--handler-timeout cancels the task (CancelledError in the app)" \
  test "$(curl_h2 "$url/cancelled")" = "reset,late"

# --- the per-worker cap ---------------------------------------------------------
start_server --pinned 1 --max-tasks-per-worker 2
hold_and_reset held 2 1.0 &
held=$!
sleep 0.4
status=$(curl_h2 -o /dev/null -w '%{http_code}' "$url/sleep?s=0")
check "--max-tasks-per-worker 2: a third async request gets 503" test "$status" = 503
wait "$held"
sleep 0.2
check "--max-tasks-per-worker: room again once the held streams are reset" \
  test "$(curl_h2 "$url/sleep?s=0")" = "slept"
check "--max-tasks-per-worker: the reset streams' tasks were cancelled" \
  test "$(curl_h2 "$url/cancelled")" = "held,held"

# --- shutdown with tasks in flight ----------------------------------------------
start_server --pinned 2 --shutdown-timeout 5
for i in $(seq 1 10); do curl_h2 -o /dev/null -w '%{http_code}\n' "$url/sleep?s=0.5" >>"$work/codes" & done
sleep 0.2
kill -TERM "$pid"
wait_status=0
timeout 10 tail --pid="$pid" -f /dev/null || wait_status=1
wait "$pid"; code=$?
pid=
sleep 0.1
wait 2>/dev/null
check "SIGTERM with 10 tasks in flight: exit 0" test "$wait_status$code" = 00
check "SIGTERM with 10 tasks in flight: all answered 200" test "$(grep -c '^200$' "$work/codes")" -eq 10

# --- a streamed request body read with async for (--request-body streamed) -------
start_server --pinned 1 --request-body streamed --max-body-size 8388608
timeout 60 /usr/bin/python3 "$here/streamed_body_client.py" "$port" async || failures=$((failures + 1))

[ "$failures" -eq 0 ] && echo "all async checks passed" || echo "$failures async check(s) failed"
exit $((failures != 0))
