#!/usr/bin/env bash
# Installs a built fastrt into a staging prefix and consumes it the way a
# downstream project would:
#   1. the install tree has the headers, the CMake package, the pkg-config
#      files and (when built) fastrt-h2 / fastrt-echo with the demo app, which
#      the installed fastrt-h2 serves (with curl);
#   2. tests/package/find_package configures, builds and runs against it with
#      find_package(fastrt 0.1 REQUIRED COMPONENTS <components>);
#   3. tests/package/pkg_config builds the same programs with pkg-config;
#   4. negative cases: a bogus component, (with python) a Python root that
#      does not exist and (with http2) a pkg-config that cannot find
#      libnghttp2 make find_package fail with a message naming them;
#   5. (with http2, python and uring) a downstream HTTP/2 server,
#      consumers/server_main.cpp, built both ways: it serves its own C++
#      route and a Python app (curl, h2load) and stops cleanly on SIGTERM;
#      with tls it serves HTTPS (a self-signed certificate made here with
#      the openssl CLI): curl over h2 (ALPN) and HTTP/1.1, h2load over h2;
#   6. (with http2) the nghttp2 flood limits: consume_http2 checks that the
#      FASTRT_HAVE_NGHTTP2_* definitions it was given (by find_package, by
#      pkg-config) are the ones its libnghttp2 offers, as found here by
#      compiling against it (FASTRT_TEST_NGHTTP2_FEATURES); and against a
#      libnghttp2 that lacks them, find_package gives none;
#   7. (with tls) a consumer without OpenSSL (find_package(OpenSSL) disabled)
#      fails find_package(fastrt COMPONENTS tls) naming OpenSSL.
# Usage: run_package_tests.sh BUILD_DIR CXX_COMPILER COMPONENTS (comma-separated)
set -euo pipefail
build=$1
cxx=$2
IFS=, read -r -a components <<<"$3"
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/fastrt-package.XXXXXX")
downstream_pid=""  # the downstream server while it runs: killed if the script ends early
trap '[ -z "$downstream_pid" ] || kill -KILL "$downstream_pid" 2>/dev/null; rm -rf "$work"' EXIT
prefix=$work/prefix
has() { [[ " ${components[*]} " == *" $1 "* ]]; }
step() { echo "--- package: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# A port for a test server: 20000-32000, below the ephemeral range (32768
# and up) the clients' own connections take theirs from. It may be taken by
# the time the server binds: callers retry on "in use".
test_port() { echo $((20000 + RANDOM % 12000)); }
# The flood limits the libnghttp2 that pkg-config finds offers, in
# consume_http2's order ("reset_rate_limit max_continuations"): a program
# taking each function's address compiles and links, or it does not.
nghttp2_offers() {
  local offered=() pair
  for pair in reset_rate_limit:nghttp2_option_set_stream_reset_rate_limit \
              max_continuations:nghttp2_option_set_max_continuations; do
    # shellcheck disable=SC2046  # pkg-config's output is meant to be word-split
    if printf '#include <nghttp2/nghttp2.h>\nint main() { (void)&%s; }\n' "${pair#*:}" |
       "$cxx" -std=c++20 -x c++ - -o "$work/nghttp2_probe" $(pkg-config --cflags --libs libnghttp2) 2>/dev/null; then
      offered+=("${pair%%:*}")
    fi
  done
  echo "${offered[*]}"
}

# serve_downstream BINARY HOW [CERT KEY]: the downstream server
# (consumers/server_main.cpp) serves its C++ route and its Python app, h2load
# gets 200 2xx answers, and SIGTERM ends it with status 0, having dispatched
# every request. With CERT and KEY it serves HTTPS: curl checks the
# certificate and gets h2 through ALPN, and HTTP/1.1 when it asks for it.
serve_downstream() {
  local bin=$1 how=$2 cert=${3:-} key=${4:-} log=$work/server-$2.log app_dir=$work/app-$2 port="" pid="" status body
  local scheme=http server_args=() curl_args=(--http2-prior-knowledge)
  if [ -n "$cert" ]; then
    scheme=https
    server_args=("$cert" "$key")
    curl_args=(--cacert "$cert" --http2)
  fi
  # The app in a folder of its own, as a downstream project has it (and its
  # __pycache__ out of the source tree).
  mkdir -p "$app_dir"
  cp "$here/consumers/consumer_app.py" "$app_dir/"
  for _ in $(seq 10); do  # a port someone else took: exit 2, try another
    port=$(test_port)
    "$bin" "$port" "$app_dir" "${server_args[@]}" >"$log" 2>&1 &
    pid=$!
    downstream_pid=$pid
    for _ in $(seq 200); do  # 10 s: its own "serving" line proves it is the one listening
      grep -q "^consumer: serving on 127.0.0.1:$port\$" "$log" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    grep -q "^consumer: serving on 127.0.0.1:$port\$" "$log" && break
    status=0
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" || status=$?
    pid=""
    downstream_pid=""
    [ "$status" = 2 ] && grep -q "already in use" "$log" && continue
    fail "consume_server ($how) did not start (status $status): $(cat "$log")"
  done
  [ -n "$pid" ] || fail "consume_server ($how): no free port in 10 tries"
  local url=$scheme://127.0.0.1:$port version
  body=$(curl -s --max-time 10 "${curl_args[@]}" "$url/native" || true)
  [ "$body" = "native route of a downstream server" ] || { kill -KILL "$pid"; fail "consume_server ($how) /native answered '$body': $(cat "$log")"; }
  if [ -n "$cert" ]; then  # which protocol ALPN picked, and HTTP/1.1 over TLS
    version=$(curl -s --max-time 10 "${curl_args[@]}" -o /dev/null -w '%{http_version}' "$url/native" || true)
    [ "$version" = 2 ] || { kill -KILL "$pid"; fail "consume_server ($how) over TLS spoke HTTP '$version', not h2: $(cat "$log")"; }
    body=$(curl -s --max-time 10 --cacert "$cert" --http1.1 -w ' %{http_version}' "$url/native" || true)
    [ "$body" = "native route of a downstream server
 1.1" ] || { kill -KILL "$pid"; fail "consume_server ($how) HTTP/1.1 over TLS answered '$body': $(cat "$log")"; }
  fi
  body=$(curl -s --max-time 10 "${curl_args[@]}" "$url/anything" || true)
  [ "$body" = "python app of a downstream server: /anything" ] \
    || { kill -KILL "$pid"; fail "consume_server ($how) /anything answered '$body': $(cat "$log")"; }
  # Both handlers in turn (h2load cycles through its URIs): 100 requests each.
  timeout 60 h2load -n 200 -c 4 "$url/native" "$url/from-h2load" >"$work/h2load-$how.log" 2>&1 || true
  if ! grep -q "requests: 200 total, 200 started, 200 done, 200 succeeded" "$work/h2load-$how.log" ||
     ! grep -q "status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx" "$work/h2load-$how.log"; then
    kill -KILL "$pid"
    fail "consume_server ($how): h2load did not get 200 2xx: $(cat "$work/h2load-$how.log" "$log")"
  fi
  kill -TERM "$pid"
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done  # 15 s to stop
  kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "consume_server ($how) still runs 15 s after SIGTERM: $(cat "$log")"; }
  status=0
  wait "$pid" || status=$?
  downstream_pid=""
  [ "$status" = 0 ] || fail "consume_server ($how) exited $status on SIGTERM: $(cat "$log")"
  local dispatched
  dispatched=$(sed -n 's/^consumer: \([0-9]*\) requests dispatched$/\1/p' "$log")
  if [ -z "$dispatched" ] || [ "$dispatched" -lt 202 ]; then
    fail "consume_server ($how) dispatched '$dispatched' requests, expected >= 202: $(cat "$log")"
  fi
  echo "consume_server ($how, $scheme): /native, /anything, h2load 200/200 2xx, $dispatched requests dispatched, exit 0"
}

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "install"; }
for f in include/fastrt/result.hpp include/fastrt/version.hpp include/fastrt/detail/join.hpp \
         lib/cmake/fastrt/fastrtConfig.cmake lib/cmake/fastrt/fastrtConfigVersion.cmake \
         lib/cmake/fastrt/fastrtTargets.cmake lib/pkgconfig/fastrt.pc; do
  [ -f "$prefix/$f" ] || fail "$f is not installed"
