#!/usr/bin/env bash
# fastrt-h2 against real HTTP/2 servers, side by side in one run.
#
#   bench/http2/run_http2_bench.sh [--quick] [--fastrt-h2 PATH] [--baseline PATH] [--rounds N] [--duration S]
#                                  [--connections N[,N...]] [--idle-only]
#
# Throughput/latency: h2load (h2c prior knowledge, one thread, pinned to CPU 1)
# against each server (pinned to CPU 0), all answering a ~13-byte GET:
#   fastrt-h2 C++ handler (/cpp/hello), nghttpd and h2o (a static 13-byte
#   file), fastrt-h2 Python app with 1 and 2 pinned workers, Hypercorn (ASGI).
# Memory: server RSS per idle h2c connection with N (10,000) connections held,
#   for fastrt-h2 (C++ route), nghttpd and h2o; --connections 10000,100000 measures
#   each count in turn (a count the open-file hard limit cannot hold is reported as
#   skipped), --idle-only measures only that (no load phase).
# --baseline PATH: another fastrt-h2 binary (e.g. a build of an older commit) runs
#   every fastrt-h2 test too, right next to the same test of the binary under test
#   in each round (their order alternates between rounds); the report adds its rows
#   and a "new / baseline" section.
# Prints a markdown table with ratios to nghttpd and Hypercorn and the target
# verdicts. Exit status: 0 if every run answered 2xx for every request.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3  # Debian's python3: hypercorn is installed for it, not for a pyenv python3 on PATH

quick=0
fastrt_h2=""
baseline=""     # another fastrt-h2 binary measured alongside (--baseline)
rounds=3        # interleaved rounds; medians are reported (the machine may be noisy)
duration=10     # seconds each measured run should last (sets its request count, see below)
connections=10000  # or a comma-separated list
idle_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --fastrt-h2) fastrt_h2="$2"; shift ;;
    --baseline) baseline="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --idle-only) idle_only=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_http2_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then rounds=1; duration=2; connections=2000; fi
loads=("-c 50 -m 10" "-c 100 -m 100")

# --- 1. Dependencies -----------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=../bench_setup.sh
. "$here/../bench_setup.sh"
install_missing run_http2_bench nghttp2-client nghttp2-server h2o python3-hypercorn python3 curl util-linux \
  cmake ninja-build g++-12 libnghttp2-dev liburing-dev
[ -n "$fastrt_h2" ] || build_fastrt_h2 run_http2_bench "$repo"
for binary in "$fastrt_h2" ${baseline:+"$baseline"}; do
  [ -x "$binary" ] || { echo "run_http2_bench: $binary is not an executable" >&2; exit 1; }
done

# N held connections = N fds in the server and N in the client; servers inherit this limit.
# Raising the hard limit needs CAP_SYS_RESOURCE; a count it cannot hold is skipped (section 4).
IFS=, read -r -a connection_counts <<< "$connections"
max_count=$(printf '%s\n' "${connection_counts[@]}" | sort -n | tail -1)
ulimit -Hn $((max_count + 200)) 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
fits() { [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $(($1 + 200)) ]; }

# --- Scratch space and clean-up ------------------------------------------------------------------
out="$(mktemp -d /tmp/fastrt-h2-bench.XXXXXX)"  # kept: server logs and h2load outputs for failed runs
chmod 755 "$out"  # h2o started as root serves files as user nobody: the document root must be readable
pids=()  # every server this script starts (stop_servers stops them)
trap stop_servers EXIT
trap 'exit 130' INT TERM


# The static file nghttpd and h2o serve: the same 13 bytes as the Python apps return.
hello='Hello, world!'
mkdir -p "$out/htdocs"
printf '%s' "$hello" > "$out/htdocs/hello.txt"

write_h2o_conf() {  # $1 port
  # Cleartext listener (h2o speaks h2c prior knowledge there), one thread (same CPU budget
  # as the others, and one process to read RSS from), room and no idle timeout for the
  # 10k idle connections (defaults: max-connections 1024, http2-idle-timeout 10 s).
  cat > "$out/h2o-$1.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $1
num-threads: 1
max-connections: 1000000
http2-idle-timeout: 3600
hosts:
  default:
    paths:
      /:
        file.dir: $out/htdocs
EOF
}

