#!/usr/bin/env bash
# Echo benchmark driver: fastrt-echo (when present) vs asio (io_uring), asio (epoll) and a plain
# hand-written epoll server, all driven by bench/echo/echo_load. Builds nothing.
#
# usage: run_echo_bench.sh [options] [BUILD_DIR [FASTRT_ECHO]]
#   --build-dir DIR     build tree holding bench/echo_load etc. (default: build/release)
#   --fastrt PATH       fastrt's echo server (default: BUILD_DIR/examples/echo_server/fastrt-echo,
#                       skipped when absent); it is started as `PATH --port P --threads 1`
#   --no-fastrt         do not run fastrt-echo even if it exists
#   --connections "L"   connection counts (default: "1 100 1000")
#   --seconds S         measured seconds per run (default 5)
#   --warmup W          warm-up seconds before each measured run (default 1)
#   --idle N            idle connections for the RSS test (default 10000)
#   --no-rss            skip the RSS test
#   --quick             smoke mode: 100 connections, 1 s, 0.2 s warm-up, no RSS test
#   --port-base P       ports are tried upwards from P+1, busy ones skipped (default: random in
#                       27100..29099, so that two concurrent runs rarely meet)
#
# Servers run pinned to CPU 0 (taskset -c 0), the load generator to CPU 1, only on 127.0.0.1.
# Prints progress on stderr and a markdown table on stdout. Exit status 1 if any run failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir=""
fastrt=""
no_fastrt=0
connections="1 100 1000"
seconds=5
warmup=1
idle=10000
rss=1
port=$((27100 + RANDOM % 2000))
positional=()

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --fastrt) fastrt="$2"; shift 2 ;;
    --no-fastrt) no_fastrt=1; shift ;;
    --connections) connections="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --idle) idle="$2"; shift 2 ;;
    --no-rss) rss=0; shift ;;
    --quick) connections="100"; seconds=1; warmup=0.2; rss=0; shift ;;
    --port-base) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_echo_bench.sh: unknown option $1" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -ge 1 ] && [ -z "$build_dir" ] && build_dir="${positional[0]}"
