#!/usr/bin/env bash
# Instructions and system calls per request of fastrt-h2's C++ route beside nghttpd and h2o, under
# the same h2load load (repeatable on a noisy machine: callgrind counts instructions, not time;
# strace counts calls).
#
#   bench/http2/callgrind_per_request.sh [--fastrt-h2 PATH] [--baseline PATH] [-n N (20000)]
#                                        [--no-syscalls] [--no-h2o] [--only SERVER]... [--keep]
#
# Servers (h2o: system calls only, it leaves requests unanswered under valgrind): fastrt-h2 --io-threads 1 --cpp-demo-routes serving /cpp/hello (27 bytes), as in
# run_http2_bench.sh; with --baseline also an older fastrt-h2 binary the same way; nghttpd --no-tls
# and h2o (num-threads: 1) serving a static 13-byte file.
# Instructions: each server under callgrind (bench/callgrind_lib.sh), 2,000 requests of warm-up,
# then N requests with `h2load -c 10 -m 10` instrumented; the dumps' total (all threads, user
# space only: the kernel's share is not counted) / N.
# System calls: each server on its own (no valgrind), warmed up the same way, then `strace -f -c`
# attached to all its threads for N requests: calls / N, in all and for the three most frequent.
# fastrt-h2 sends and receives through io_uring: io_uring_enter is its one I/O call, and one call
# submits many SQEs (sends, receives) at once.
# --only SERVER (fastrt-h2, fastrt-h2-baseline, nghttpd, h2o; repeatable) measures just those.
# Sends and receives per request come from the same callgrind run (fastrt-h2's io_uring send and
# receive completions; the peers' write/writev/sendmsg and read/recv calls).
# Prints one line per server. With --keep the dumps stay in the printed directory
# (callgrind_annotate them).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fastrt_h2="$repo/build/release/examples/http2_server/fastrt-h2"
baseline=""
n=20000
warmup=2000
syscalls=1
with_h2o=1
keep=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --fastrt-h2) fastrt_h2="$2"; shift ;;
    --baseline) baseline="$2"; shift ;;
    -n) n="$2"; shift ;;
    --no-syscalls) syscalls=0 ;;
    --no-h2o) with_h2o=0 ;;
    --only) only+=("$2"); shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "callgrind_per_request: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "callgrind_per_request: -n takes a whole number above 0" >&2; exit 2; }
for bin in "$fastrt_h2" ${baseline:+"$baseline"}; do
  [ -x "$bin" ] || { echo "callgrind_per_request: no fastrt-h2 at $bin (build it or pass --fastrt-h2)" >&2; exit 1; }
done
for tool in valgrind callgrind_control h2load nghttpd strace curl; do
  command -v "$tool" > /dev/null || {
    echo "callgrind_per_request: needs $tool (apt-get install valgrind nghttp2-client nghttp2-server strace curl)" >&2; exit 1; }
done
command -v h2o > /dev/null || with_h2o=0

out="$(mktemp -d /tmp/fastrt-h2-callgrind.XXXXXX)"
chmod 755 "$out"  # h2o started as root serves files as user nobody
cg_pid=""
plain_pid=""
cleanup() {
  callgrind_stop
  if [ -n "$plain_pid" ]; then kill -KILL "$plain_pid" 2>/dev/null || true; wait "$plain_pid" 2>/dev/null || true; fi
  [ "$keep" = 1 ] || rm -rf "$out"
}
trap cleanup EXIT

# shellcheck source-path=SCRIPTDIR source=../bench_setup.sh
. "$here/../bench_setup.sh"  # free_port, write_h2o_conf
# shellcheck source-path=SCRIPTDIR source=../callgrind_lib.sh
. "$here/../callgrind_lib.sh"

mkdir -p "$out/htdocs"
printf 'Hello, world!' > "$out/htdocs/hello.txt"

# server_command NAME PORT — sets cmd (the server's command line) and path (what to load).
server_command() {
  case "$1" in
    fastrt-h2|fastrt-h2-baseline)
      local bin="$fastrt_h2"; [ "$1" = fastrt-h2 ] || bin="$baseline"
      cmd=("$bin" --port "$2" --io-threads 1 --pinned 1 --app-dir "$here" --app hello_app:app --cpp-demo-routes)
      path=/cpp/hello ;;
    nghttpd) cmd=(nghttpd --no-tls -d "$out/htdocs" "$2"); path=/hello.txt ;;
    h2o) write_h2o_conf "$out" "$2"; cmd=(h2o -c "$out/h2o-$2.conf"); path=/hello.txt ;;
  esac
}

