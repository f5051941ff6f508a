#!/usr/bin/env bash
# The edges of fastrt-h2's ASGI and WSGI serving (issue 13), each against
# one pinned worker:
#  - flow control: an ASGI app that does not call receive() lets no more
#    than the stream window through and no WINDOW_UPDATE; once it reads, the
#    rest flows (streamed_body_client.py window);
#  - full duplex: an ASGI echo app sends each received chunk back while the
#    client is still sending a 1 MiB upload (streamed_body_client.py duplex);
#  - HTTP/1.1 and 1.0: scope['http_version'] and SERVER_PROTOCOL are the
#    request's; a chunked HTTP/1.1 upload into the Starlette app hashes right.
# Usage: asgi_edges_test.sh path/to/fastrt-h2. Bounded: ~30 s.
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT

source "$here/common.sh"

python_apps=$here/../python
dist=/usr/lib/python3/dist-packages
c() { curl -s --max-time 10 "$@"; }

# --- ASGI: flow control, full duplex, HTTP/1.x, disconnects --------------------
start_app fastrt_asgi_app:app --app-dir "$python_apps" --pinned 1 || exit 1
echo "-- an ASGI app that reads nothing until GET /release"
timeout 60 /usr/bin/python3 "$here/streamed_body_client.py" "$port" window || failures=$((failures + 1))
echo "-- full duplex: an ASGI echo"
timeout 60 /usr/bin/python3 "$here/streamed_body_client.py" "$port" duplex || failures=$((failures + 1))

check "ASGI over HTTP/1.1 (curl without flags): scope['http_version'] is '1.1'" test "$(c "$url/version")" = "1.1"
check "ASGI over HTTP/1.0: scope['http_version'] is '1.0'" test "$(c --http1.0 "$url/version")" = "1.0"
check "ASGI over HTTP/2: scope['http_version'] is '2'" test "$(curl_h2 "$url/version")" = "2"

stop_server

# --- WSGI: SERVER_PROTOCOL ---------------------------------------------------------
start_app fastrt_wsgi_app:app --app-dir "$python_apps" --pinned 1 || exit 1
check "WSGI over HTTP/1.1: SERVER_PROTOCOL is HTTP/1.1" test "$(c "$url/protocol")" = "HTTP/1.1"
check "WSGI over HTTP/1.0: SERVER_PROTOCOL is HTTP/1.0" test "$(c --http1.0 "$url/protocol")" = "HTTP/1.0"
check "WSGI over HTTP/2: SERVER_PROTOCOL is HTTP/2" test "$(curl_h2 "$url/protocol")" = "HTTP/2"

# --- Starlette: a chunked HTTP/1.1 upload ------------------------------------------
start_app starlette_app:app --app-dir "$here/apps" --python-path "$dist" --pinned 1 --max-body-size 8388608 || exit 1
head -c 3145728 /dev/urandom >"$work/upload"
sum=$(sha256sum "$work/upload" | cut -d' ' -f1)
out=$(c --max-time 30 -X POST -H 'Transfer-Encoding: chunked' -T "$work/upload" "$url/upload")
check "Starlette: a 3 MiB chunked HTTP/1.1 upload hashes right ($out)" \
  test "$out" = "{\"sha256\":\"$sum\",\"bytes\":3145728}"

stop_server

[ "$failures" = 0 ] && echo "asgi_edges_test: all passed" || echo "asgi_edges_test: $failures failure(s)"
[ "$failures" = 0 ]
