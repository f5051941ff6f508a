#!/usr/bin/env bash
# ASGI on fastrt-h2: the Starlette and Quart apps in tests/http2/apps/ (Debian's
# python3-starlette / python3-quart, imported in own-GIL subinterpreters
# through --python-path) served by fastrt-h2 with 2 pinned workers and, for
# comparison, by Debian's uvicorn (/usr/bin/python3); asgi_compare.py sends
# both the same requests and compares the answers. Also: the serving line
# names the interface auto chose; the lifespan runs on every worker (startup
# before serving, shutdown at SIGTERM); a failed startup, --lifespan on for
# an app without lifespan, an ASGI 2 app and bad flags are start-up errors;
# a client reset reaches the app as http.disconnect.
# Usage: asgi_test.sh path/to/fastrt-h2. Bounded: ~40 s.
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
uvicorn_pid=
trap 'stop_server; [ -n "$uvicorn_pid" ] && kill -KILL "$uvicorn_pid" 2>/dev/null; rm -rf "$work"' EXIT

source "$here/common.sh"

dist=/usr/lib/python3/dist-packages
apps=$here/apps
python_apps=$here/../python

# compare APP: APP on fastrt-h2 (auto must choose ASGI) and on uvicorn, compared.
compare() {
  local app=$1
  # (The 3 MiB upload is above the default --max-body-size.)
  start_app "$app:app" --app-dir "$apps" --python-path "$dist" --pinned 2 --max-body-size 8388608 || return 1
  check "$app: serving line: auto chose asgi" grep -q "; interface asgi (auto)$" "$work/server.out"
  local uvicorn_port
  uvicorn_port=$(free_port)
  while [ "$uvicorn_port" = "$port" ]; do uvicorn_port=$(free_port); done
  /usr/bin/python3 -m uvicorn --app-dir "$apps" --host 127.0.0.1 --port "$uvicorn_port" --lifespan on "$app:app" \
    >"$work/uvicorn.out" 2>"$work/uvicorn.err" &
  uvicorn_pid=$!
  # The process listening must be the one started here.
  for _ in $(seq 1 200); do
    grep -q "Started server process \[$uvicorn_pid\]" "$work/uvicorn.err" &&
      grep -q "Uvicorn running on http://127.0.0.1:$uvicorn_port" "$work/uvicorn.err" && break
    kill -0 "$uvicorn_pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q "Uvicorn running on http://127.0.0.1:$uvicorn_port" "$work/uvicorn.err"; then
    echo "FAIL uvicorn did not start"; cat "$work/uvicorn.err"; failures=$((failures + 1)); return 1
  fi
  echo "-- $app on fastrt-h2 and on uvicorn"
  timeout 120 /usr/bin/python3 "$here/asgi_compare.py" "$port" "$uvicorn_port" || failures=$((failures + 1))
  check "$app: the app exception's traceback is logged" grep -q "RuntimeError: the app failed on purpose" "$work/server.err"
  kill -TERM "$pid"
  local rc=0
  timeout 20 tail --pid="$pid" -f /dev/null; wait "$pid"; rc=$?
  pid=
  check "$app: SIGTERM: exit 0 (got $rc)" test "$rc" = 0
  kill -TERM "$uvicorn_pid" 2>/dev/null
  wait "$uvicorn_pid" 2>/dev/null
  uvicorn_pid=
}
compare starlette_app
compare quart_app

# The hand-written app (tests/python/fastrt_asgi_app.py): its lifespan on
# both workers, state in the scope, shutdown at SIGTERM.
start_app fastrt_asgi_app:app --app-dir "$python_apps" --pinned 2 || exit 1
check "lifespan state in the scope" grep -q '"state": \[\["greeting", "hello from startup"\]\]' \
  <(curl_h2 "$url/scope")
# A client reset while the app waits in receive(): http.disconnect, then CancelledError.
timeout 20 /usr/bin/python3 - "$port" <<'PY'
import socket, sys, time
import h2.connection, h2.config, h2.errors
port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/wait-disconnect")],
                  end_stream=True)
