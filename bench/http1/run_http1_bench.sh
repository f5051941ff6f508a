#!/usr/bin/env bash
# fastrt-h2 over HTTP/1.1 against nginx and h2o, side by side in one run (issue 14 item 5, HTTP/1.1 part).
#
#   bench/http1/run_http1_bench.sh [--quick] [--fastrt-h2 PATH] [--rounds N] [--duration S]
#
# h2load --h1 (keep-alive, one thread, pinned to CPU 1) against each server (pinned to CPU 0), all
# answering a short GET: fastrt-h2's C++ route (/cpp/hello) and its Python app (bench/http2/hello_app.py,
# 1 pinned worker), nginx (Debian, one worker, a static 13-byte file) and h2o (num-threads 1, the same
# file). Loads: -c 50, and -c 50 -m 10 (10 requests pipelined per connection). Rounds are interleaved
# (each visits every server once per load); medians are reported.
# Prints a markdown table with ratios to h2o and nginx and the target verdicts (C++ route ≥ 1.0× h2o and
# ≥ 1.2× nginx). Exit status: 0 if every run answered 2xx for every request.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3
PATH=$PATH:/usr/sbin  # nginx

quick=0
fastrt_h2=""
rounds=3
duration=5
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --fastrt-h2) fastrt_h2="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_http1_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then rounds=1; duration=2; fi
loads=("-c 50 -m 1" "-c 50 -m 10")

# shellcheck source-path=SCRIPTDIR source=../bench_setup.sh
. "$here/../bench_setup.sh"
install_missing run_http1_bench nghttp2-client h2o nginx python3 curl util-linux cmake ninja-build g++-12 \
  libnghttp2-dev liburing-dev
[ -n "$fastrt_h2" ] || build_fastrt_h2 run_http1_bench "$repo"
[ -x "$fastrt_h2" ] || { echo "run_http1_bench: $fastrt_h2 is not an executable" >&2; exit 1; }

out="$(mktemp -d /tmp/fastrt-h1-bench.XXXXXX)"  # kept: logs and the h2load output of failed runs
chmod 755 "$out"  # h2o and nginx workers (nobody) read the document root
pids=()
trap stop_servers EXIT
trap 'exit 130' INT TERM

hello='Hello, world!'
mkdir -p "$out/htdocs" "$out/nginx"
printf '%s' "$hello" > "$out/htdocs/hello.txt"
chmod 644 "$out/htdocs/hello.txt"

write_h2o_conf() {  # $1 port: cleartext (HTTP/1.1 there), one thread
  cat > "$out/h2o-$1.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $1
num-threads: 1
hosts:
  default:
    paths:
      /:
        file.dir: $out/htdocs
EOF
}

write_nginx_conf() {  # $1 port: one worker, keep-alive without a request cap, no access log
  cat > "$out/nginx/nginx-$1.conf" <<EOF
worker_processes 1;
daemon off;
pid $out/nginx/nginx-$1.pid;
error_log $out/nginx/error-$1.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    client_body_temp_path $out/nginx/body;
    proxy_temp_path $out/nginx/proxy;
    fastcgi_temp_path $out/nginx/fastcgi;
    uwsgi_temp_path $out/nginx/uwsgi;
    scgi_temp_path $out/nginx/scgi;
    server {
        listen 127.0.0.1:$1;
        root $out/htdocs;
    }
}
EOF
}

# add_server NAME ROLE URL_PATH EXACT_BODY|"" PORT CMD... — CMD pinned to CPU 0; one GET over HTTP/1.1
# must answer 200 with the body (empty EXACT_BODY: any short body starting with "Hello"), else the run stops.
declare -A url role body_bytes server_pid
names=()
add_server() {
  local name="$1" r="$2" path="$3" want="$4" port="$5" meta body; shift 5
  taskset -c 0 "$@" > "$out/$name.log" 2>&1 &
  pids+=($!); server_pid[$name]=$!
  for _ in $(seq 150); do
    kill -0 "${server_pid[$name]}" 2>/dev/null || { echo "run_http1_bench: $name exited:" >&2; tail -20 "$out/$name.log" >&2; exit 1; }
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
  url[$name]="http://127.0.0.1:$port$path"; role[$name]=$r; names+=("$name")
  meta="$(curl -sS --http1.1 -o "$out/$name.body" -w '%{http_code} %{http_version}' "${url[$name]}")" || true
  body="$(cat "$out/$name.body" 2>/dev/null)"
  if [ "$meta" != "200 1.1" ] || { [ -n "$want" ] && [ "$body" != "$want" ]; } || [[ "$body" != Hello* ]]; then
    echo "run_http1_bench: $name: GET ${url[$name]} answered '$meta' with '$body'" >&2; exit 1
  fi
  body_bytes[$name]=$(stat -c %s "$out/$name.body")
}

