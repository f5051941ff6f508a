#!/usr/bin/env bash
# The CPU time fastrt-h2's process spends per request on one app (utime + stime from /proc/PID/stat
# around a loaded h2load run): less sensitive to other load on the machine than req/s, though cache
# and frequency effects remain (repeat it; compare binaries alternately).
#
#   bench/python_apps/cpu_per_request.sh FASTRT_H2 MODULE:APP INTERFACE ROUTE N
#   e.g. cpu_per_request.sh build/release/examples/http2_server/fastrt-h2 raw_apps:wsgi_hello wsgi /hello 30000
#
# fastrt-h2 --pinned 1 --io-threads 1 on CPU 0, h2load -c 10 -m 10 on CPU 1 (3,000 warm-up requests first).
# Prints "MODULE:APP: X us CPU/request" and h2load's status codes; exits 1 if the server did not start.
set -euo pipefail
[ $# -eq 5 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
bin="$(realpath "$1")" app="$2" iface="$3" route="$4" n="$5"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../bench_setup.sh
. "$here/../bench_setup.sh"  # low_free_port
port="$(low_free_port)"
log="$(mktemp /tmp/fastrt-cpu-per-request.XXXXXX.log)"
(cd "$here" && exec taskset -c 0 "$bin" --port "$port" --pinned 1 --io-threads 1 --app-dir "$here" \
   --python-path /usr/lib/python3/dist-packages --interface "$iface" --app "$app" --lifespan off) > "$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  kill -0 "$pid" 2>/dev/null || { echo "cpu_per_request: fastrt-h2 exited:" >&2; tail -5 "$log" >&2; exit 1; }
  curl -s -m 2 -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port$route" && break
  sleep 0.1
done
grep -q "serving .* on http://127.0.0.1:$port " "$log" || { echo "cpu_per_request: not our server on $port" >&2; exit 1; }
taskset -c 1 h2load -n 3000 -c 10 -m 10 "http://127.0.0.1:$port$route" > /dev/null
t0="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
codes="$(taskset -c 1 h2load -n "$n" -c 10 -m 10 "http://127.0.0.1:$port$route" | grep "status codes")"
t1="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
/usr/bin/python3 -c 'import sys; t0, t1, tck, n = map(int, sys.argv[2:6]); print(f"{sys.argv[1]}: {(t1 - t0) / tck / n * 1e6:.1f} us CPU/request")' \
  "$app" "$t0" "$t1" "$(getconf CLK_TCK)" "$n"
echo "  h2load $codes"
rm -f "$log"