[ ${#positional[@]} -ge 2 ] && [ -z "$fastrt" ] && fastrt="${positional[1]}"
[ -z "$build_dir" ] && build_dir="build/release"
bench_bin="$build_dir/bench"

load="$bench_bin/echo_load"
if [ ! -x "$load" ]; then
  echo "run_echo_bench.sh: $load not found (cmake --build --preset release --target echo_load)" >&2
  exit 2
fi
command -v taskset >/dev/null || { echo "run_echo_bench.sh: taskset (util-linux) missing" >&2; exit 2; }
cpus=$(nproc)
if [ "$cpus" -ge 2 ]; then server_cpu=0; client_cpu=1; else server_cpu=0; client_cpu=0; fi

# Servers: name|command (PORT is substituted).
servers=()
if [ "$no_fastrt" -eq 0 ]; then
  if [ -z "$fastrt" ]; then
    for candidate in "$build_dir/examples/echo_server/fastrt-echo" "$build_dir/examples/fastrt-echo"; do
      [ -x "$candidate" ] && { fastrt="$candidate"; break; }
    done
  fi
  if [ -n "$fastrt" ] && [ -x "$fastrt" ]; then
    servers+=("fastrt|$fastrt --port PORT --threads 1")
  else
    echo "run_echo_bench.sh: fastrt-echo not found${fastrt:+ at $fastrt}: skipped" >&2
    fastrt=""
  fi
else
  fastrt=""
fi
for peer in asio_echo_uring asio_echo_epoll epoll_echo_server; do
  if [ -x "$bench_bin/$peer" ]; then
    servers+=("$peer|$bench_bin/$peer --port PORT")
  else
    echo "run_echo_bench.sh: $bench_bin/$peer not built: skipped" >&2
  fi
done
[ ${#servers[@]} -gt 0 ] || { echo "run_echo_bench.sh: no server to run" >&2; exit 2; }

# Descriptors: 10,000 idle connections need more than the usual 1024 in both processes.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$rss" -eq 1 ] && [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle + 64)) ]; then
  echo "run_echo_bench.sh: ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)), below the $((idle + 64)) the RSS test needs: RSS test skipped" >&2
  rss=0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/echo-bench.XXXXXX")"
server_pid=""
client_pid=""
cleanup() {
  [ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port() {
  port=$((port + 1))
  while port_busy "$port"; do port=$((port + 1)); done
}

# start_server NAME COMMAND: starts it pinned, waits (≤10 s) until the port accepts.
start_server() {
  local name="$1" cmd="${2//PORT/$port}"
  # shellcheck disable=SC2086 # the command is split on purpose
  taskset -c "$server_cpu" $cmd >"$work/$name.log" 2>&1 &
  server_pid=$!
  local i
  for i in $(seq 1 200); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "run_echo_bench.sh: $name exited at start-up (port $port):" >&2
      cat "$work/$name.log" >&2
      server_pid=""
      return 1
    fi
    port_busy "$port" && return 0
    sleep 0.05
  done
  echo "run_echo_bench.sh: $name did not accept on port $port within 10 s" >&2
  return 1
}

# launch NAME COMMAND: start_server on the next free port, retrying on two more ports (another
# process may take a port between the check and the bind).
launch() {
  local attempt
  for attempt in 1 2 3; do
    next_port
    start_server "$1" "$2" && return 0
    stop_server
  done
  return 1
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  local i
  for i in $(seq 1 40); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

declare -A rps p50 p99 ccpu scpu spr rss_per_conn
failed=0
ticks_per_s=$(getconf CLK_TCK)
echo "# echo benchmark $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), nproc $cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

for entry in "${servers[@]}"; do
  name="${entry%%|*}"
  cmd="${entry#*|}"
  for c in $connections; do
    if ! launch "$name" "$cmd"; then failed=1; continue; fi
    t0=$(cpu_ticks "$server_pid")
    s0=$(date +%s.%N)
    limit=$(awk -v a="$seconds" -v b="$warmup" 'BEGIN { printf "%d", a + b + 60 }')
    line=$(timeout "$limit" taskset -c "$client_cpu" "$load" --port "$port" --connections "$c" \
             --seconds "$seconds" --warmup "$warmup" --size 128 --pipeline 1) || {
      echo "run_echo_bench.sh: echo_load failed against $name at $c connections: $line" >&2
      failed=1
    }
    t1=$(cpu_ticks "$server_pid")
    s1=$(date +%s.%N)
    stop_server
    echo "$name c=$c: $line" >&2
    rps[$name,$c]=$(field rps "$line")
    p50[$name,$c]=$(field p50_us "$line")
    p99[$name,$c]=$(field p99_us "$line")
    ccpu[$name,$c]=$(field client_cpu "$line")
    scpu[$name,$c]=$(awk -v t="$((t1 - t0))" -v hz="$ticks_per_s" -v a="$s0" -v b="$s1" \
                       'BEGIN { if (b > a) printf "%.2f", t / hz / (b - a) }')
    spr[$name,$c]=$(awk -v t="$((t1 - t0))" -v hz="$ticks_per_s" -v n="$(field all_requests "$line")" \
                      'BEGIN { if (n > 0) printf "%.2f", t / hz * 1e6 / n }')
  done

  if [ "$rss" -eq 1 ]; then
    if ! launch "$name" "$cmd"; then failed=1; continue; fi
    sleep 0.5
    before=$(rss_kib "$server_pid" || echo 0)
    out="$work/$name.idle"
    timeout 120 taskset -c "$client_cpu" "$load" --port "$port" --idle "$idle" --hold 4 >"$out" 2>&1 &
    client_pid=$!
    for i in $(seq 1 600); do
      grep -q '^connected=' "$out" && break
      kill -0 "$client_pid" 2>/dev/null || break
      sleep 0.1
    done
    sleep 1
    after=$(rss_kib "$server_pid" 2>/dev/null || echo "")
    wait "$client_pid" 2>/dev/null && client_ok=1 || client_ok=0
    client_pid=""
    stop_server
    got=$(sed -n 's/^connected=\([0-9]*\).*/\1/p' "$out")
    if [ "$client_ok" -eq 1 ] && [ "$got" = "$idle" ] && [ -n "$after" ]; then
      rss_per_conn[$name]=$(( (after - before) * 1024 / idle ))
      echo "$name idle=$idle: VmRSS ${before} KiB -> ${after} KiB: ${rss_per_conn[$name]} B/connection" >&2
    else
      echo "run_echo_bench.sh: idle test failed against $name: $(tr '\n' ' ' <"$out")" >&2
      failed=1
    fi
  fi
done

# ---- report -------------------------------------------------------------------
label() {
  case "$1" in
    fastrt) echo "fastrt-echo" ;;
    asio_echo_uring) echo "asio coroutines, io_uring" ;;
    asio_echo_epoll) echo "asio coroutines, epoll" ;;
    epoll_echo_server) echo "hand-written epoll" ;;
    *) echo "$1" ;;
  esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f×", a / b; else printf "–" }'; }

header="| server |"; rule="|---|"
for c in $connections; do header+=" $c conn (req/s) |"; rule+="---:|"; done
[ "$rss" -eq 1 ] && { header+=" RSS / idle conn ($idle held) |"; rule+="---:|"; }
echo "$header"
echo "$rule"
for entry in "${servers[@]}"; do
  name="${entry%%|*}"
  row="| $(label "$name") |"
  for c in $connections; do row+=" ${rps[$name,$c]:-failed} |"; done
  [ "$rss" -eq 1 ] && row+=" ${rss_per_conn[$name]:-failed} B |"
  echo "$row"
done
if [ -n "$fastrt" ]; then
  row_asio="| fastrt / best asio |"; row_epoll="| fastrt / epoll |"
  for c in $connections; do
    best=$(awk -v a="${rps[asio_echo_uring,$c]:-0}" -v b="${rps[asio_echo_epoll,$c]:-0}" 'BEGIN { print (a > b ? a : b) }')
    row_asio+=" $(ratio "${rps[fastrt,$c]:-}" "$best") |"
    row_epoll+=" $(ratio "${rps[fastrt,$c]:-}" "${rps[epoll_echo_server,$c]:-}") |"
  done
  [ "$rss" -eq 1 ] && { row_asio+=" |"; row_epoll+=" |"; }
  echo "$row_asio"
  echo "$row_epoll"
fi
echo
echo "| server | connections | p50 µs | p99 µs | client CPU | server CPU | server CPU µs / request |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for entry in "${servers[@]}"; do
  name="${entry%%|*}"
  for c in $connections; do
    echo "| $(label "$name") | $c | ${p50[$name,$c]:-} | ${p99[$name,$c]:-} | ${ccpu[$name,$c]:-} | ${scpu[$name,$c]:-} | ${spr[$name,$c]:-} |"
  done
done
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$failed"
