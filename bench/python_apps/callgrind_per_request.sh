#!/usr/bin/env bash
# Instructions per request of fastrt-h2 serving one Python app, load-independently (callgrind counts
# instructions, not time, so the other sessions on this machine do not move the numbers).
#
#   bench/python_apps/callgrind_per_request.sh [--fastrt-h2 PATH] [-n N (2000)] [--keep] CASE...
#
# CASE is one of
#   flask          flask_app:app, --interface wsgi, GET /hello
#   flask-json     flask_app:app, --interface wsgi, GET /json
#   starlette      starlette_app:app, --interface asgi, GET /hello
#   starlette-json starlette_app:app, --interface asgi, GET /json
#   wsgi           raw_apps:wsgi_hello (no framework), GET /hello
#   asgi           raw_apps:asgi_hello (no framework), GET /hello
#   native         raw_apps:native_hello, def app(request), GET /hello
# How: fastrt-h2 --pinned 1 --io-threads 1 under callgrind (bench/callgrind_lib.sh: fair scheduling,
# instrumentation off at start; without fair scheduling a thread that spins starves the others:
# answers took 30 s and more), a 300-request warm-up, `callgrind_control -i on`,
# `h2load -n N -c 10 -m 10`, `callgrind_control -d`; instructions per request = the dump's total
# (all threads) / N. Prints one line per case:
#   CASE  Ir/request  app-call Ir/request  (the inclusive cost under the call into the app's Python:
#   for WSGI wsgi::call_state::run's PyObject_Call, for ASGI and native the eval of the app's frames)
# With --keep the dumps stay in the printed directory (callgrind_annotate --inclusive=yes them).
# Known problem (2026-11-30, on the shared 2-vCPU machine): with the instrumentation on, the Python
# worker's answers stall for many seconds (504 after --handler-timeout; a whole warm-up of a WSGI app
# timed out), so the counts were not usable; cpu_per_request.sh measures CPU time instead. Whether
# the stall is valgrind's thread serialisation or a lost wake-up it exposes is not known yet.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fastrt_h2="$repo/build/release/examples/http2_server/fastrt-h2"
n=2000
keep=0
cases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fastrt-h2) fastrt_h2="$2"; shift ;;
    -n) n="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) cases+=("$1") ;;
  esac
  shift
done
[ ${#cases[@]} -gt 0 ] || cases=(native wsgi flask asgi starlette)
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "callgrind_per_request: -n takes a whole number above 0" >&2; exit 2; }
[ -x "$fastrt_h2" ] || { echo "callgrind_per_request: no fastrt-h2 at $fastrt_h2 (build it or pass --fastrt-h2)" >&2; exit 1; }
for tool in valgrind callgrind_control h2load; do
  command -v "$tool" > /dev/null || { echo "callgrind_per_request: needs $tool (apt-get install valgrind nghttp2-client)" >&2; exit 1; }
done
out="$(mktemp -d /tmp/fastrt-callgrind.XXXXXX)"
cg_pid=""
cleanup() {
  callgrind_stop
  [ "$keep" = 1 ] || rm -rf "$out"
}
trap cleanup EXIT

# shellcheck source-path=SCRIPTDIR source=../bench_setup.sh
. "$here/../bench_setup.sh"  # low_free_port
# shellcheck source-path=SCRIPTDIR source=../callgrind_lib.sh
. "$here/../callgrind_lib.sh"  # callgrind_start, callgrind_load, callgrind_stop, callgrind_per_request

for c in "${cases[@]}"; do
  route=/hello
  case "$c" in
    flask) app=flask_app:app; iface=wsgi ;;
    flask-json) app=flask_app:app; iface=wsgi; route=/json ;;
    starlette) app=starlette_app:app; iface=asgi ;;
    starlette-json) app=starlette_app:app; iface=asgi; route=/json ;;
    wsgi) app=raw_apps:wsgi_hello; iface=wsgi ;;
    asgi) app=raw_apps:asgi_hello; iface=asgi ;;
    native) app=raw_apps:native_hello; iface=native ;;
    *) echo "callgrind_per_request: unknown case $c" >&2; exit 2 ;;
  esac
  port="$(low_free_port)"
  callgrind_start callgrind_per_request "$out" "$c" "$port" "$route" \
    "$fastrt_h2" --port "$port" --pinned 1 --io-threads 1 --lifespan off \
    --app-dir "$here" --python-path /usr/lib/python3/dist-packages --interface "$iface" --app "$app" || exit 1
  callgrind_load callgrind_per_request "$out" "$c" "http://127.0.0.1:$port$route" "$n" 300
  callgrind_stop
  printf '%-15s %12s instructions/request  (n=%s)\n' "$c" "$(thousands "$(callgrind_per_request "$out" "$c" "$n")")" "$n"
done
[ "$keep" = 1 ] && echo "(dumps: $out)"
exit 0
