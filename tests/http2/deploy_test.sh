#!/usr/bin/env bash
# fastrt-h2 behind real balancers, with deploy/'s configurations as shipped
# (issue 14 item 4), and wrk's keep-alive against fastrt-h2 (item 3):
#   HAProxy (deploy/haproxy/haproxy.cfg): TLS ends at HAProxy, h2 to two
#     fastrt-h2, HTTP/1.1 health checks on --health-path; a killed backend is
#     marked down and every request still succeeds.
#   nginx (deploy/nginx/fastrt.conf): HTTP/1.1 keep-alive to two fastrt-h2.
# Each balancer runs in the foreground with its pid, logs and temporary files
# in a temporary folder; only ports and paths are substituted.
# Usage: deploy_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
PATH=$PATH:/usr/sbin  # haproxy and nginx, also for a user whose PATH lacks it
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
pids=()  # every process this script starts
# stop PID...: SIGTERM, then SIGKILL what still runs after 5 s. Not SIGKILL
# first: nginx's master must stop its workers, which would outlive it.
stop() {
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
}
cleanup() {
  stop "${pids[@]}"
  rm -rf "$work"
}
trap cleanup EXIT

source "$here/common.sh"

# start_backend NAME: the demo app (Python at /, C++ at /cpp/hello) with the
# health route, its access log in $work/NAME.access; sets ${NAME}_port, ${NAME}_pid.
start_backend() {
  local name=$1 port
  port=$(free_port)
  "$server_bin" --port "$port" --pinned 1 --health-path /healthz --access-log "$work/$name.access" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  printf -v "${name}_port" %s "$port"
  printf -v "${name}_pid" %s "$!"
  wait_serving "$!" "$work/$name.out" && return 0
  echo "FAIL backend $name did not start"; cat "$work/$name.out" "$work/$name.err"; exit 1
}

# wait_answering PID URL CURL-FLAGS...: true once URL answers 200 (within 10 s)
# while PID (the balancer) runs: a balancer that could not bind its port
# exits, and a 200 from whoever holds the port must not count.
wait_answering() {
  local pid=$1; shift
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@")" = 200 ] && kill -0 "$pid" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# all_ok N URL CURL-FLAGS...: N requests on one curl (one connection, kept
# alive), every one answered 200 with the Python app's greeting.
all_ok() {
  local n=$1 url=$2 i urls=(); shift 2
  for i in $(seq 1 "$n"); do urls+=("$url"); done
  local codes
  codes=$(curl -s --max-time 30 -w '%{http_code}\n' "$@" "${urls[@]}" | grep -c '^200$')
  [ "$codes" = "$n" ] && [ "$(curl -s --max-time 10 "$@" "$url")" = "Hello from fastrt-h2 (Python)" ]
}

# h2load_ok LABEL N ARGS...: h2load (bounded by -n N and a timeout) answers N requests, all 2xx.
h2load_ok() {
  local label=$1 n=$2; shift 2
  timeout 120 h2load -n "$n" "$@" >"$work/h2load-$label.out" 2>&1
  grep -q "$n succeeded, 0 failed, 0 errored, 0 timeout" "$work/h2load-$label.out" &&
    grep -q "status codes: $n 2xx" "$work/h2load-$label.out" || { sed 's/^/     /' "$work/h2load-$label.out" | tail -8; false; }
}

# wrk_ok LABEL URL: wrk -t1 -c10 -d2s (keep-alive): requests done, no socket
# error and no non-2xx answer (wrk prints those lines only when they are not 0).
wrk_ok() {
  timeout 30 wrk -t1 -c10 -d2s "$2" >"$work/wrk-$1.out" 2>&1
  grep -Eq '^ +[1-9][0-9]* requests in' "$work/wrk-$1.out" &&
    ! grep -Eq 'Socket errors|Non-2xx' "$work/wrk-$1.out" || { sed 's/^/     /' "$work/wrk-$1.out"; false; }
}

