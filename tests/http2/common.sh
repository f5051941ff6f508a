# Sourced by the fastrt-h2 test scripts: checks that count failures, free
# ports, and waiting for a server to come up.

failures=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

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