# strace_per_request NAME PORT — "calls/request (top three: name calls/request, ...)".
strace_per_request() {
  local name="$1" port="$2" tids strace_pid
  server_command "$name" "$port"
  "${cmd[@]}" > "$out/$name.plain.log" 2>&1 &
  plain_pid=$!
  for _ in $(seq 300); do
    curl -s -m 5 -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port$path" && break
    sleep 0.1
  done
  h2load -n "$warmup" -c 10 -m 10 "http://127.0.0.1:$port$path" > /dev/null 2>&1
  tids="$(ls /proc/"$plain_pid"/task | paste -sd,)"
  strace -f -c -o "$out/$name.strace" -p "$tids" 2> /dev/null &
  strace_pid=$!
  sleep 1  # attached
  h2load -n "$n" -c 10 -m 10 "http://127.0.0.1:$port$path" > "$out/$name.strace.h2load" 2>&1
  kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
  kill -KILL "$plain_pid" 2>/dev/null || true; wait "$plain_pid" 2>/dev/null || true; plain_pid=""
  /usr/bin/python3 - "$out/$name.strace" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
calls = {}
for line in open(path):
    f = line.split()
    # "% time  seconds  usecs/call  calls  [errors]  syscall"
    if len(f) >= 5 and f[0].replace(".", "").isdigit() and f[-1] != "total":
        calls[f[-1]] = int(f[3])
total = sum(calls.values())
top = sorted(calls.items(), key=lambda kv: -kv[1])[:3]
print(f"{total / n:.3f} ({', '.join(f'{k} {v / n:.3f}' for k, v in top)})")
PY
}

servers=(fastrt-h2)
[ -n "$baseline" ] && servers+=(fastrt-h2-baseline)
servers+=(nghttpd)
[ "$with_h2o" = 1 ] && servers+=(h2o)
[ ${#only[@]} -eq 0 ] || servers=("${only[@]}")
declare -A ir sys sends recvs
for s in "${servers[@]}"; do
  if [ "$s" = h2o ]; then
    # h2o 2.2.5 starts under valgrind but leaves every request unanswered: system calls only.
    [ "$syscalls" = 1 ] && sys[$s]="$(strace_per_request "$s" "$(free_port)")"
    continue
  fi
  port="$(free_port)"
  server_command "$s" "$port"
  callgrind_start callgrind_per_request "$out" "$s" "$port" "$path" "${cmd[@]}" || {
    callgrind_stop; echo "callgrind_per_request: $s does not run under valgrind: skipped" >&2; continue; }
  callgrind_load callgrind_per_request "$out" "$s" "http://127.0.0.1:$port$path" "$n" "$warmup"
  callgrind_stop
  ir[$s]="$(callgrind_per_request "$out" "$s" "$n")"
  # Sends and receives: fastrt-h2's io_uring completions, the peers' libc calls.
  sends[$s]="$(callgrind_calls "$out" "$s" "$n" 'fastrt::detail::stream_state::on_send\(.*|write|writev|sendmsg|send')"
  recvs[$s]="$(callgrind_calls "$out" "$s" "$n" 'fastrt::detail::stream_state::on_recv\(.*|read|readv|recvmsg|recv')"
  [ "$syscalls" = 1 ] && sys[$s]="$(strace_per_request "$s" "$(free_port)")"
done

printf '%-20s %14s %10s %8s %8s   %s\n' server "instr/request" "× nghttpd" "sends" "recvs" "system calls/request (top three)"
for s in "${servers[@]}"; do
  [ -n "${ir[$s]:-}${sys[$s]:-}" ] || continue
  ratio=-
  [ -n "${ir[nghttpd]:-}" ] && [ -n "${ir[$s]:-}" ] && ratio="$(/usr/bin/python3 -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.2f}×')" "${ir[$s]}" "${ir[nghttpd]}")"
  printf '%-20s %14s %10s %8s %8s   %s\n' "$s" "$( [ -n "${ir[$s]:-}" ] && thousands "${ir[$s]}" || echo -)" "$ratio" "${sends[$s]:--}" "${recvs[$s]:--}" "${sys[$s]:-}"
done
echo "(h2load -n $n -c 10 -m 10 after $warmup requests of warm-up; instructions in user space, all threads;"
echo " sends, recvs: per request, counted by callgrind: fastrt-h2's send and receive completions, the peers' calls)"
[ "$keep" = 1 ] && echo "(dumps: $out)"
exit 0
