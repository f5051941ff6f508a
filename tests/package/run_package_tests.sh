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
#      libnghttp2 make find_package fail with a message naming them.
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
fi
echo "package tests passed (${components[*]})"