done
has python && { [ -f "$prefix/include/fastrt/python/runtime.hpp" ] || fail "python headers are not installed"; }
if has tls; then
  [ -f "$prefix/include/fastrt/tls/context.hpp" ] || fail "tls headers are not installed"
  [ -f "$prefix/lib/pkgconfig/fastrt-tls.pc" ] || fail "fastrt-tls.pc is not installed"
fi
if has http2; then
  [ -f "$prefix/include/fastrt/http2/connection_deadlines.hpp" ] || fail "http2 headers are not installed"
  [ -f "$prefix/lib/pkgconfig/fastrt-http2.pc" ] || fail "fastrt-http2.pc is not installed"
fi
if [ -x "$build/examples/echo_server/fastrt-echo" ]; then
  [ -x "$prefix/bin/fastrt-echo" ] || fail "fastrt-echo is not installed"
fi
if [ -x "$build/examples/http2_server/fastrt-h2" ]; then
  [ -x "$prefix/bin/fastrt-h2" ] || fail "fastrt-h2 is not installed"
  [ -f "$prefix/share/fastrt/http2_server/app/demo_app.py" ] || fail "the fastrt-h2 demo app is not installed"
fi

# The installed fastrt-h2 must serve the installed demo app, not the source
# tree's (which it also lists, after it): a marked copy proves which one ran.
if [ -x "$prefix/bin/fastrt-h2" ] && command -v curl >/dev/null; then
  step "installed fastrt-h2 serves share/fastrt/http2_server/app"
  sed -i 's/Hello from fastrt-h2 (Python)/Hello from the installed demo app/' \
      "$prefix/share/fastrt/http2_server/app/demo_app.py"
  port=$(test_port)
  "$prefix/bin/fastrt-h2" --port "$port" --pinned 1 >"$work/h2.log" 2>&1 &
  h2_pid=$!
  reply=""
  for _ in $(seq 50); do
    reply=$(curl -s --max-time 2 --http2-prior-knowledge "http://127.0.0.1:$port/" || true)
    [ -n "$reply" ] && break
    sleep 0.2
  done
  kill -TERM "$h2_pid"
  wait "$h2_pid" || fail "installed fastrt-h2 exited $? on SIGTERM: $(cat "$work/h2.log")"
  [ "$reply" = "Hello from the installed demo app" ] || fail "installed fastrt-h2 answered '$reply': $(cat "$work/h2.log")"
