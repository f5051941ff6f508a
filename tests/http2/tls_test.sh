#!/usr/bin/env bash
# fastrt-h2 over TLS (issue 14 item 2): --tls-cert/--tls-key with a
# self-signed certificate made here; curl --http2 and --http1.1 over https,
# h2load over TLS (h2 and --h1), nghttp, openssl s_client session resumption
# (TLS 1.3 tickets, TLS 1.2 tickets and session ids), then tls_clients.py
# (http.client with the certificate verified, ALPN choices, old versions,
# plaintext and garbage clients, stalled handshakes — each followed by a
# healthy client), the demo app's scheme, bad certificate files, and a
# graceful shutdown that does not wait for stalled handshakes.
# Usage: tls_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"
source "$here/tls_common.sh"

make_certificate "$work" || exit 1

handshake_timeout=1
start_app demo_app:app --pinned 1 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --tls-handshake-timeout "$handshake_timeout" --access-log "$work/access.log" || exit 1
url=https://localhost:$port
check "the serving line says https" grep -q "on https://127.0.0.1:$port" "$work/server.out"

c() { curl -s --max-time 10 --cacert "$work/cert.pem" "$@"; }
out=$(c --http2 -o "$work/h2.body" -w '%{http_version} %{http_code}' "$url/")
check "curl --http2 over https (certificate verified): HTTP/2 200 ($out)" test "$out" = "2 200"
check "curl --http2: the Python app's body" grep -q "Hello from fastrt-h2 (Python)" "$work/h2.body"
out=$(c --http1.1 -o "$work/h1.body" -w '%{http_version} %{http_code}' "$url/cpp/hello")
check "curl --http1.1 over https: HTTP/1.1 200 from the C++ route ($out)" test "$out" = "1.1 200"
check "curl -k works too (no --cacert)" test "$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' "$url/")" = 200
out=$(c --http2 "$url/json")
check "the demo app sees scheme https over h2 ($out)" grep -q '"scheme": "https"' <<<"$out"
out=$(c --http1.1 "$url/json")
check "the demo app sees scheme https over HTTP/1.1" grep -q '"scheme": "https"' <<<"$out"
c --http2 "$url/stream?bytes=3000000" -o "$work/stream.body"
check "curl --http2: a 3 MB streamed answer arrives whole" test "$(stat -c %s "$work/stream.body")" = 3000000
head -c 900000 /dev/urandom >"$work/upload"
c --http2 --data-binary @"$work/upload" "$url/echo" -o "$work/echo.h2"
check "curl --http2: a 900 kB upload is echoed" cmp -s "$work/upload" "$work/echo.h2"
c --http1.1 --data-binary @"$work/upload" "$url/echo" -o "$work/echo.h1"
check "curl --http1.1: a 900 kB upload is echoed" cmp -s "$work/upload" "$work/echo.h1"
check "no h2c upgrade over TLS: curl --http2 over http:// to the TLS port fails" \
  bash -c "! curl -s --max-time 5 --http2 -o /dev/null http://127.0.0.1:$port/"

timeout 60 h2load -n 4000 -c 8 -m 10 "$url/cpp/hello" >"$work/h2load.out" 2>&1
check "h2load over TLS (h2, -c 8 -m 10): all 4000 succeeded" \
  bash -c "grep -q '4000 succeeded, 0 failed, 0 errored' '$work/h2load.out' && grep -q 'Application protocol: h2' '$work/h2load.out'"
timeout 60 h2load --h1 -n 1000 -c 4 "$url/" >"$work/h2load-h1.out" 2>&1
check "h2load --h1 over TLS (Python app): all 1000 succeeded" \
  bash -c "grep -q '1000 succeeded, 0 failed, 0 errored' '$work/h2load-h1.out' && grep -q 'Application protocol: http/1.1' '$work/h2load-h1.out'"
timeout 20 nghttp -v "$url/json" >"$work/nghttp.out" 2>&1
check "nghttp over TLS: ALPN h2, 200, scheme https" \
  bash -c "grep -q 'The negotiated protocol: h2' '$work/nghttp.out' && grep -q ':status: 200' '$work/nghttp.out' && grep -q '\"scheme\": \"https\"' '$work/nghttp.out'"