# proxied LOG VERSION: the access log shows GET / (the Python app) over VERSION.
proxied() { grep -q "\"GET / HTTP/$2\" 200" "$1"; }

# tcp_count PORT STATE: TCP sockets on 127.0.0.1 whose local port is PORT in
# STATE (hex, /proc/net/tcp: 01 established, 06 time-wait, 0A listening).
tcp_count() {
  awk -v port="$(printf ':%04X' "$1")" -v state="$2" '$2 ~ port"$" && $4 == state { n++ } END { print n + 0 }' /proc/net/tcp
}

# --- fastrt-h2 alone: the health route, wrk keep-alive ---------------------------
start_backend a
check "--health-path: GET /healthz is 200 'ok' over HTTP/1.1" \
  test "$(curl -s --max-time 5 -w ' %{http_version} %{http_code}' "http://127.0.0.1:$a_port/healthz")" = "ok
 1.1 200"
check "--health-path: HEAD and h2c too" bash -c "
  test \"\$(curl -s -I --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:$a_port/healthz)\" = 200 &&
  test \"\$(curl -s --http2-prior-knowledge --max-time 5 http://127.0.0.1:$a_port/healthz)\" = ok"
check "--health-path: no Python call (the app's other paths are unchanged)" \
  test "$(curl -s --max-time 5 "http://127.0.0.1:$a_port/")" = "Hello from fastrt-h2 (Python)"
"$server_bin" --health-path healthz >"$work/badhealth.out" 2>&1
check "--health-path without a leading '/': exit 2 and one line" \
  bash -c "test $? -eq 2 && test \$(wc -l <'$work/badhealth.out') -eq 1"
check "wrk -t1 -c10 -d2s on the C++ route: no errors, all 2xx" wrk_ok cpp "http://127.0.0.1:$a_port/cpp/hello"
check "wrk -t1 -c10 -d2s on the Python app: no errors, all 2xx" wrk_ok python "http://127.0.0.1:$a_port/"
kill -KILL "$a_pid"; wait "$a_pid" 2>/dev/null

# --- HAProxy: TLS at the balancer, h2 to the backends, HTTP/1.1 health checks ----
start_backend h1
start_backend h2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
cat "$work/cert.pem" "$work/key.pem" >"$work/haproxy.pem"
hp=$(free_port)
export FASTRT_HTTPS_BIND=127.0.0.1:$hp FASTRT_CERT=$work/haproxy.pem
export FASTRT_BACKEND1=127.0.0.1:$h1_port FASTRT_BACKEND2=127.0.0.1:$h2_port
haproxy -c -f "$repo/deploy/haproxy/haproxy.cfg" >"$work/haproxy-check.out" 2>&1
check "haproxy -c: deploy/haproxy/haproxy.cfg is valid" bash -c "test $? -eq 0 || { cat '$work/haproxy-check.out'; false; }"
haproxy -db -f "$repo/deploy/haproxy/haproxy.cfg" -p "$work/haproxy.pid" >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=("$haproxy_pid")
https=https://127.0.0.1:$hp
if ! wait_answering "$haproxy_pid" "$https/cpp/hello" -k; then
  echo "FAIL haproxy does not answer on $https"; cat "$work/haproxy.log"; exit 1
fi
out=$(curl -sk --http2 --max-time 10 -w ' %{http_version}' "$https/")
check "HAProxy, https h2: the Python app ($out)" test "$out" = "Hello from fastrt-h2 (Python)
 2"
out=$(curl -sk --http1.1 --max-time 10 -w ' %{http_version}' "$https/cpp/hello")
check "HAProxy, https http/1.1: the C++ route ($out)" test "$out" = "Hello from fastrt-h2 (C++)
 1.1"