fi

cmake_list=$(IFS=';'; echo "${components[*]}")
if has http2; then
  FASTRT_TEST_NGHTTP2_FEATURES=$(nghttp2_offers)
  export FASTRT_TEST_NGHTTP2_FEATURES
  step "libnghttp2 offers the flood limits '$FASTRT_TEST_NGHTTP2_FEATURES'"
fi
step "find_package(fastrt 0.1 REQUIRED COMPONENTS ${components[*]})"
cmake -S "$here/find_package" -B "$work/consumer" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$prefix" "-DFASTRT_TEST_COMPONENTS=$cmake_list" >"$work/consumer.log" 2>&1 \
  || { cat "$work/consumer.log"; fail "downstream configure"; }
cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 || { cat "$work/consumer.log"; fail "downstream build"; }
for c in "${components[@]}"; do
  "$work/consumer/consume_$c" || fail "consume_$c (find_package) exited $?"
done
serves_downstream() { has http2 && has python && has uring; }
# With tls the downstream server serves HTTPS, with a certificate for
# 127.0.0.1 made here (curl checks it against itself: --cacert).
tls_files=()
if has tls && serves_downstream; then
  step "a self-signed certificate for 127.0.0.1 (openssl req)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
          -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" \
          >"$work/openssl.log" 2>&1 || { cat "$work/openssl.log"; fail "openssl req"; }
  tls_files=("$work/cert.pem" "$work/key.pem")
