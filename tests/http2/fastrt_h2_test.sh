#!/usr/bin/env bash
# Real-peer tests of fastrt-h2: curl, nghttp and h2load against the built
# server with the bundled demo app. Usage: fastrt_h2_test.sh path/to/fastrt-h2
# Every check fails the test; the server is killed on any exit.
set -uo pipefail
server_bin=$1
work=$(mktemp -d)
pid=
big_pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  if [ -n "$big_pid" ] && kill -0 "$big_pid" 2>/dev/null; then kill -KILL "$big_pid" 2>/dev/null; wait "$big_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

source "$(dirname "$0")/common.sh"

# --- flags --------------------------------------------------------------------
"$server_bin" --no-such-flag >"$work/badflag.out" 2>&1
check "unknown flag exits 2" test $? -eq 2
check "unknown flag: one-line error" test "$(wc -l <"$work/badflag.out")" -eq 1
"$server_bin" --port 99999 >/dev/null 2>&1
check "bad port exits 2" test $? -eq 2
"$server_bin" --help >"$work/help.out" 2>&1
check "--help exits 0 and documents --app" grep -q -- "--app MODULE:FUNCTION" "$work/help.out"

# --- start --------------------------------------------------------------------
port=$(free_port)
url=http://127.0.0.1:$port
"$server_bin" --port "$port" --pinned 2 --max-body-size 4096 >"$work/server.out" 2>"$work/server.err" &
pid=$!
if ! wait_serving "$pid" "$work/server.out"; then
  echo "FAIL server did not start"; cat "$work/server.out" "$work/server.err"; exit 1
fi


# GET: the demo app's body and status.
out=$(curl_h2 -o "$work/get.body" -w '%{http_version} %{http_code}' "$url/")
check "GET / is HTTP/2 200" test "$out" = "2 200"
check "GET / body from the demo app" test "$(cat "$work/get.body")" = "Hello from fastrt-h2 (Python)"

# POST: the body is echoed.
head -c 3000 /dev/urandom >"$work/post.in"
out=$(curl_h2 -o "$work/post.out" -w '%{http_code}' --data-binary @"$work/post.in" "$url/echo")
check "POST echo status 200" test "$out" = "200"
check "POST echo body" cmp -s "$work/post.in" "$work/post.out"

# Query string and headers reach the app; cookie crumbs are joined.
out=$(curl_h2 -H 'cookie: a=1' -H 'cookie: b=2' -H 'X-Demo: yes' "$url/headers?x=1")
check "headers reach the app" grep -q '^x-demo: yes$' <<<"$out"
check "cookie crumbs joined with '; '" grep -q '^cookie: a=1; b=2$' <<<"$out"

# Body over --max-body-size: 413.
head -c 5000 /dev/zero >"$work/big.in"
out=$(curl_h2 -o /dev/null -w '%{http_code}' --data-binary @"$work/big.in" "$url/echo")
check "body over --max-body-size gives 413" test "$out" = "413"

# A Python exception: 500, traceback on stderr (not to the client).
out=$(curl_h2 -o "$work/error.body" -w '%{http_code}' "$url/error")
check "Python exception gives 500" test "$out" = "500"
check "the traceback is not sent to the client" bash -c "! grep -q Traceback '$work/error.body'"
check "the traceback goes to stderr" grep -q "RuntimeError: the demo app failed on purpose" "$work/server.err"

# An invalid return value: 500 and a log line.
out=$(curl_h2 -o /dev/null -w '%{http_code}' "$url/invalid")
check "invalid return value gives 500" test "$out" = "500"
check "invalid return value is logged" grep -q "app returned a int" "$work/server.err"

# A C++ handler.
out=$(curl_h2 -w ' %{http_code}' "$url/cpp/hello")
check "C++ handler /cpp/hello" test "$out" = "Hello from fastrt-h2 (C++)
 200"

# nghttp sees the server's SETTINGS.
nghttp -t 20 -v "$url/" >"$work/nghttp.out" 2>&1
check "nghttp succeeds" test $? -eq 0
server_settings() { grep -A3 "recv SETTINGS frame <length=12, flags=0x00" "$work/nghttp.out" | grep -F "$1" >/dev/null; }
check "nghttp: server SETTINGS with max concurrent streams" server_settings "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100"
check "nghttp: server SETTINGS with max header list size" server_settings "SETTINGS_MAX_HEADER_LIST_SIZE(0x06):65536"

