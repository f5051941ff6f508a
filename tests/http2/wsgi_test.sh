#!/usr/bin/env bash
# WSGI on fastrt-h2: the Flask app in tests/http2/apps/flask_app.py (Debian's
# python3-flask, imported in own-GIL subinterpreters through --python-path)
# served by fastrt-h2 with 2 pinned workers and, for comparison, by Debian's
# gunicorn (sync worker, /usr/bin/python3); wsgi_compare.py sends both the
# same requests and compares the answers. Also: the serving line names the
# interface auto chose, and a wrong --interface or an unknown interface are
# start-up errors, not 500s per request (ASGI apps: asgi_test.sh); request
# bodies are read as they arrive, by wsgi.input and by a sync native app's
# fastrt.Request (streamed_body_client.py).
# Usage: wsgi_test.sh path/to/fastrt-h2. Bounded: ~30 s.
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
gunicorn_pid=
trap 'stop_server; [ -n "$gunicorn_pid" ] && kill -KILL "$gunicorn_pid" 2>/dev/null; rm -rf "$work"' EXIT

source "$here/common.sh"

failures=0
check() {  # check NAME COMMAND...: runs COMMAND, reports
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

dist=/usr/lib/python3/dist-packages
apps=$here/apps

# fastrt-h2: auto must choose WSGI for a Flask object.
# (The 3 MiB upload is above the default --max-body-size.)
start_app flask_app:app --app-dir "$apps" --python-path "$dist" --pinned 2 --max-body-size 8388608 || exit 1
check "serving line: auto chose wsgi" grep -q "; interface wsgi (auto)$" "$work/server.out"

# gunicorn on another port; the process listening must be the one started here.
gunicorn_port=$(free_port)
while [ "$gunicorn_port" = "$port" ]; do gunicorn_port=$(free_port); done
/usr/bin/gunicorn -k sync -w 1 -b "127.0.0.1:$gunicorn_port" --chdir "$apps" flask_app:app \
  >"$work/gunicorn.out" 2>"$work/gunicorn.err" &
gunicorn_pid=$!
for _ in $(seq 1 200); do
  grep -q "Listening at: http://127.0.0.1:$gunicorn_port ($gunicorn_pid)" "$work/gunicorn.err" && break
  kill -0 "$gunicorn_pid" 2>/dev/null || break
  sleep 0.05
done
if ! grep -q "Listening at: http://127.0.0.1:$gunicorn_port ($gunicorn_pid)" "$work/gunicorn.err"; then
  echo "FAIL gunicorn did not start"; cat "$work/gunicorn.err"; exit 1
fi

timeout 120 /usr/bin/python3 "$here/wsgi_compare.py" "$port" "$gunicorn_port" || failures=$((failures + 1))
check "Flask logged the app exception's traceback" grep -q "RuntimeError: the app failed on purpose" "$work/server.err"
stop_server
kill -TERM "$gunicorn_pid" 2>/dev/null
wait "$gunicorn_pid" 2>/dev/null
gunicorn_pid=

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
start_fails "--interface native for a WSGI app: start-up error" 1 "--interface native does not fit the app" \
  --app flask_app:app --app-dir "$apps" --python-path "$dist" --pinned 1 --interface native
start_fails "--interface wsgi for a native app: start-up error" 1 "--interface wsgi does not fit the app" \
  --app test_app:app --app-dir "$here" --pinned 1 --interface wsgi
start_fails "--interface bogus: usage error" 2 "--interface: the interface is auto, native, wsgi or asgi" --interface bogus
start_fails "--request-body bogus: usage error" 2 "--request-body: the choices are auto, whole or streamed" \
  --request-body bogus

# A plain WSGI app (tests/python/fastrt_wsgi_app.py) on one worker: an
# exception before the response starts is fastrt-h2's 500 with the traceback
# logged; after it, the stream is reset; close() runs also when the client
# goes away mid-body.
start_app fastrt_wsgi_app:app --app-dir "$here/../python" --pinned 1 --max-body-size 8388608 || exit 1
check "raised before the response: 500" test "$(curl_h2 -o /dev/null -w '%{http_code}' "$url/raise-before")" = 500
check "raised before the response: traceback logged" grep -q "KeyError: 'before the response'" "$work/server.err"
check "no close() yet" test "$(curl_h2 "$url/closed")" = 0
curl_h2 -o /dev/null "$url/gen-raises"
check "raised after the response started: the stream is reset (curl: HTTP/2 stream error)" test $? = 92
check "raised after the response started: logged" grep -q "ValueError: broken WSGI body" "$work/server.err"
# wsgi.input is read as the body arrives (python-h2 client).
timeout 60 /usr/bin/python3 "$here/streamed_body_client.py" "$port" wsgi || failures=$((failures + 1))
curl -s --http2-prior-knowledge --max-time 1 -o /dev/null "$url/forever"  # the client gives up mid-body
closed=
for _ in $(seq 1 50); do closed=$(curl_h2 "$url/closed"); [ "$closed" = 2 ] && break; sleep 0.1; done
check "close() ran after the error and after the client went away (2, got $closed)" test "$closed" = 2

# A native app is still chosen as native, and --interface native is accepted.
start_app test_app:app --pinned 1 || exit 1
check "serving line: auto chose native for def app(request)" grep -q "; interface native (auto)$" "$work/server.out"
check "the native app answers" test "$(curl_h2 -o /dev/null -w '%{http_code}' "$url/")" = 200
start_app test_app:app --pinned 1 --interface native || exit 1
check "serving line: --interface native" grep -q "; interface native$" "$work/server.out"

# With --request-body streamed a def app reads its body as it arrives too
# (request.read(), chunks(), the lazy request.body).
start_app test_app:app --pinned 1 --max-body-size 8388608 --request-body streamed || exit 1
timeout 60 /usr/bin/python3 "$here/streamed_body_client.py" "$port" native || failures=$((failures + 1))

[ "$failures" = 0 ] && echo "wsgi_test: all passed" || echo "wsgi_test: $failures failure(s)"
[ "$failures" = 0 ]