curl -sk --http2 --max-time 10 "$https/headers" >"$work/haproxy-headers"
check "HAProxy: X-Forwarded-For and X-Forwarded-Proto reach the app" \
  bash -c "grep -qx 'x-forwarded-for: 127.0.0.1' '$work/haproxy-headers' && grep -qx 'x-forwarded-proto: https' '$work/haproxy-headers'"
check "HAProxy: 20 h2 requests on one connection, all 200" all_ok 20 "$https/" -k --http2
check "HAProxy: 20 http/1.1 requests on one connection, all 200" all_ok 20 "$https/" -k --http1.1
check "HAProxy: round robin, backend 1 served the app over h2" proxied "$work/h1.access" 2
check "HAProxy: round robin, backend 2 served the app over h2" proxied "$work/h2.access" 2
check "HAProxy: h2load -n 2000 -c 10 -m 10 (TLS, h2), all 2xx" h2load_ok haproxy-h2 2000 -c 10 -m 10 "$https/"
# HTTP/1.1 load through HAProxy: wrk (h2load --h1 counts HAProxy's answers as
# failed: an answer that came over h2 gets an empty reason phrase, "HTTP/1.1 200 ",
# which RFC 9112 allows but h2load takes its status code from).
check "HAProxy: wrk -t1 -c10 -d2s (TLS, http/1.1): no errors, all 2xx" wrk_ok haproxy "$https/cpp/hello"
for _ in $(seq 1 60); do
  grep -q '"GET /healthz HTTP/1.1" 200' "$work/h1.access" && grep -q '"GET /healthz HTTP/1.1" 200' "$work/h2.access" && break
  sleep 0.1
done
check "HAProxy: health checks reach both backends as HTTP/1.1 GET /healthz" \
  bash -c "grep -q '\"GET /healthz HTTP/1.1\" 200' '$work/h1.access' && grep -q '\"GET /healthz HTTP/1.1\" 200' '$work/h2.access'"
check "HAProxy: and only as HTTP/1.1" bash -c "! grep -q '\"GET /healthz HTTP/2' '$work/h1.access' '$work/h2.access'"

# A backend dies: requests go to the other one at once (a refused connection
# is redispatched), and the health check marks it down.
kill -KILL "$h2_pid"; wait "$h2_pid" 2>/dev/null
sleep 0.2  # HAProxy sees its idle h2 connection to backend 2 close (not a health check: that takes 3 x 2 s)
check "HAProxy, backend 2 killed: 20 requests right after, all 200" all_ok 20 "$https/" -k --http2
for _ in $(seq 1 200); do grep -q "fastrt2 is DOWN" "$work/haproxy.log" && break; sleep 0.1; done
check "HAProxy: the health check marks backend 2 DOWN" grep -q "fastrt2 is DOWN" "$work/haproxy.log"
check "HAProxy, backend 2 down: h2load -n 1000 -c 10 -m 10, all 2xx" h2load_ok haproxy-down 1000 -c 10 -m 10 "$https/"
check "HAProxy: backend 1 still up" bash -c "! grep -q 'fastrt1 is DOWN' '$work/haproxy.log'"
stop "$haproxy_pid" "$h1_pid"

# --- nginx: HTTP/1.1 keep-alive to the backends ----------------------------------
start_backend n1
start_backend n2
np=$(free_port)
mkdir -p "$work/nginx"
sed -e "s/listen 8080;/listen 127.0.0.1:$np;/" -e "s/127.0.0.1:8081/127.0.0.1:$n1_port/" \
  -e "s/127.0.0.1:8082/127.0.0.1:$n2_port/" "$repo/deploy/nginx/fastrt.conf" >"$work/nginx/fastrt.conf"
check "nginx: the ports were substituted" \
  bash -c "grep -q 'listen 127.0.0.1:$np;' '$work/nginx/fastrt.conf' && grep -q ':$n1_port ' '$work/nginx/fastrt.conf' && grep -q ':$n2_port ' '$work/nginx/fastrt.conf'"
