#!/usr/bin/env bash
# fastrt-h2's limits, timeouts, streaming and graceful shutdown, against real
# peers (curl, h2load) and hand-built frames (server_limits.py). Each group
# starts its own server with the flags it needs and the test app
# (tests/http2/test_app.py). Usage: server_limits_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"

# start_server FLAGS...: test_app:app on a free port ($port, $url, $pid), with
# the C++ demo routes (the streaming cases use /cpp/stream).
start_server() { start_app test_app:app --cpp-demo-routes "$@" || exit 1; }

raw() {  # raw CHECK: server_limits.py against the running server
  /usr/bin/python3 "$here/server_limits.py" "$1" "$port" >"$work/raw.out" 2>&1
  local status=$?
  sed 's/^/     /' "$work/raw.out"
  check "raw checks: $1" test "$status" -eq 0
}
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }
# check_memory NAME BEFORE AFTER LIMIT_KIB: RSS bounds mean nothing under a
# sanitizer (freed memory stays in its quarantine), so they are skipped there.
check_memory() {
  if [ -n "${FASTRT_SANITIZED:-}" ]; then echo "skip $1 (sanitizer build)"; return; fi
  check "$1 ($2 -> $3 KiB)" test $(($3 - $2)) -lt "$4"
}

# --- timeouts and the connection cap --------------------------------------------
start_server --pinned 1 --idle-timeout 1 --send-timeout 1
raw idle
raw stall
start_server --pinned 1 --header-timeout 1
raw header
start_server --pinned 1 --settings-timeout 1
raw settings
start_server --pinned 1 --max-connections 2
raw cap

# --- a reset stream's queued Python work is dropped -----------------------------
start_server --pinned 1
raw reset

# --- 504 and 503 ------------------------------------------------------------------
start_server --pinned 1 --handler-timeout 0.3 --queue-capacity 2 --access-log "$work/busy.log"
out=$(curl_h2 -o /dev/null -w '%{http_code} %{time_total}' "$url/sleep?s=1.5")
check "slower than --handler-timeout: 504 ($out)" test "${out%% *}" = 504
check "the 504 comes at the timeout, not when the app finishes (${out#* }s)" \
  awk -v t="${out#* }" 'BEGIN { exit !(t < 1.2) }'
sleep 1.4  # the worker finishes the late request (its result is dropped)
out=$(curl_h2 "$url/hit")
check "the worker carries on after a timeout (answer: $out)" test "$out" = 1
# One worker, room for 2 queued jobs: 8 concurrent slow requests overflow it.
timeout 60 h2load -n 8 -c 1 -m 8 "$url/sleep?s=0.2" >"$work/full.out" 2>&1
codes=$(grep -o "status codes: .*" "$work/full.out")
check "full worker queue: some requests get 503 ($codes)" grep -q "\" 503 " "$work/busy.log"
check "503 is logged as busy, not as an app failure" bash -c "! grep -q '(500)' '$work/server.err'"

# --- bounded memory for large responses -------------------------------------------
start_server --pinned 1 --access-log "$work/access.log"
before=$(hwm_kib)
out=$(curl_h2 -o /dev/null -w '%{size_download} %{http_code}' "$url/cpp/stream?bytes=200000000")
after=$(hwm_kib)
check "200 MB streamed response arrives whole ($out)" test "$out" = "200000000 200"
check_memory "200 MB response costs < 32 MiB of peak RSS" "$before" "$after" 32768
before=$(hwm_kib)
out=$(curl_h2 -o /dev/null -w '%{size_download} %{http_code}' "$url/stream?bytes=200000000")
after=$(hwm_kib)
check "200 MB from a Python generator arrives whole ($out)" test "$out" = "200000000 200"
check_memory "... and costs < 32 MiB of peak RSS" "$before" "$after" 32768
# A slow reader: the server waits for flow control instead of buffering.
curl_h2 --limit-rate 2M -o /dev/null "$url/cpp/stream?bytes=20000000" &
slow=$!
sleep 2
mid=$(hwm_kib)
kill "$slow" 2>/dev/null; wait "$slow" 2>/dev/null
check_memory "a slow reader of a 20 MB body does not grow RSS by it" "$before" "$mid" 16384
check "still serving after the slow reader vanished" test "$(curl_h2 "$url/")" = "ok"
check "access log: one line per answered request" grep -q '"GET /cpp/stream?bytes=200000000 HTTP/2" 200 200000000' "$work/access.log"

# --- graceful shutdown: no accepted request loses its response -------------------
start_server --pinned 2
timeout 60 h2load -n 24 -c 3 -m 8 "$url/sleep?s=0.1" >"$work/shutdown.out" 2>&1 &
load=$!
sleep 0.3
kill -INT "$pid"
wait "$load"
started=$(grep -o '[0-9]* started' "$work/shutdown.out" | grep -o '^[0-9]*')
succeeded=$(grep -o '[0-9]* succeeded' "$work/shutdown.out" | grep -o '^[0-9]*')
check "shutdown under load: every started request succeeded ($succeeded of $started)" \
  test -n "$started" -a "$started" -gt 0 -a "$started" = "$succeeded"
status=timeout
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; status=$?; break; fi
  sleep 0.05
done
[ "$status" = timeout ] || pid=
check "shutdown under load: exit 0 (got $status)" test "$status" = 0

if [ "$failures" -ne 0 ]; then
  echo "--- last server stderr"; cat "$work/server.err"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
