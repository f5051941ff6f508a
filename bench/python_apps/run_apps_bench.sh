#!/usr/bin/env bash
# The same Flask (WSGI) and Starlette (ASGI) apps on fastrt-h2 and on their usual servers, in one run.
#
#   bench/python_apps/run_apps_bench.sh [--quick] [--fastrt-h2 PATH] [--rounds N (3)] [--duration S (5)]
#
# Servers: fastrt-h2 --io-threads 1 with --pinned 1 and --pinned 2 (Flask: --interface wsgi,
#   Starlette: --interface asgi), gunicorn sync and gthread (--threads 4) for Flask, uvicorn
#   (--loop uvloop --http httptools) and Hypercorn for Starlette, each with 1 and 2 worker processes;
#   peers on Debian's /usr/bin/python3, fastrt-h2's embedded CPython with --python-path for Debian's
#   Flask/Starlette. 1-worker servers are pinned to CPU 0, 2-worker servers get CPUs 0 and 1;
#   h2load always runs on CPU 1 (h2c prior knowledge, --h1 for gunicorn and uvicorn).
# Routes: /hello and /json, 100 requests in flight; req/s (median over rounds), p50/p99, the PSS of
#   all the server's processes after each loaded run (pss.py).
# I/O-bound: `await asyncio.sleep(0.05)` with 1000 requests in flight on 2 workers: fastrt-h2 with a
#   native async def app(request) and with Starlette's /sleep, uvicorn with 2 workers.
# Prints markdown tables with ratios (× uvicorn, × best gunicorn) and the target verdicts. A server
# fastrt-h2 refuses at start-up (an older fastrt-h2 given with --fastrt-h2 that lacks ASGI) shows as n/a. Exit status: 0 if every
# run answered 2xx for every request.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
http2_bench="$repo/bench/http2"  # h2load_stats.py: one h2load run -> one JSON line
py=/usr/bin/python3               # Debian's python3: the peers and their frameworks are installed for it
dist=/usr/lib/python3/dist-packages

quick=0
fastrt_h2=""
rounds=3
duration=5      # seconds each measured run should last (sets its request count)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --fastrt-h2) fastrt_h2="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_apps_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then rounds=1; duration=2; fi
for value in "$rounds" "$duration"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "run_apps_bench: --rounds and --duration take a whole number above 0, not '$value'" >&2; exit 2; }
done
routes=(/hello /json)
h2_load="-c 10 -m 10"   # 100 requests in flight over h2c
h1_load="--h1 -c 100"   # 100 requests in flight over HTTP/1.1 (one per connection)
sleep_s=0.05; io_in_flight=1000; io_requests=5000
io_h2_load="-c 10 -m 100"; io_h1_load="--h1 -c 1000"

# --- Dependencies ---------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=../bench_setup.sh
. "$here/../bench_setup.sh"
install_missing run_apps_bench nghttp2-client curl util-linux python3 python3-flask python3-starlette gunicorn \
  python3-uvicorn python3-uvloop python3-httptools python3-hypercorn cmake ninja-build g++-12 libnghttp2-dev liburing-dev
[ -n "$fastrt_h2" ] || build_fastrt_h2 run_apps_bench "$repo"
[ -x "$fastrt_h2" ] || { echo "run_apps_bench: $fastrt_h2 is not an executable" >&2; exit 1; }
fastrt_h2="$(realpath "$fastrt_h2")"  # the servers start from $here
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # 1000 h1 connections in the I/O-bound run

# --- Scratch space and clean-up ------------------------------------------------------------------
out="$(mktemp -d /tmp/fastrt-apps-bench.XXXXXX)"  # kept: server logs, h2load output of failed runs
pids=()  # every server this script starts (stop_servers stops them; gunicorn, uvicorn and Hypercorn stop their workers on SIGTERM)
trap stop_servers EXIT
trap 'exit 130' INT TERM


# --- Servers -------------------------------------------------------------------------------------
declare -A base_url curl_flag load_of server_pid
names=()     # measured on /hello and /json
io_names=()  # measured on the I/O-bound route
servers_json="$out/servers.json.lines"
: > "$servers_json"

