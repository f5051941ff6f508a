#!/usr/bin/env bash
# Server memory per idle HTTP/2 connection over TLS (issue 14 item 5):
# bench/http2/h2_idle_conns.py --tls opens 1,500 connections (handshake,
# ALPN h2, one GET of the C++ route read in full), leaves them idle and
# reads fastrt-h2's RSS: (after - before) / N must stay under the bound.
# Before nghttp2's frame buffer was mapped on its own (session_memory.hpp)
# it was ~56 KB; now ~42 KB. (Skipped under a sanitizer: RSS says nothing.)
# Usage: tls_memory_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"
source "$here/tls_common.sh"

if [ -n "${FASTRT_SANITIZED:-}" ]; then echo "skipped: RSS bounds mean nothing under a sanitizer"; exit 0; fi
make_certificate "$work" || exit 1

connections=1500
bound=$((48 * 1024))  # bytes of RSS per idle TLS connection
ulimit -n $((connections + 200)) 2>/dev/null || { echo "FAIL cannot raise RLIMIT_NOFILE to $((connections + 200))"; exit 1; }
start_app demo_app:app --pinned 1 --io-threads 1 --idle-timeout 0 --cpp-demo-routes \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" || exit 1
body_len=$(curl -sk --max-time 10 --http2 "https://127.0.0.1:$port/cpp/hello" | wc -c)
check "the C++ route answers over TLS ($body_len bytes)" test "$body_len" -gt 0
timeout 120 /usr/bin/python3 "$here/../../bench/http2/h2_idle_conns.py" --tls --port "$port" --path /cpp/hello \
  --body-len "$body_len" --pid "$pid" --connections "$connections" --parallel 50 >"$work/idle.json"
check "every TLS connection got its answer and stayed open" \
  /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r["ok"] != r["connections"] or r["still_open"] != r["connections"])' "$work/idle.json"
per_conn=$(/usr/bin/python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["bytes_per_conn"]))' "$work/idle.json")
check "RSS per idle TLS connection: $per_conn bytes <= $bound" test "${per_conn:-999999}" -le "$bound"
check "the server still answers" test "$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/cpp/hello")" = 200

if [ "$failures" -ne 0 ]; then
  echo "--- idle client"; cat "$work/idle.json"
  echo "--- server stderr"; tail -20 "$work/server.err"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