sock.sendall(conn.data_to_send())
time.sleep(0.5)  # the app waits in its second receive() by then
conn.reset_stream(1, h2.errors.ErrorCodes.CANCEL)
sock.sendall(conn.data_to_send())
time.sleep(0.2)
sock.close()
PY
disconnects=
for _ in $(seq 1 50); do
  seen=$(curl_h2 "$url/seen")
  case $seen in *'"disconnects": 1, "cancelled": 1'*) disconnects=yes; break ;; esac
  sleep 0.1
done
check "a client reset: the app got http.disconnect, then was cancelled ($seen)" test "$disconnects" = yes
kill -TERM "$pid"
timeout 20 tail --pid="$pid" -f /dev/null; wait "$pid"; rc=$?
pid=
check "SIGTERM: exit 0 (got $rc)" test "$rc" = 0
check "SIGTERM: the lifespan shutdown ran on both workers" test "$(grep -c "fastrt_asgi_app: lifespan shutdown" "$work/server.out")" = 2

# start_fails NAME STATUS TEXT FLAGS...: fastrt-h2 with FLAGS exits with
# STATUS within 20 s, its stderr saying TEXT, and never serves.
start_fails() {
  local name=$1 status=$2 text=$3 rc
  shift 3
  timeout 20 "$server_bin" --port "$(free_port)" "$@" >"$work/fail.out" 2>"$work/fail.err"
  rc=$?
  if [ "$rc" = "$status" ] && grep -qF -- "$text" "$work/fail.err" && ! grep -q serving "$work/fail.out"; then
    echo "ok   $name"
  else
    echo "FAIL $name (exit $rc)"; cat "$work/fail.out" "$work/fail.err"; failures=$((failures + 1))
  fi
}
start_fails "lifespan.startup.failed: start-up error with the app's message" 1 \
  "the app's lifespan startup failed: the database is not there" \
  --app fastrt_asgi_app:failing_startup --app-dir "$python_apps" --pinned 2
start_fails "--lifespan on, an app without lifespan: start-up error" 1 \
  "--lifespan on, but the app does not support the lifespan protocol" \
  --app fastrt_asgi_app:no_lifespan --app-dir "$python_apps" --pinned 1 --lifespan on
start_fails "an ASGI 2 app: start-up error" 1 "only ASGI 3 (async def app(scope, receive, send)) is supported" \
  --app fastrt_asgi_app:AsgiTwo --app-dir "$python_apps" --pinned 1
start_fails "--interface wsgi for an ASGI app: start-up error" 1 "--interface wsgi does not fit the app" \
  --app fastrt_asgi_app:app --app-dir "$python_apps" --pinned 1 --interface wsgi
start_fails "--lifespan bogus: usage error" 2 "--lifespan: the lifespan mode is auto, on or off" --lifespan bogus

# auto: an app that raises on the lifespan scope is served without one (said at info).
start_app fastrt_asgi_app:no_lifespan --app-dir "$python_apps" --pinned 1 || exit 1
check "auto without lifespan: serves" test "$(curl_h2 "$url/")" = "no lifespan"
check "auto without lifespan: said so" grep -q "ASGI lifespan unsupported by the app, serving without it" \
  "$work/server.out" "$work/server.err"
# --lifespan off: the app is never called with a lifespan scope; --interface asgi is accepted.
start_app fastrt_asgi_app:failing_startup --app-dir "$python_apps" --pinned 1 --lifespan off --interface asgi || exit 1
check "--lifespan off --interface asgi: serves" test "$(curl_h2 "$url/")" = "never"
check "serving line: --interface asgi" grep -q "; interface asgi$" "$work/server.out"
stop_server

[ "$failures" = 0 ] && echo "asgi_test: all passed" || echo "asgi_test: $failures failure(s)"
[ "$failures" = 0 ]