# describe NAME JSON — one servers.json entry (fields: see apps_report.py).
describe() { printf '%s\t%s\n' "$1" "$2" >> "$servers_json"; }

# launch NAME CPUS PROTOCOL PORT CMD... — start CMD on CPUS; wait until it answers on PORT (any
# status). Returns 1 (with the reason in refused_because) when it exits at start-up.
refused_because=""
launch() {
  local name="$1" cpus="$2" protocol="$3" port="$4" flag; shift 4
  flag=--http2-prior-knowledge; [ "$protocol" = h1 ] && flag=--http1.1
  taskset -c "$cpus" "$@" > "$out/$name.log" 2>&1 &
  server_pid[$name]=$!
  pids+=("${server_pid[$name]}")
  for _ in $(seq 300); do
    if ! kill -0 "${server_pid[$name]}" 2>/dev/null; then
      refused_because="$(sed -n 's/^fastrt-h2: \(.*\)/\1/p' "$out/$name.log" | head -1 | sed 's/ (try --help)$//')"
      return 1
    fi
    if curl -s -o /dev/null "$flag" "http://127.0.0.1:$port/"; then
      base_url[$name]="http://127.0.0.1:$port"; curl_flag[$name]="$flag"
      return 0
    fi
    sleep 0.1
  done
  echo "run_apps_bench: $name did not answer on port $port within 30 s" >&2; tail -20 "$out/$name.log" >&2; exit 1
}

