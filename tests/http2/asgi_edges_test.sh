#!/usr/bin/env bash
# The edges of fastrt-h2's ASGI and WSGI serving (issue 13), each against
# one pinned worker:
#  - flow control: an ASGI app that does not call receive() lets no more
#    than the stream window through and no WINDOW_UPDATE; once it reads, the
#    rest flows (streamed_body_client.py window);
#  - full duplex: an ASGI echo app sends each received chunk back while the
#    client is still sending a 1 MiB upload (streamed_body_client.py duplex);
#  - HTTP/1.1 and 1.0: scope['http_version'] and SERVER_PROTOCOL are the
#    request's; a chunked HTTP/1.1 upload into the Starlette app hashes right;
#  - an ASGI app that answers at once runs with no glue Task beside its own
#    (the channel hands its events back from the job that started it);
#  - a client that closes its TCP connection mid-request (FIN after reading
#    everything, or RST) cancels the app: ASGI sees http.disconnect, then
#    CancelledError; a native async def app sees CancelledError; a client
#    that only half-closes still gets its answer;
#  - a shutdown stuck on an ASGI or async def handler that ignores its
#    cancellation names it (method, path, worker, seconds) when
#    --shutdown-timeout runs out.
# Usage: asgi_edges_test.sh path/to/fastrt-h2. Bounded: ~50 s.
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

# until_seen URL TEXT: true once GET URL (HTTP/2) answers something containing TEXT (within 5 s).
until_seen() {
  for _ in $(seq 1 50); do
    seen=$(curl_h2 "$1")
    case $seen in *"$2"*) return 0 ;; esac
    sleep 0.1
  done
  return 1
}

# close_mid_request PATH HOW: a python-h2 client GETs PATH, reads everything
# the server sent for 0.5 s (so that close() sends a FIN, not a RST), then
# closes the connection: HOW is fin (close), rst (SO_LINGER 0: a RST) or
# half (shutdown(SHUT_WR) only: the client waits for its answer and prints
# it, with the number of PINGs that came meanwhile).
close_mid_request() {
  timeout 20 /usr/bin/python3 - "$port" "$1" "$2" <<'PY'
import socket, struct, sys, time
import h2.config, h2.connection, h2.events
port, path, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sock = socket.create_connection(("127.0.0.1", port), timeout=5)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)], end_stream=True)
sock.sendall(conn.data_to_send())
body, ended, pings = b"", False, 0
start = time.monotonic()
deadline = start + (0.5 if how != "half" else 5)
while time.monotonic() < deadline and not ended:
    if how == "half" and time.monotonic() > start + 0.3:
        sock.shutdown(socket.SHUT_WR)
        how = "half-closed"
    sock.settimeout(max(0.01, min(0.1, deadline - time.monotonic())))
    try:
        data = sock.recv(65536)
    except socket.timeout:
        continue
    if not data:
        break
    for event in conn.receive_data(data):
        if isinstance(event, h2.events.DataReceived):
            body += event.data
        ended = ended or isinstance(event, h2.events.StreamEnded)
        pings += isinstance(event, h2.events.PingReceived)
    if how != "half-closed":
        sock.sendall(conn.data_to_send())  # SETTINGS ACK
if how == "rst":
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
if how == "half-closed":
    print(body.decode(errors="replace"), "after", pings, "PINGs" if pings else "PING")
sock.close()
PY
}

# --- ASGI: flow control, full duplex, HTTP/1.x, disconnects --------------------
start_app fastrt_asgi_app:app --app-dir "$python_apps" --pinned 1 || exit 1
echo "-- an ASGI app that reads nothing until GET /release"
timeout 60 /usr/bin/python3 "$here/streamed_body_client.py" "$port" window || failures=$((failures + 1))
echo "-- full duplex: an ASGI echo"
timeout 60 /usr/bin/python3 "$here/streamed_body_client.py" "$port" duplex || failures=$((failures + 1))

check "ASGI over HTTP/1.1 (curl without flags): scope['http_version'] is '1.1'" test "$(c "$url/version")" = "1.1"
check "ASGI over HTTP/1.0: scope['http_version'] is '1.0'" test "$(c --http1.0 "$url/version")" = "1.0"
check "ASGI over HTTP/2: scope['http_version'] is '2'" test "$(curl_h2 "$url/version")" = "2"
curl_h2 "$url/glue-tasks" >/dev/null  # the worker's first ASGI request makes its loop
check "an app that answers at once runs with no Task of the glue beside its own" \
  test "$(curl_h2 "$url/glue-tasks")" = "0"

close_mid_request /wait-disconnect fin
check "HTTP/2, the client closes (FIN): http.disconnect, then CancelledError" \
  until_seen "$url/seen" '"disconnects": 1, "cancelled": 1'
close_mid_request /wait-disconnect rst
check "HTTP/2, the client closes (RST): http.disconnect, then CancelledError" \
  until_seen "$url/seen" '"disconnects": 2, "cancelled": 2'
answer=$(close_mid_request "/slow?s=1" half)
check "HTTP/2, the client half-closes (SHUT_WR): it still gets its answer ($answer)" \
  grep -Eq "^slow after [1-9][0-9]* PING" <<<"$answer"
stop_server

# --- a stuck shutdown names the async requests still running --------------------
# stuck_shutdown WHAT APP: APP's GET /ignore-cancel catches its CancelledError
# and blocks its worker; SIGTERM with --shutdown-timeout 1 must give up (exit
# 1) naming it: method, path, worker, seconds.
stuck_shutdown() {
  start_app "$2" --app-dir "$3" --pinned 1 --shutdown-timeout 1 || return
  curl_h2 "$url/ignore-cancel" >/dev/null &
  for _ in $(seq 1 100); do grep -q "/ignore-cancel started" "$work/server.out" && break; sleep 0.05; done
  sleep 0.5
  kill -TERM "$pid"
  timeout 20 tail --pid="$pid" -f /dev/null; wait "$pid"; rc=$?
  pid=
  check "a shutdown stuck on $1 that ignores its cancellation: exit 1 (got $rc)" test "$rc" = 1
  check "  ... and it names the request: method, path, worker, seconds" \
    grep -Eq "still running: (.*, )?GET /ignore-cancel \(pinned worker 0, [0-9.]+ s\)" "$work/server.err"
  grep "shutdown timed out" "$work/server.err" | sed 's/^/     /'
}
stuck_shutdown "an ASGI app" fastrt_asgi_app:app "$python_apps"
stuck_shutdown "an async def app" async_app:app "$here"

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

# --- a native async def app: the client closes mid-request -------------------------
start_app async_app:app --pinned 1 || exit 1
close_mid_request "/forever?tag=fin" fin
check "native async, HTTP/2, the client closes (FIN): CancelledError" until_seen "$url/cancelled" "fin"
stop_server

[ "$failures" = 0 ] && echo "asgi_edges_test: all passed" || echo "asgi_edges_test: $failures failure(s)"
[ "$failures" = 0 ]