# The main context Debian's /etc/nginx/nginx.conf would give, in the
# temporary folder (user root: the workers write the temporary files there).
cat >"$work/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log info;
events { worker_connections 1024; }
http {
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    include $work/nginx/fastrt.conf;
}
EOF
nginx -t -p "$work/nginx/" -c "$work/nginx/nginx.conf" >"$work/nginx-check.out" 2>&1
check "nginx -t: deploy/nginx/fastrt.conf is valid" bash -c "test $? -eq 0 || { cat '$work/nginx-check.out'; false; }"
nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" >"$work/nginx/stdout" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
http=http://127.0.0.1:$np
if ! wait_answering "$nginx_pid" "$http/cpp/hello"; then
  echo "FAIL nginx does not answer on $http"; cat "$work/nginx/stdout" "$work/nginx/error.log"; exit 1
fi
out=$(curl -s --max-time 10 -w ' %{http_version}' "$http/")
check "nginx: the Python app ($out)" test "$out" = "Hello from fastrt-h2 (Python)
 1.1"
check "nginx: the C++ route" test "$(curl -s --max-time 10 "$http/cpp/hello")" = "Hello from fastrt-h2 (C++)"
curl -s --max-time 10 "$http/headers" >"$work/nginx-headers"
check "nginx: X-Forwarded-For and X-Forwarded-Proto reach the app" \
  bash -c "grep -qx 'x-forwarded-for: 127.0.0.1' '$work/nginx-headers' && grep -qx 'x-forwarded-proto: http' '$work/nginx-headers'"
check "nginx: 40 requests, all 200" all_ok 40 "$http/"
check "nginx: round robin, backend 1 served the app over HTTP/1.1" proxied "$work/n1.access" 1.1
check "nginx: round robin, backend 2 served the app over HTTP/1.1" proxied "$work/n2.access" 1.1
# Kept alive: nginx's connections to the backends stay open between requests
# (without keepalive each request would leave a closed one in TIME-WAIT).
check "nginx: backend connections kept alive (established: $(tcp_count "$n1_port" 01)+$(tcp_count "$n2_port" 01), time-wait: $(tcp_count "$n1_port" 06)+$(tcp_count "$n2_port" 06))" \
  bash -c "test \$(( $(tcp_count "$n1_port" 01) + $(tcp_count "$n2_port" 01) )) -ge 2 && test \$(( $(tcp_count "$n1_port" 06) + $(tcp_count "$n2_port" 06) )) -eq 0"
check "nginx: h2load --h1 -n 2000 -c 10, all 2xx" h2load_ok nginx 2000 --h1 -c 10 "$http/"
check "nginx: wrk -t1 -c10 -d2s, no errors, all 2xx" wrk_ok nginx "$http/cpp/hello"
kill -KILL "$n2_pid"; wait "$n2_pid" 2>/dev/null
check "nginx, backend 2 killed: 20 requests, all 200 (retried on backend 1)" all_ok 20 "$http/"
check "nginx, backend 2 killed: h2load --h1 -n 500 -c 5, all 2xx" h2load_ok nginx-down 500 --h1 -c 5 "$http/"
# The backend left stops as a deployment stops it: SIGTERM, a clean exit
# (under a sanitizer: no error or leak report either).
kill -TERM "$n1_pid"
status=timeout
for _ in $(seq 1 300); do
  if ! kill -0 "$n1_pid" 2>/dev/null; then wait "$n1_pid"; status=$?; break; fi
  sleep 0.05
done
check "backend 1 behind nginx: SIGTERM, exit 0 (got $status)" test "$status" = 0
stop "$nginx_pid"
check "nginx stopped with its workers: nothing listens on its port" test "$(tcp_count "$np" 0A)" = 0

if [ "$failures" -ne 0 ]; then
  for f in haproxy.log nginx/error.log h1.err h2.err n1.err n2.err; do
    [ -s "$work/$f" ] && { echo "--- $f"; tail -20 "$work/$f"; }
  done
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