# start_server NAME PORT CMD... — start CMD pinned to CPU 0, wait until the port answers.
started_pid=""
start_server() {
  local name="$1" port="$2"; shift 2
  taskset -c 0 "$@" > "$out/$name.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 150); do
    if ! kill -0 "$started_pid" 2>/dev/null; then
      echo "run_http2_bench: $name exited at start-up:" >&2; tail -20 "$out/$name.log" >&2; exit 1
    fi
    curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  echo "run_http2_bench: $name did not answer on port $port within 15 s" >&2; tail -20 "$out/$name.log" >&2; exit 1
}

# verify NAME URL EXACT_BODY|"" — one GET over h2c prior knowledge must answer 200 over HTTP/2
# with the expected body (empty EXACT_BODY: any short body starting with "Hello"). Loading a
# server that answers 404 or 500 would measure nothing, so this stops the run. Prints the body size.
verify() {
  local name="$1" url="$2" want="$3" meta body
  meta="$(curl -sS --http2-prior-knowledge -o "$out/$name.body" -w '%{http_code} %{http_version}' "$url")" || {
    echo "run_http2_bench: $name: GET $url failed" >&2; exit 1; }
  body="$(cat "$out/$name.body")"
  if [ "$meta" != "200 2" ]; then
    echo "run_http2_bench: $name: GET $url answered '$meta' (status, HTTP version), expected '200 2'" >&2; exit 1
  fi
  if { [ -n "$want" ] && [ "$body" != "$want" ]; } || { [ -z "$want" ] && [[ "$body" != Hello* || ${#body} -gt 64 ]]; }; then
    echo "run_http2_bench: $name: GET $url body is '$body', expected '${want:-Hello…}'" >&2; exit 1
  fi
  stat -c %s "$out/$name.body"
}

# --- 2. Throughput and latency -------------------------------------------------------------------
# Every server runs for the whole load phase (idle ones cost nothing: they sleep in epoll /
# io_uring waits); rounds visit each (load, server) in turn so that noise is shared.
declare -A url role body_bytes server_pid baseline_of
names=()
add_server() {  # NAME ROLE URL_PATH EXACT_BODY PORT CMD...
  local name="$1" r="$2" path="$3" want="$4" port="$5"; shift 5
  start_server "$name" "$port" "$@"
  server_pid[$name]=$started_pid
  url[$name]="http://127.0.0.1:$port$path"
  role[$name]=$r
  body_bytes[$name]="$(verify "$name" "${url[$name]}" "$want")" || exit 1
  names+=("$name")
}

# add_fastrt_h2 NAME ROLE URL_PATH EXACT_BODY ARGS... — the binary under test with ARGS (and a free
# --port) and, with --baseline, the baseline binary with the same ARGS as "NAME (baseline)".
add_fastrt_h2() {
  local name="$1" r="$2" path="$3" want="$4" p; shift 4
  p=$(free_port); add_server "$name" "$r" "$path" "$want" "$p" "$fastrt_h2" --port "$p" "$@"
  [ -n "$baseline" ] || return 0
  p=$(free_port); add_server "$name (baseline)" baseline "$path" "$want" "$p" "$baseline" --port "$p" "$@"
  baseline_of["$name (baseline)"]="$name"
}

# round_order ROUND — the servers in the order round ROUND visits them: as added, except that
# even rounds run each baseline before its counterpart (neither always gets the warmer slot).
round_order() {
  local order=("${names[@]}") i b
  if [ $(($1 % 2)) -eq 0 ]; then
    for i in "${!order[@]}"; do
      b="${order[$i]}"
      [ -n "${baseline_of[$b]:-}" ] || continue
      order[i]="${order[i - 1]}"; order[i - 1]="$b"
    done
  fi
  printf '%s\n' "${order[@]}"
}

if [ "$idle_only" = 0 ]; then  # (the whole load phase, not indented)
echo "run_http2_bench: starting servers (results and logs in $out)" >&2
add_fastrt_h2 "fastrt-h2 C++" cpp /cpp/hello "" \
  --io-threads 1 --pinned 1 --app-dir "$here" --app hello_app:app --cpp-demo-routes
p=$(free_port); add_server nghttpd peer /hello.txt "$hello" "$p" nghttpd --no-tls -d "$out/htdocs" "$p"
p=$(free_port); write_h2o_conf "$p"; add_server h2o peer /hello.txt "$hello" "$p" h2o -c "$out/h2o-$p.conf"
add_fastrt_h2 "fastrt-h2 Python, 1 pinned" python / "$hello" \
  --io-threads 1 --pinned 1 --app-dir "$here" --app hello_app:app
add_fastrt_h2 "fastrt-h2 Python, 2 pinned" python / "$hello" \
  --io-threads 1 --pinned 2 --app-dir "$here" --app hello_app:app
# One worker, default asyncio worker class (Debian has no uvloop for it by default); h2c
# prior knowledge works on a plain --bind.
p=$(free_port); add_server Hypercorn peer / "$hello" "$p" \
  env PYTHONPATH="$here" "$py" -m hypercorn --workers 1 --bind "127.0.0.1:$p" hello_asgi:app

{
  echo "{"
  for i in "${!names[@]}"; do
    n="${names[$i]}"; sep=,; [ "$i" -eq $((${#names[@]} - 1)) ] && sep=
    extra=; [ -n "${baseline_of[$n]:-}" ] && extra=", \"baseline_of\": \"${baseline_of[$n]}\""
    echo "  \"$n\": {\"role\": \"${role[$n]}\", \"body_bytes\": ${body_bytes[$n]}$extra}$sep"
  done
  echo "}"
} > "$out/servers.json"

declare -A dead
total_runs=$((rounds * ${#loads[@]} * ${#names[@]})); run=0
for round in $(seq "$rounds"); do
  mapfile -t order < <(round_order "$round")
  for load in "${loads[@]}"; do
    for name in "${order[@]}"; do
      run=$((run + 1))
      tag="$(echo "$name $load r$round" | tr -c 'A-Za-z0-9\n' '_')"
      if [ -n "${dead[$name]:-}" ]; then
        echo "{\"server\": \"$name\", \"load\": \"$load\", \"round\": $round, \"ok\": false, \"problems\": [\"server had exited\"]}" >> "$out/runs.jsonl"
        continue
      fi
      echo "run_http2_bench: [$run/$total_runs] round $round, $name, h2load $load" >&2
      # Request-count runs (-n), not timed ones (-D with --warm-up-time): in a timed run h2load counts
      # only requests that start and end inside the measured phase, while its status-code
      # counters include the rest. For a server whose latency is seconds (Hypercorn with 10,000
      # streams in flight) that reported ~40x too few req/s and per-request log lines with
      # status 0. So: a 1-second timed run warms up and estimates the rate, which sizes the
      # measured run to about $duration seconds (at least 2 x the streams in flight, since the
      # estimate is low for a slow server); every request of the measured run is counted.
      read -r _ c _ m <<< "$load"
      # shellcheck disable=SC2086  # $load is a list of h2load options
      rate="$(taskset -c 1 timeout 120 h2load -t 1 $load -D 1 "${url[$name]}" 2>&1 |
              sed -n 's/^finished in [^,]*, \([0-9]*\)\.[0-9]* req\/s.*/\1/p')" || true
      n=$(( ${rate:-0} * duration ))
      [ "$n" -lt $((c * m * 2)) ] && n=$((c * m * 2))
      n=$(( (n + c - 1) / c * c ))  # a multiple of -c: every client gets the same share
      rm -f "$out/$tag.log"  # h2load appends to an existing --log-file
      # shellcheck disable=SC2086
      taskset -c 1 timeout $((duration * 10 + 120)) \
        h2load -t 1 $load -n "$n" --log-file "$out/$tag.log" "${url[$name]}" \
        > "$out/$tag.out" 2>&1 || echo "h2load exit status $?" >> "$out/$tag.out"
      "$py" "$here/h2load_stats.py" "$name" "$load" "$round" "$out/$tag.out" "$out/$tag.log" >> "$out/runs.jsonl"
      if ! kill -0 "${server_pid[$name]}" 2>/dev/null; then
        dead[$name]=1
        echo "run_http2_bench: $name exited during h2load $load (log: $out/$name.log)" >&2
        echo "{\"server\": \"$name\", \"load\": \"$load\", \"round\": $round, \"ok\": false, \"problems\": [\"server exited during the run\"]}" >> "$out/runs.jsonl"
      fi
      if tail -1 "$out/runs.jsonl" | grep -q '"ok": true'; then
        rm -f "$out/$tag.log" "$out/$tag.out"  # keep the evidence of failed runs only
      else
        echo "run_http2_bench: $name, h2load $load FAILED, output kept in $out/$tag.out:" >&2
        grep -E "requests:|status codes:|exit status" "$out/$tag.out" >&2 || tail -5 "$out/$tag.out" >&2
        rm -f "$out/$tag.log"
      fi
    done
  done
done
stop_servers
fi  # idle_only

# --- 4. RSS per idle connection ------------------------------------------------------------------
# A fresh server each time (the load phase's heap would hide the growth), then
# h2_idle_conns.py: N connections, each preface + SETTINGS + one GET read in full, then idle.
rss_test() {  # NAME BASELINE_OF|"" PATH PORT CMD...
  local name="$1" of="$2" path="$3" port="$4"; shift 4
  echo "run_http2_bench: RSS with $connections idle connections: $name" >&2
  if ! fits "$connections"; then  # a row that says why, instead of a run that cannot work
    echo "{\"server\": \"$name\", \"connections\": $connections, \"skipped\": \"open-file hard limit $(ulimit -Hn) < $((connections + 200))\"}" >> "$out/rss.jsonl"
    return 0
  fi
  start_server "rss-$name" "$port" "$@"
  local pid=$started_pid bytes
  bytes="$(verify "rss-$name" "http://127.0.0.1:$port$path" "")" || exit 1
  sleep 1  # let start-up settle before the first reading
  # A failed client still prints its JSON (errors, connections held): the report shows it.
  # --settle 8: fastrt-h2 gives an idle connection's output buffer back when its watchdog
  # next looks (within 5 s with the default timeouts: connection_watchdog.hpp).
  taskset -c 1 "$py" "$here/h2_idle_conns.py" --port "$port" --path "$path" --body-len "$bytes" \
    --pid "$pid" --connections "$connections" --settle 8 > "$out/rss-one.json" || true
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["server"]=sys.argv[2]; d.update({"baseline_of": sys.argv[3]} if sys.argv[3] else {}); print(json.dumps(d))' \
    "$out/rss-one.json" "$name" "$of" >> "$out/rss.jsonl" || echo "run_http2_bench: $name: the idle-connection client failed" >&2
  stop_servers
}
# rss_fastrt_h2 NAME PATH ARGS... — rss_test for the binary under test and then, with --baseline,
# for the baseline binary, with the same ARGS (and a free --port).
rss_fastrt_h2() {
  local name="$1" path="$2" p; shift 2
  p=$(free_port); rss_test "$name" "" "$path" "$p" "$fastrt_h2" --port "$p" "$@"
  [ -n "$baseline" ] || return 0
  p=$(free_port); rss_test "$name (baseline)" "$name" "$path" "$p" "$baseline" --port "$p" "$@"
}
# (--idle-timeout 0: opening 100,000 connections takes longer than the default 60 s)
for connections in "${connection_counts[@]}"; do
  rss_fastrt_h2 "fastrt-h2 (C++ route)" /cpp/hello \
    --io-threads 1 --pinned 1 --app-dir "$here" --app hello_app:app --cpp-demo-routes --idle-timeout 0
  p=$(free_port); rss_test nghttpd "" /hello.txt "$p" nghttpd --no-tls -d "$out/htdocs" "$p"
  p=$(free_port); write_h2o_conf "$p"; rss_test h2o "" /hello.txt "$p" h2o -c "$out/h2o-$p.conf"
done

# --- 3. Report -----------------------------------------------------------------------------------
echo
if [ "$idle_only" = 0 ]; then
  echo "h2load -t 1 -n (sized for ~${duration}s after a warm-up run), $rounds round(s); servers on CPU 0, h2load on CPU 1; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
else
  echo "idle connections only (--idle-only): servers on CPU 0, the client on CPU 1; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi
[ -z "$baseline" ] || { echo; echo "fastrt-h2: $fastrt_h2"; echo "baseline: $baseline"; }
echo
status=0
"$py" "$here/report.py" "$out" || status=$?
echo
echo "(logs: $out)"
exit "$status"
