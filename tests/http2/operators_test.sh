#!/usr/bin/env bash
# fastrt-h2 as an operator meets it (issue 11, part 4 and 2g): stopping a
# server whose app never returns, a port another server holds, logs through
# a pipe, Python's environment variables, the current directory on sys.path,
# --version, SIGHUP, the C++ demo routes, and accept at the fd limit. Each
# group starts its own server with the test app (tests/http2/operators_app.py).
# Usage: operators_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
other_pid=
stop_server() {
  for p in $pid $other_pid; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
  pid=
  other_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"

# start_server DIR FLAGS...: the server, run in DIR, on a free port ($port,
# $url, $pid); its stdout and stderr in $work/server.out and .err.
start_server() {
  local dir=$1; shift
  stop_server
  port=$(free_port)
  url=http://127.0.0.1:$port
  rm -f "$work/server.out" "$work/server.err"
  (cd "$dir" && exec "$server_bin" --port "$port" --pinned 1 "$@") >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  wait_serving "$pid" "$work/server.out" && return 0
  # Counted, and the checks that need it fail too: the rest still runs.
  echo "FAIL server did not start with: $*"; cat "$work/server.out" "$work/server.err"; failures=$((failures + 1))
}
app=(--app operators_app:app --app-dir "$here")

# wait_exit PID SECONDS: the exit status ($exit_status) and the time it took
# ($exit_seconds), or exit_status=timeout after SECONDS (then killed).
wait_exit() {
  local p=$1 limit=$2 start=$EPOCHREALTIME
  exit_status=timeout
  while :; do
    if ! kill -0 "$p" 2>/dev/null; then wait "$p"; exit_status=$?; break; fi
    if awk -v now="$EPOCHREALTIME" -v t0="$start" -v l="$limit" 'BEGIN { exit !(now - t0 > l) }'; then
      kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; break
    fi
    sleep 0.02
  done
  exit_seconds=$(awk -v now="$EPOCHREALTIME" -v t0="$start" 'BEGIN { printf "%.3f", now - t0 }')
}
within() { awk -v s="$1" -v l="$2" 'BEGIN { exit !(s <= l) }'; }  # within SECONDS LIMIT

# Starts a request that the app never answers, and waits until it runs.
start_stuck_request() {
  curl -s --max-time 30 --http2-prior-knowledge "$url/sleep" >/dev/null 2>&1 &
  sleep 0.5
}

# --- 4b: shutdown with a handler that never returns ---------------------------
start_server "$work" "${app[@]}" --shutdown-timeout 2
start_stuck_request
kill -INT "$pid"
wait_exit "$pid" 8; pid=
check "stuck handler: exits within --shutdown-timeout + 1 s (${exit_seconds} s)" within "$exit_seconds" 3.1
check "stuck handler: non-zero exit status ($exit_status)" test "$exit_status" != timeout -a "$exit_status" != 0
check "stuck handler: a line names what still runs" \
  grep -q "shutdown timed out after 2 s.*still running: GET /sleep (pinned worker 0, [0-9.]* s)" "$work/server.err"

start_server "$work" "${app[@]}" --shutdown-timeout 60
start_stuck_request
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
wait_exit "$pid" 5; pid=
check "second SIGINT: exits at once (${exit_seconds} s)" within "$exit_seconds" 0.5
check "second SIGINT: status 130 ($exit_status)" test "$exit_status" = 130
check "second SIGINT: says so" grep -q "second stop signal (SIGINT): exiting at once" "$work/server.err"

start_server "$work" "${app[@]}" --shutdown-timeout 1
out=$(curl_h2 "$url/thread")
check "the app started a thread that never ends" test "$out" = started
kill -TERM "$pid"
wait_exit "$pid" 8; pid=
check "app thread that never ends: exits within --shutdown-timeout + 1 s (${exit_seconds} s)" within "$exit_seconds" 2.1
check "app thread that never ends: non-zero exit status ($exit_status)" test "$exit_status" != timeout -a "$exit_status" != 0
check "app thread that never ends: a line says so" grep -q "shutdown timed out.*still running: no app call" "$work/server.err"

# A shutdown with nothing stuck is still clean, and fast.
start_server "$work" "${app[@]}" --shutdown-timeout 2
check "plain request" test "$(curl_h2 "$url/")" = "operators app"
kill -TERM "$pid"
wait_exit "$pid" 8; pid=
check "nothing stuck: exit 0 ($exit_status, ${exit_seconds} s)" test "$exit_status" = 0
check "nothing stuck: no timeout line" bash -c "! grep -q 'timed out' '$work/server.err'"

# --- 4g: SIGHUP is a graceful shutdown -----------------------------------------
start_server "$work" "${app[@]}"
curl_h2 "$url/syspath" >"$work/syspath.out"
check "the app's sys.path starts with --app-dir" test "$(head -1 "$work/syspath.out")" = "$here"
check "the demo app's directory is not on another app's sys.path" \
  bash -c "grep -q '^/' '$work/syspath.out' && ! grep -q 'http2_server/app' '$work/syspath.out'"
kill -HUP "$pid"
wait_exit "$pid" 8; pid=
check "SIGHUP: graceful shutdown, exit 0 ($exit_status)" test "$exit_status" = 0
check "SIGHUP: a line says so" grep -q "SIGHUP: shutting down" "$work/server.err"

# --- 4c: two servers on one port ------------------------------------------------
start_server "$work" "${app[@]}" --io-threads 2
"$server_bin" --port "$port" --pinned 1 >"$work/second.out" 2>"$work/second.err" &
other_pid=$!
wait_exit "$other_pid" 10; other_pid=
check "second server on a taken port: exit status 1 ($exit_status)" test "$exit_status" = 1
check "second server on a taken port: one line saying it is in use" \
  test "$(wc -l <"$work/second.err")" = 1 -a "$(grep -c "already in use" "$work/second.err")" = 1
check "second server on a taken port: never serving" bash -c "! grep -q serving '$work/second.out'"
# The first (2 io threads on one socket) answers every request.
ok=0
for _ in $(seq 1 20); do [ "$(curl_h2 "$url/")" = "operators app" ] && ok=$((ok + 1)); done
check "the first server (--io-threads 2) answers 20 of 20 ($ok)" test "$ok" = 20
stop_server
# --reuse-port: several processes behind one port, on purpose.
start_server "$work" "${app[@]}" --reuse-port --io-threads 2
"$server_bin" --port "$port" --pinned 1 --reuse-port >"$work/second.out" 2>"$work/second.err" &
other_pid=$!
check "--reuse-port: a second server shares the port" wait_serving "$other_pid" "$work/second.out"
stop_server

# --- 4f: logs through a pipe, Python's environment ------------------------------
start_server "$work" "${app[@]}" --access-log -
check "print() request" test "$(curl_h2 "$url/print?printed-at-once")" = printed
sleep 0.3
check "print() output is in the pipe while the server runs" grep -q "^printed-at-once$" "$work/server.out"
check "the access log line is in the pipe while the server runs" grep -q "GET /print" "$work/server.out"
stop_server

mkdir -p "$work/pythonpath" "$work/bytecode" "$work/empty"
printf 'def app(request):\n    return "from PYTHONPATH\\n"\n' >"$work/pythonpath/pp_app.py"
PYTHONPATH="$work/pythonpath" start_server "$work/empty" --app pp_app:app
check "PYTHONPATH: the app is found there" test "$(curl_h2 "$url/")" = "from PYTHONPATH"
stop_server
printf 'def app(request):\n    return "bytecode\\n"\n' >"$work/bytecode/bc_app.py"
PYTHONDONTWRITEBYTECODE=1 start_server "$work/empty" --app bc_app:app --app-dir "$work/bytecode"
check "PYTHONDONTWRITEBYTECODE: the app runs" test "$(curl_h2 "$url/")" = "bytecode"
check "PYTHONDONTWRITEBYTECODE: no __pycache__ written" test ! -e "$work/bytecode/__pycache__"
stop_server

# --- 4g: the current directory, --version, the C++ demo routes ------------------
mkdir -p "$work/myapp"
printf 'import sys\ndef app(request):\n    if request.path == "/syspath":\n        return "\\n".join(sys.path) + "\\n"\n    return "api in the current directory\\n"\n' >"$work/myapp/api.py"
start_server "$work/myapp" --app api:app
check "cd myapp && fastrt-h2 --app api:app" test "$(curl_h2 "$url/")" = "api in the current directory"
curl_h2 "$url/syspath" >"$work/syspath.out"
check "the current directory is first on sys.path" test "$(head -1 "$work/syspath.out")" = "$work/myapp"
check "/cpp/hello is the app's, not the C++ demo route" test "$(curl_h2 "$url/cpp/hello")" = "api in the current directory"
stop_server
start_server "$work" "${app[@]}" --cpp-demo-routes
check "--cpp-demo-routes: /cpp/hello from C++" test "$(curl_h2 "$url/cpp/hello")" = "Hello from fastrt-h2 (C++)"
stop_server
start_server "$work"  # the demo app: its C++ routes are on
check "the demo app keeps /cpp/hello" test "$(curl_h2 "$url/cpp/hello")" = "Hello from fastrt-h2 (C++)"
stop_server

"$server_bin" --version >"$work/version.out" 2>&1
check "--version exits 0" test $? -eq 0
check "--version names fastrt-h2, nghttp2 and Python" \
  grep -Eq '^fastrt-h2 [0-9]+\.[0-9]+\.[0-9]+ \(nghttp2 [0-9.]+, Python 3\.[0-9]+' "$work/version.out"

# --- 2g: accept at the fd limit ------------------------------------------------
# RLIMIT_NOFILE 64 (soft and hard, so the server cannot raise it); 150
# clients are more than it can take. Over 3 s of EMFILE, at most 4 lines.
port=$(free_port)
(ulimit -n 64 && exec "$server_bin" --port "$port" --pinned 1 --header-timeout 60 "${app[@]}") \
  >"$work/server.out" 2>"$work/server.err" &
pid=$!
url=http://127.0.0.1:$port
check "server under ulimit -n 64 started" wait_serving "$pid" "$work/server.out"
/usr/bin/python3 - "$port" "$work/server.err" >"$work/emfile.out" 2>&1 <<'EOF'
import socket, sys, time
port, err = int(sys.argv[1]), sys.argv[2]
def lines():
    with open(err) as f:
        return sum(1 for line in f if "accept" in line)
clients = []
for _ in range(150):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    clients.append(s)
time.sleep(0.5)              # the server is at its limit by now
before = lines()
time.sleep(3)
print("accept lines over 3 s:", lines() - before, "total:", lines())
for s in clients:
    s.close()
EOF
cat "$work/emfile.out"
count=$(sed -n 's/^accept lines over 3 s: \([0-9]*\).*/\1/p' "$work/emfile.out")
check "at the fd limit: at most 4 accept lines in 3 s (${count:-none})" test -n "$count" -a "${count:-99}" -le 4
check "at the fd limit: the line names RLIMIT_NOFILE 64" grep -q "RLIMIT_NOFILE 64" "$work/server.err"
out=$(curl -s --max-time 10 --http2-prior-knowledge "$url/")
check "after the clients close, a new client is served ($out)" test "$out" = "operators app"
stop_server

if [ "$failures" -ne 0 ]; then
  echo "--- last server stdout"; tail -20 "$work/server.out" 2>/dev/null
  echo "--- last server stderr"; tail -20 "$work/server.err" 2>/dev/null
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