# check NAME ROUTE — one GET must answer 200 with the app's body for ROUTE (the JSON compared as
# data: Flask sorts the keys, Starlette keeps them in order). Loading a server that answers 404 or
# 500 would measure nothing, so a wrong answer stops the run.
check() {
  local name="$1" route="$2" code
  code="$(curl -sS "${curl_flag[$name]}" -o "$out/body" -w '%{http_code}' "${base_url[$name]}$route")" || {
    echo "run_apps_bench: $name: GET $route failed" >&2; exit 1; }
  "$py" - "$route" "$code" "$out/body" <<'PY' || { echo "run_apps_bench: $name: GET $route: wrong answer" >&2; exit 1; }
import json, sys
route, code, body = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
want = {"/hello": b"Hello, world!", "/sleep": b"slept", "/": b"slept"}
ok = code == "200" and (json.loads(body) == {"message": "Hello, world!", "ok": True, "count": 3}
                        if route == "/json" else body == want[route])
if not ok:
    print(f"answer {code} {body[:200]!r}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

# add_server NAME APP KIND WORKERS PROTOCOL IO_ROUTE|"" CMD... — a server of APP for the load
# table (and, with IO_ROUTE, for the I/O-bound table); CMD gets --port/--bind from the caller
# through $port. With may_refuse=1 (the ASGI rows, for a fastrt-h2 built before ASGI), fastrt-h2
# refusing the app at start-up makes an n/a row; any other start-up failure stops the run.
add_server() {
  local name="$1" app="$2" kind="$3" workers="$4" protocol="$5" io_route="$6" cpus=0 extra=""; shift 6
  [ "$workers" -gt 1 ] && cpus=0,1
  load_of[$name]="$h2_load"; [ "$protocol" = h1 ] && load_of[$name]="$h1_load"
  if [ -n "$io_route" ]; then
    extra=", \"io\": \"$io_route\", \"io_load\": \"$io_h2_load\""
    [ "$protocol" = h1 ] && extra=", \"io\": \"$io_route\", \"io_load\": \"$io_h1_load\""
  fi
  echo "run_apps_bench: starting $name" >&2
  if ! launch "$name" "$cpus" "$protocol" "$port" "$@"; then
    if [ "${may_refuse:-0}" != 1 ] || [ -z "$refused_because" ]; then
      echo "run_apps_bench: $name exited at start-up:" >&2; tail -20 "$out/$name.log" >&2; exit 1
    fi
    echo "run_apps_bench: $name: fastrt-h2 refused: $refused_because" >&2
    extra+=", \"refused\": $("$py" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$refused_because")"
    describe "$name" "{\"app\": \"$app\", \"kind\": \"$kind\", \"workers\": $workers, \"cpus\": \"$cpus\"$extra}"
    return 0
  fi
  if [ "$app" != native ]; then
    for route in "${routes[@]}"; do check "$name" "$route"; done
    names+=("$name")
  fi
  if [ -n "$io_route" ]; then check "$name" "$io_route"; io_names+=("$name"); fi
  describe "$name" "{\"app\": \"$app\", \"kind\": \"$kind\", \"workers\": $workers, \"cpus\": \"$cpus\"$extra}"
}

cd "$here"  # the peers import the apps from the current directory
fastrt=("$fastrt_h2" --io-threads 1 --app-dir "$here" --python-path "$dist")
# Added (and so measured) in groups by worker count, each fastrt-h2 server next to its peers: a
# ratio then compares runs made within a minute of each other.
for w in 1 2; do
  s=; [ "$w" = 2 ] && s=s
  io=""; [ "$w" = 2 ] && io=/sleep
  port=$(free_port); may_refuse=1 add_server "fastrt-h2 Starlette, $w pinned" starlette fastrt-h2 "$w" h2 "$io" \
    "${fastrt[@]}" --port "$port" --pinned "$w" --interface asgi --app starlette_app:app --max-tasks-per-worker 1024
  port=$(free_port); add_server "uvicorn, $w worker$s" starlette uvicorn "$w" h1 "$io" \
    "$py" -m uvicorn --loop uvloop --http httptools --workers "$w" --host 127.0.0.1 --port "$port" \
    --log-level warning --no-access-log starlette_app:app
  port=$(free_port); add_server "Hypercorn, $w worker$s" starlette hypercorn "$w" h2 "" \
    "$py" -m hypercorn --workers "$w" --bind "127.0.0.1:$port" starlette_app:app
  port=$(free_port); add_server "fastrt-h2 Flask, $w pinned" flask fastrt-h2 "$w" h2 "" \
    "${fastrt[@]}" --port "$port" --pinned "$w" --interface wsgi --app flask_app:app
  port=$(free_port); add_server "gunicorn sync, $w worker$s" flask "gunicorn sync" "$w" h1 "" \
    "$py" -m gunicorn --workers "$w" --worker-class sync --bind "127.0.0.1:$port" flask_app:app
  port=$(free_port); add_server "gunicorn gthread, $w worker$s" flask "gunicorn gthread" "$w" h1 "" \
    "$py" -m gunicorn --workers "$w" --worker-class gthread --threads 4 --bind "127.0.0.1:$port" flask_app:app
done
port=$(free_port); add_server "fastrt-h2 native async, 2 pinned" native fastrt-h2 2 h2 / \
  "${fastrt[@]}" --port "$port" --pinned 2 --interface native --app native_sleep_app:app --max-tasks-per-worker 1024
"$py" -c '
import json, sys
lines = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1])]
json.dump({name: json.loads(info) for name, info in lines}, open(sys.argv[2], "w"), indent=1)' \
  "$servers_json" "$out/servers.json"
echo "{\"sleep_s\": $sleep_s, \"in_flight\": $io_in_flight, \"requests\": $io_requests}" > "$out/io.json"

