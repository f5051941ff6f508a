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
#   5. (with http2) the nghttp2 flood limits: consume_http2 checks that the
#      FASTRT_HAVE_NGHTTP2_* definitions it was given (by find_package, by
#      pkg-config) are the ones its libnghttp2 offers, as found here by
#      compiling against it (FASTRT_TEST_NGHTTP2_FEATURES); and against a
#      libnghttp2 that lacks them, find_package gives none.
# Usage: run_package_tests.sh BUILD_DIR CXX_COMPILER COMPONENTS (comma-separated)
set -euo pipefail
build=$1
cxx=$2
IFS=, read -r -a components <<<"$3"
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/fastrt-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
has() { [[ " ${components[*]} " == *" $1 "* ]]; }
step() { echo "--- package: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
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

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "install"; }
for f in include/fastrt/result.hpp include/fastrt/version.hpp include/fastrt/detail/join.hpp \
         lib/cmake/fastrt/fastrtConfig.cmake lib/cmake/fastrt/fastrtConfigVersion.cmake \
         lib/cmake/fastrt/fastrtTargets.cmake lib/pkgconfig/fastrt.pc; do
  [ -f "$prefix/$f" ] || fail "$f is not installed"
done
has python && { [ -f "$prefix/include/fastrt/python/runtime.hpp" ] || fail "python headers are not installed"; }
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
  port=$((20000 + RANDOM % 20000))
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

step "pkg-config"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
"$here/pkg_config/build.sh" "$work/pkg" "${components[@]}"

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
echo "package tests passed (${components[*]})"