# HTTP/1.1 without Upgrade: served over HTTP/1.1 (tests/http2/http1_test.sh tests it in depth).
out=$(curl -s --max-time 5 --http1.1 -o "$work/h1.body" -w '%{http_version} %{http_code}' "$url/")
check "HTTP/1.1 request gets an HTTP/1.1 200 response" test "$out" = "1.1 200"
check "the HTTP/1.1 request is answered by the app" test "$(cat "$work/h1.body")" = "Hello from fastrt-h2 (Python)"

# h2c via HTTP/1.1 Upgrade: 101, then the answer on stream 1 over HTTP/2.
out=$(curl -s --max-time 10 --http2 -o "$work/upgrade.body" -w '%{http_version} %{http_code}' "$url/")
check "curl --http2 upgrades to h2c and gets 200" test "$out" = "2 200"
check "the upgraded request is answered by the app" test "$(cat "$work/upgrade.body")" = "Hello from fastrt-h2 (Python)"
out=$(nghttp -t 20 -u "$url/cpp/hello" 2>&1)
check "nghttp -u (upgrade) reaches the C++ handler" test "$out" = "Hello from fastrt-h2 (C++)"
out=$(curl -s --max-time 10 --http2 -o "$work/upgrade_post.body" -w '%{http_version} %{http_code}' -d 'upgrade body' "$url/echo")
check "an upgrade with a body is answered over HTTP/2 ($out)" test "$out" = "2 200"
check "the upgraded request's body reaches the app" test "$(cat "$work/upgrade_post.body")" = "upgrade body"

# Load: 2000 requests, 10 connections, 10 streams each; no errors.
timeout 60 h2load -n 2000 -c 10 -m 10 "$url/" >"$work/h2load.out" 2>&1
check "h2load completes" grep -q "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout" "$work/h2load.out"
check "h2load: all 2xx" grep -q "status codes: 2000 2xx" "$work/h2load.out"
timeout 60 h2load -n 500 -c 5 -m 10 "$url/cpp/hello" >"$work/h2load_cpp.out" 2>&1
check "h2load on the C++ handler" grep -q "500 succeeded, 0 failed, 0 errored" "$work/h2load_cpp.out"

# Misbehaving clients, with hand-built frames (Debian's python3-hpack). A
# second server with a 4 MiB --max-body-size takes the large-body case.
big_port=$(free_port)
"$server_bin" --port "$big_port" --pinned 1 --max-body-size 4194304 >"$work/big.out" 2>"$work/big.err" &
big_pid=$!
check "second server (--max-body-size 4194304) started" wait_serving "$big_pid" "$work/big.out"
# --pid: the flood cases bound the server's memory growth (not under a
# sanitizer, whose quarantine keeps freed memory resident).
pid_arg=(--pid "$pid")
[ -z "${FASTRT_SANITIZED:-}" ] || pid_arg=()
/usr/bin/python3 "$(dirname "$0")/raw_frames.py" "$port" "${pid_arg[@]}" --big-port "$big_port" >"$work/raw.out" 2>&1
raw_status=$?
kill -KILL "$big_pid" 2>/dev/null; wait "$big_pid" 2>/dev/null; big_pid=
sed 's/^/     raw: /' "$work/raw.out"
check "raw-frame tests (tests/http2/raw_frames.py)" test "$raw_status" -eq 0

# Still serving after all of that.
out=$(curl_h2 -o /dev/null -w '%{http_code}' "$url/")
check "still serving" test "$out" = "200"

# SIGINT with a request in flight: GOAWAY (NO_ERROR), the request still gets
# its answer, then a clean exit 0.
nghttp -t 20 -v "$url/slow" >"$work/slow.out" 2>&1 &
client=$!
for _ in $(seq 1 100); do grep -q "send HEADERS frame" "$work/slow.out" && break; sleep 0.02; done
sleep 0.2
kill -INT "$pid"
wait "$client"
check "in-flight request completes during shutdown" test $? -eq 0
check "in-flight request gets its answer" grep -q "^slow answer$" "$work/slow.out"
check "GOAWAY with NO_ERROR on SIGINT" grep -q "error_code=NO_ERROR" "$work/slow.out"
status=timeout
for _ in $(seq 1 600); do
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; status=$?; break; fi
  sleep 0.05
done
pid_done=$pid
[ "$status" = timeout ] || pid=
check "SIGINT: exit status 0 (got $status)" test "$status" = 0

if [ "$failures" -ne 0 ]; then
  echo "--- server stdout"; cat "$work/server.out"; echo "--- server stderr"; cat "$work/server.err"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed (server pid $pid_done)"