# --- Measuring -----------------------------------------------------------------------------------
# measure NAME LOAD URL ROUND N JSONL — one h2load run of N requests on CPU 1, its numbers appended
# to JSONL by h2load_stats.py (the route as its "load"); then the server's PSS and liveness.
declare -A dead
failed=0
measure() {
  local name="$1" load="$2" url="$3" round="$4" n="$5" jsonl="$6" route tag
  route="/${url#http://*/}"
  tag="$(echo "$name $route r$round" | tr -c 'A-Za-z0-9\n' '_')"
  rm -f "$out/$tag.log"  # h2load appends to an existing --log-file
  # shellcheck disable=SC2086  # $load is a list of h2load options
  taskset -c 1 timeout $((duration * 10 + 120)) h2load -t 1 $load -n "$n" --log-file "$out/$tag.log" "$url" \
    > "$out/$tag.out" 2>&1 || echo "h2load exit status $?" >> "$out/$tag.out"
  "$py" "$http2_bench/h2load_stats.py" "$name" "$route" "$round" "$out/$tag.out" "$out/$tag.log" >> "$jsonl"
  if kill -0 "${server_pid[$name]}" 2>/dev/null; then
    "$py" "$here/pss.py" "${server_pid[$name]}" |
      "$py" -c 'import json,sys; d=json.load(sys.stdin); d.update(server=sys.argv[1], load=sys.argv[2], round=int(sys.argv[3])); print(json.dumps(d))' \
        "$name" "$route" "$round" >> "$out/pss.jsonl"
  else
    dead[$name]=1
    echo "run_apps_bench: $name exited during the run (log: $out/$name.log)" >&2
    echo "{\"server\": \"$name\", \"load\": \"$route\", \"round\": $round, \"ok\": false, \"problems\": [\"server exited during the run\"]}" >> "$jsonl"
  fi
  if tail -1 "$jsonl" | grep -q '"ok": true'; then
    rm -f "$out/$tag.log" "$out/$tag.out"
  else
    failed=1
    echo "run_apps_bench: $name, $route FAILED, output kept in $out/$tag.out:" >&2
    grep -E "requests:|status codes:|exit status" "$out/$tag.out" >&2 || tail -5 "$out/$tag.out" >&2
    rm -f "$out/$tag.log"
  fi
}

total=$((rounds * (${#routes[@]} * ${#names[@]} + ${#io_names[@]}))); run=0
for round in $(seq "$rounds"); do
  # Even rounds visit the servers in reverse order: no server always gets the slot after the same one.
  order=("${names[@]}")
  [ $((round % 2)) -eq 1 ] || mapfile -t order < <(printf '%s\n' "${names[@]}" | tac)
  for route in "${routes[@]}"; do
    for name in "${order[@]}"; do
      run=$((run + 1))
      [ -z "${dead[$name]:-}" ] || continue
      echo "run_apps_bench: [$run/$total] round $round, $name, GET $route, h2load ${load_of[$name]}" >&2
      # A 1,000-request run warms up and estimates the rate; the measured run is sized from it to
      # last about $duration s. Both count requests (-n): a timed run (-D) against gunicorn's sync
      # worker, which closes every connection after its answer, did not end in 60 s (h2load 1.52),
      # and timed runs miscount slow servers (see bench/http2/run_http2_bench.sh).
      # shellcheck disable=SC2086
      rate="$(taskset -c 1 timeout 60 h2load -t 1 ${load_of[$name]} -n 1000 "${base_url[$name]}$route" 2>&1 |
              sed -n 's/^finished in [^,]*, \([0-9]*\)\.[0-9]* req\/s.*/\1/p')" || true
      n=$(( ${rate:-0} * duration )); [ "$n" -lt 1000 ] && n=1000
      n=$(( (n + 99) / 100 * 100 ))  # a multiple of the 100 in flight: every connection gets the same share
      measure "$name" "${load_of[$name]}" "${base_url[$name]}$route" "$round" "$n" "$out/runs.jsonl"
    done
  done
  for name in "${io_names[@]}"; do
    run=$((run + 1))
    [ -z "${dead[$name]:-}" ] || continue
    io_load="$io_h2_load"; [ "${curl_flag[$name]}" = --http1.1 ] && io_load="$io_h1_load"
    route="$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["io"])' "$out/servers.json" "$name")"
    echo "run_apps_bench: [$run/$total] round $round, $name, I/O-bound GET $route, h2load $io_load" >&2
    # shellcheck disable=SC2086  # warm-up: the first wave meets cold connections and code paths
    taskset -c 1 timeout 60 h2load -t 1 $io_load -n "$io_in_flight" "${base_url[$name]}$route" > /dev/null 2>&1 || true
    measure "$name" "$io_load" "${base_url[$name]}$route" "$round" "$io_requests" "$out/io.jsonl"
  done
done
stop_servers

# --- Report --------------------------------------------------------------------------------------
echo
echo "h2load -t 1 on CPU 1 (-n sized for ~${duration} s from a 1,000-request warm-up run), $rounds round(s); 1-worker servers on CPU 0," \
     "2-worker servers on CPUs 0-1; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
status=0
"$py" "$here/apps_report.py" "$out" || status=$?
echo
echo "(logs: $out)"
[ "$failed" = 0 ] || status=1
exit "$status"