# Session resumption: a second handshake with the first one's session.
# (s_client reads the TLS 1.3 tickets, sent after the handshake, while it
# waits for the answer: -ign_eof keeps it until the server closes.)
s_client() {
  printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost -ign_eof "$@" 2>/dev/null
}
for mode in "-tls1_3" "-tls1_2" "-tls1_2 -no_ticket"; do
  # shellcheck disable=SC2086  # the mode is several flags
  s_client $mode -sess_out "$work/session.pem" >"$work/first.out"
  # shellcheck disable=SC2086
  s_client $mode -sess_in "$work/session.pem" >"$work/second.out"
  check "session resumption ($mode): new, then Reused" \
    bash -c "grep -q '^New,' '$work/first.out' && grep -q '^Reused,' '$work/second.out'"
done

s_client -tls1_1 -cipher 'ALL:@SECLEVEL=0' >"$work/tls11.out"
check "openssl s_client -tls1_1: refused" bash -c "! grep -q '^New, TLS' '$work/tls11.out'"
check "curl --http2 after it is answered" test "$(c --http2 -o /dev/null -w '%{http_code}' "$url/")" = 200

timeout 120 /usr/bin/python3 "$here/tls_clients.py" "$port" "$work/cert.pem" "$handshake_timeout" >"$work/clients.out" 2>&1
status=$?
sed 's/^/     /' "$work/clients.out"
check "TLS clients (tests/http2/tls_clients.py)" test "$status" -eq 0
check "failed handshakes are logged with OpenSSL's reason" \
  bash -c "grep -q 'TLS handshake: .*unsupported protocol' '$work/server.err' && grep -q 'TLS handshake timed out' '$work/server.err'"
check "access log: h2 and HTTP/1.1 requests over TLS" \
  bash -c "grep -q '\"GET / HTTP/2\" 200' '$work/access.log' && grep -q '\"GET /cpp/hello HTTP/1.1\" 200' '$work/access.log'"
check "the server is still running" kill -0 "$pid"

# A graceful shutdown ends handshakes still waiting (it does not wait for
# --tls-handshake-timeout) and lets an HTTPS answer in flight finish.
start_app demo_app:app --pinned 1 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --tls-handshake-timeout 60 || exit 1
url=https://localhost:$port
timeout 30 /usr/bin/python3 - "$port" "$pid" "$work/cert.pem" >"$work/shutdown.out" 2>&1 <<'PY'
import http.client, os, signal, socket, ssl, sys, threading, time
port, pid, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
answer = {}
def slow():
    conn = http.client.HTTPSConnection("localhost", port, context=ssl.create_default_context(cafile=cafile), timeout=10)
    conn.request("GET", "/slow")
    answer["body"] = conn.getresponse().read()
t = threading.Thread(target=slow)
t.start()
time.sleep(0.25)
start = time.monotonic()
os.kill(pid, signal.SIGTERM)
stalled.settimeout(10)
print("stalled closed" if stalled.recv(100) == b"" else "stalled open", round(time.monotonic() - start, 2))
t.join()
print("slow answered" if answer.get("body") == b"slow answer\n" else f"slow: {answer}")
PY
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check "shutdown: a stalled handshake is closed at once" grep -q "stalled closed" "$work/shutdown.out"
check "shutdown: an HTTPS answer in flight finishes" grep -q "slow answered" "$work/shutdown.out"
check "shutdown: the server exits (long before --tls-handshake-timeout 60)" bash -c "! kill -0 $pid 2>/dev/null"
pid=

# Bad TLS files are a start-up error (exit 2) that names OpenSSL's reason.
bad() { timeout 20 "$server_bin" --port "$(free_port)" --pinned 1 "$@" >"$work/bad.out" 2>&1; echo $?; }
check "--tls-cert without --tls-key: exit 2" test "$(bad --tls-cert "$work/cert.pem")" = 2
out=$(bad --tls-cert "$work/missing.pem" --tls-key "$work/key.pem")
check "a missing certificate file: exit 2, OpenSSL's reason ($(head -c 160 "$work/bad.out"))" \
  bash -c "test '$out' = 2 && grep -q 'missing.pem' '$work/bad.out' && grep -qi 'no such file' '$work/bad.out'"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=other \
  -keyout "$work/other.key" -out "$work/other.pem" 2>/dev/null
out=$(bad --tls-cert "$work/cert.pem" --tls-key "$work/other.key")
check "a key that does not match the certificate: exit 2 ($(head -c 200 "$work/bad.out"))" \
  bash -c "test '$out' = 2 && grep -qi 'other.key.*mismatch' '$work/bad.out'"
out=$(bad --tls-cert "$work/key.pem" --tls-key "$work/key.pem")
check "a key given as the certificate: exit 2 ($(head -c 160 "$work/bad.out"))" test "$out" = 2

if [ "$failures" -ne 0 ]; then
  echo "--- server stderr"; tail -50 "$work/server.err"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