fi
if serves_downstream; then
  step "downstream server (find_package): a C++ route and a Python app"
  [ -x "$work/consumer/consume_server" ] || fail "consume_server was not built (find_package)"
  serve_downstream "$work/consumer/consume_server" find_package  # cleartext (h2c) as well: the common case
  [ ${#tls_files[@]} -eq 0 ] || serve_downstream "$work/consumer/consume_server" find_package "${tls_files[@]}"
fi

step "pkg-config"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
"$here/pkg_config/build.sh" "$work/pkg" "${components[@]}"
if serves_downstream; then
  step "downstream server (pkg-config): a C++ route and a Python app"
  [ -x "$work/pkg/server" ] || fail "consume_server was not built (pkg-config)"
  serve_downstream "$work/pkg/server" pkg_config "${tls_files[@]}"
fi

# Negative cases: configure must fail, and say why.
expect_configure_failure() {  # NAME PATTERN CMAKE_ARGS...
  local name=$1 pattern=$2
  shift 2
  step "negative: $name"
  if cmake -S "$here/find_package" -B "$work/$name" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
           -DCMAKE_PREFIX_PATH="$prefix" "$@" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log"
    fail "$name: configure succeeded"
  fi
  grep -Eq "$pattern" "$work/$name.log" || { cat "$work/$name.log"; fail "$name: no '$pattern' in the error"; }
}
# FASTRT_PYTHON_ROOT pointed at the recorded CPython's own prefix must work.
if has python; then
  step "FASTRT_PYTHON_ROOT=<the recorded CPython prefix>"
  python_root=$(dirname "$(pkg-config --variable=pylibdir fastrt-python)")
  cmake -S "$here/find_package" -B "$work/python_root" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
        -DCMAKE_PREFIX_PATH="$prefix" "-DFASTRT_TEST_COMPONENTS=core;python" -DFASTRT_PYTHON_ROOT="$python_root" \
        >"$work/python_root.log" 2>&1 || { cat "$work/python_root.log"; fail "FASTRT_PYTHON_ROOT=$python_root"; }
fi

expect_configure_failure bogus_component "component 'bogus': unknown component" "-DFASTRT_TEST_COMPONENTS=core;bogus"
if has python; then
  expect_configure_failure missing_python "component 'python': CPython 3\.[0-9]+\.[0-9]+ not found.*/nonexistent/python" \
    "-DFASTRT_TEST_COMPONENTS=core;python" -DFASTRT_PYTHON_ROOT=/nonexistent/python
fi
if has http2; then
  # A machine without libnghttp2's pkg-config file: an empty search path.
  mkdir -p "$work/no-pkgconfig"
  (
    export PKG_CONFIG_LIBDIR=$work/no-pkgconfig PKG_CONFIG_PATH=
    expect_configure_failure missing_nghttp2 "component 'http2': libnghttp2 >= 1\.43 not found by pkg-config" \
      "-DFASTRT_TEST_COMPONENTS=core;http2"
  ) || exit 1

  # A libnghttp2 from before the flood limits (1.52 without Debian's
  # backports), stood in for by this one's header with both functions renamed
  # away: the installed config asks the consumer's libnghttp2, so
  # consume_http2 gets no FASTRT_HAVE_NGHTTP2_* and calls neither.
  step "find_package(fastrt COMPONENTS http2) with a libnghttp2 without the flood limits"
  old=$work/old-nghttp2
  mkdir -p "$old/include/nghttp2" "$old/pkgconfig"
  system_include=$(pkg-config --variable=includedir libnghttp2)
  cp "$system_include/nghttp2/nghttp2ver.h" "$old/include/nghttp2/"
  sed -e 's/nghttp2_option_set_stream_reset_rate_limit/fastrt_test_no_reset_rate_limit/' \
      -e 's/nghttp2_option_set_max_continuations/fastrt_test_no_max_continuations/' \
      "$system_include/nghttp2/nghttp2.h" >"$old/include/nghttp2/nghttp2.h"
  sed "s|^includedir=.*|includedir=$old/include|" \
      "$(pkg-config --variable=pcfiledir libnghttp2)/libnghttp2.pc" >"$old/pkgconfig/libnghttp2.pc"
  (
    export PKG_CONFIG_PATH=$old/pkgconfig:$PKG_CONFIG_PATH
    FASTRT_TEST_NGHTTP2_FEATURES=$(nghttp2_offers)
    [ -z "$FASTRT_TEST_NGHTTP2_FEATURES" ] || fail "the stand-in libnghttp2 still offers '$FASTRT_TEST_NGHTTP2_FEATURES'"
    cmake -S "$here/find_package" -B "$work/old_nghttp2" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
          -DCMAKE_PREFIX_PATH="$prefix" "-DFASTRT_TEST_COMPONENTS=core;http2" >"$work/old_nghttp2.log" 2>&1 \
      || { cat "$work/old_nghttp2.log"; fail "configure against the stand-in libnghttp2"; }
    cmake --build "$work/old_nghttp2" --target consume_http2 >>"$work/old_nghttp2.log" 2>&1 \
      || { cat "$work/old_nghttp2.log"; fail "consume_http2 against the stand-in libnghttp2"; }
    "$work/old_nghttp2/consume_http2" || fail "consume_http2 (stand-in libnghttp2) exited $?"
  ) || exit 1
fi
if has tls; then
  # A machine without OpenSSL: CMake is told not to find it.
  expect_configure_failure missing_openssl "component 'tls': OpenSSL >= 3\.0 \(libssl\) not found" \
    "-DFASTRT_TEST_COMPONENTS=core;tls" -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=TRUE
fi
echo "package tests passed (${components[*]})"
