# Sourced by the fastrt-h2 test scripts: checks that count failures, free
# ports, and waiting for a server to come up.

failures=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

# free_port: prints a port that 127.0.0.1 can bind now, random in 20000-32000.
# Not bind(port 0): the kernel picks those from the ephemeral range (32768 and
# up), where the clients' own outgoing connections take theirs, and a test
# server could then find its port taken (or a client connect to itself).
free_port() {
  /usr/bin/python3 -c '
import random, socket, sys
for _ in range(500):
    port = random.randint(20000, 32000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    sys.exit(0)
sys.exit("free_port: no port of 20000-32000 can be bound on 127.0.0.1")'
}

# wait_serving PID OUT: true once the server has written its "serving" line
# to OUT (within 10 s); false when it exits or takes longer.
wait_serving() {
  local pid=$1 out=$2
  for _ in $(seq 1 200); do
    grep -q "serving" "$out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

curl_h2() { curl -s --max-time 20 --http2-prior-knowledge "$@"; }

# For scripts that start fastrt-h2 themselves; they set server_bin, here
# (tests/http2), work (a temporary folder) and pid (empty) first.
# stop_server: kills the server started last, if it still runs.
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  pid=
}

# start_app APP FLAGS...: fastrt-h2 serving APP (module:function in
# tests/http2) on a free port ($port, $url, $pid), its stdout and stderr in
# $work/server.out and .err; stops the previous one first. False, with the
# server's output shown, when it does not start.
start_app() {
  stop_server
  port=$(free_port)
  url=http://127.0.0.1:$port
  rm -f "$work/server.out" "$work/server.err"  # the previous server's "serving" line must not count
  "$server_bin" --port "$port" --app "$1" --app-dir "$here" "${@:2}" >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  wait_serving "$pid" "$work/server.out" && return 0
  echo "FAIL server did not start with: $*"; cat "$work/server.out" "$work/server.err"
  return 1
}
