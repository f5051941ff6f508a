#!/usr/bin/env bash
# fastrt-h2 serving HTTP/1.1 on its port (issue 14 item 1): curl without
# flags and with --http1.0, keep-alive, chunked and 100-continue uploads,
# streamed answers, h2load --h1, h2c upgrade and prior knowledge beside it,
# then http1_clients.py (http.client, pipelining, smuggling and malformed
# requests over raw sockets, timeouts). Usage: http1_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"

start_app test_app:app --pinned 1 --cpp-demo-routes --max-body-size 1000 --header-timeout 1 --body-timeout 1 \
  --idle-timeout 2 --access-log "$work/access.log" || exit 1

c() { curl -s --max-time 10 "$@"; }

out=$(c -o "$work/cpp.body" -w '%{http_version} %{http_code}' "$url/cpp/hello")
check "curl without flags: HTTP/1.1 200 from the C++ route ($out)" test "$out" = "1.1 200"
check "curl without flags: the C++ body" test "$(cat "$work/cpp.body")" = "Hello from fastrt-h2 (C++)"
check "curl without flags: the Python app answers" test "$(c "$url/")" = "ok"
out=$(c --http1.0 -D "$work/h10.head" -o "$work/h10.body" -w '%{http_code}' "$url/cpp/hello")
check "curl --http1.0: 200 ($out), then close" \
  bash -c "test '$out' = 200 && grep -qi '^connection: close' '$work/h10.head'"
c -v "$url/cpp/hello" "$url/" -o /dev/null -o /dev/null 2>"$work/keepalive.err"
check "curl: two requests reuse one connection (keep-alive)" grep -qi "re-using existing connection" "$work/keepalive.err"
head -c 700 /dev/urandom >"$work/upload"
c -H 'Transfer-Encoding: chunked' --data-binary @"$work/upload" "$url/echo" -o "$work/echo.chunked"
check "curl: a chunked upload is echoed whole" cmp -s "$work/upload" "$work/echo.chunked"
c -v -H 'Expect: 100-continue' --data-binary @"$work/upload" "$url/echo" -o "$work/echo.continue" 2>"$work/continue.err"
check "curl: Expect: 100-continue gets 100 Continue, then the echo" \
  bash -c "grep -q 'HTTP/1.1 100 Continue' '$work/continue.err' && cmp -s '$work/upload' '$work/echo.continue'"
head -c 1500 /dev/zero >"$work/big"
check "curl: a body over --max-body-size gets 413" test "$(c -o /dev/null -w '%{http_code}' --data-binary @"$work/big" "$url/echo")" = 413
out=$(c -D "$work/stream.head" -o "$work/stream.body" -w '%{size_download}' "$url/stream?bytes=300000")
check "curl: a streamed Python body, chunked ($out bytes)" \
  bash -c "test '$out' = 300000 && grep -qi '^transfer-encoding: chunked' '$work/stream.head'"
out=$(c -o /dev/null -w '%{size_download}' "$url/cpp/stream?bytes=100000")
check "curl: a streamed C++ body ($out bytes)" test "$out" = 100000
out=$(c --http1.0 -o /dev/null -w '%{size_download}' "$url/stream?bytes=300000")
check "curl --http1.0: a streamed body, close-delimited ($out bytes)" test "$out" = 300000
out=$(c -I -o /dev/null -w '%{http_code} %{size_download}' "$url/cpp/hello")
check "curl -I: HEAD gets 200 without a body ($out)" test "$out" = "200 0"
check "h2c upgrade still works" test "$(c --http2 -o /dev/null -w '%{http_version} %{http_code}' "$url/cpp/hello")" = "2 200"
check "h2c prior knowledge still works" test "$(curl_h2 -o /dev/null -w '%{http_version} %{http_code}' "$url/cpp/hello")" = "2 200"

timeout 60 h2load --h1 -n 2000 -c 4 "$url/cpp/hello" >"$work/h2load.out" 2>&1
check "h2load --h1 -n 2000 -c 4 (keep-alive): all succeeded" grep -q "2000 succeeded, 0 failed, 0 errored" "$work/h2load.out"
timeout 60 h2load --h1 -n 200 -c 2 -m 8 "$url/" >"$work/h2load-pipelined.out" 2>&1
check "h2load --h1 -m 8 (pipelined, Python app): all succeeded" \
  grep -q "200 succeeded, 0 failed, 0 errored" "$work/h2load-pipelined.out"

timeout 120 /usr/bin/python3 "$here/http1_clients.py" "$port" >"$work/clients.out" 2>&1
status=$?
sed 's/^/     /' "$work/clients.out"
check "HTTP/1.1 clients (tests/http2/http1_clients.py)" test "$status" -eq 0
check "access log: HTTP/1.1 and HTTP/1.0 requests" \
  bash -c "grep -q '\"GET /cpp/hello HTTP/1.1\" 200' '$work/access.log' && grep -q 'HTTP/1.0\" 200' '$work/access.log'"
check "the server is still running" kill -0 "$pid"

# The body budget: a request body or a whole answer over it gets 503.
start_app test_app:app --pinned 1 --max-buffered-per-connection 600 || exit 1
check "a request body over --max-buffered-per-connection: 503" \
  test "$(c -o /dev/null -w '%{http_code}' --data-binary @"$work/upload" "$url/echo")" = 503
check "an answer over --max-buffered-per-connection: 503" \
  test "$(c -o /dev/null -w '%{http_code}' "$url/big?bytes=1000")" = 503
check "within it: served" test "$(c -o /dev/null -w '%{http_code}' "$url/big?bytes=500")" = 200
check "the server is still running" kill -0 "$pid"

# Graceful shutdown: an idle keep-alive connection closes at once, a busy one
# gets its answer with connection: close, and the server exits.
timeout 20 /usr/bin/python3 - "$port" "$pid" >"$work/shutdown.out" 2>&1 <<'PY'
import os, signal, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
idle = socket.create_connection(("127.0.0.1", port), timeout=5)
idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
idle.recv(1000)
busy = socket.create_connection(("127.0.0.1", port), timeout=5)
busy.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /sl")
time.sleep(0.3)
busy.recv(1000)
os.kill(pid, signal.SIGTERM)
print("idle closed" if idle.recv(1000) == b"" else "idle open")
busy.sendall(b"eep?s=0.2 HTTP/1.1\r\nHost: t\r\n\r\n")
data = b""
while chunk := busy.recv(1000):
    data += chunk
print("busy answered, closing" if b"slept" in data and b"connection: close" in data else f"busy: {data!r}")
PY
check "shutdown: an idle HTTP/1.1 connection is closed at once" grep -q "idle closed" "$work/shutdown.out"
check "shutdown: a busy one is answered with connection: close" grep -q "busy answered, closing" "$work/shutdown.out"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check "shutdown: the server exits" bash -c "! kill -0 $pid 2>/dev/null"

if [ "$failures" -ne 0 ]; then
  echo "--- server stderr"; tail -50 "$work/server.err"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