echo "run_http1_bench: starting servers (results and logs in $out)" >&2
p=$(free_port); add_server "fastrt-h2 C++" cpp /cpp/hello "" "$p" \
  "$fastrt_h2" --port "$p" --io-threads 1 --pinned 1 --app-dir "$repo/bench/http2" --app hello_app:app --cpp-demo-routes
p=$(free_port); write_nginx_conf "$p"; add_server nginx peer /hello.txt "$hello" "$p" nginx -p "$out/nginx/" -c "$out/nginx/nginx-$p.conf"
p=$(free_port); write_h2o_conf "$p"; add_server h2o peer /hello.txt "$hello" "$p" h2o -c "$out/h2o-$p.conf"
p=$(free_port); add_server "fastrt-h2 Python, 1 pinned" python / "$hello" "$p" \
  "$fastrt_h2" --port "$p" --io-threads 1 --pinned 1 --app-dir "$repo/bench/http2" --app hello_app:app

{
  echo "{"
  for i in "${!names[@]}"; do
    n="${names[$i]}"; sep=,; [ "$i" -eq $((${#names[@]} - 1)) ] && sep=
    echo "  \"$n\": {\"role\": \"${role[$n]}\", \"body_bytes\": ${body_bytes[$n]}}$sep"
  done
  echo "}"
} > "$out/servers.json"

total=$((rounds * ${#loads[@]} * ${#names[@]})); run=0
for round in $(seq "$rounds"); do
  for load in "${loads[@]}"; do
    for name in "${names[@]}"; do
      run=$((run + 1))
      tag="$(echo "$name $load r$round" | tr -c 'A-Za-z0-9\n' '_')"
      echo "run_http1_bench: [$run/$total] round $round, $name, h2load --h1 $load" >&2
      # As bench/http2/run_http2_bench.sh: a 1 s timed run warms up and gives the rate, which sizes a
      # request-count run of about $duration s (every request of it is counted).
      read -r _ c _ m <<< "$load"
      # shellcheck disable=SC2086  # $load is a list of h2load options
      rate="$(taskset -c 1 timeout 60 h2load --h1 -t 1 $load -D 1 "${url[$name]}" 2>&1 |
              sed -n 's/^finished in [^,]*, \([0-9]*\)\.[0-9]* req\/s.*/\1/p')" || true
      n=$(( ${rate:-0} * duration ))
      [ "$n" -lt $((c * m * 2)) ] && n=$((c * m * 2))
      n=$(( (n + c - 1) / c * c ))
      rm -f "$out/$tag.log"
      # shellcheck disable=SC2086
      taskset -c 1 timeout $((duration * 10 + 60)) h2load --h1 -t 1 $load -n "$n" --log-file "$out/$tag.log" \
        "${url[$name]}" > "$out/$tag.out" 2>&1 || echo "h2load exit status $?" >> "$out/$tag.out"
      "$py" "$repo/bench/http2/h2load_stats.py" "$name" "$load" "$round" "$out/$tag.out" "$out/$tag.log" >> "$out/runs.jsonl"
      kill -0 "${server_pid[$name]}" 2>/dev/null ||
        echo "{\"server\": \"$name\", \"load\": \"$load\", \"round\": $round, \"ok\": false, \"problems\": [\"server exited during the run\"]}" >> "$out/runs.jsonl"
      if tail -1 "$out/runs.jsonl" | grep -q '"ok": true'; then rm -f "$out/$tag.log" "$out/$tag.out"; else
        echo "run_http1_bench: $name, h2load --h1 $load FAILED, output kept in $out/$tag.out" >&2; rm -f "$out/$tag.log"
      fi
    done
  done
done
stop_servers

echo
echo "h2load --h1 -t 1 -n (sized for ~${duration}s after a warm-up run), $rounds round(s); servers on CPU 0, h2load on CPU 1; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
status=0
"$py" "$here/report.py" "$out" || status=$?
echo
echo "(logs: $out)"
exit "$status"
