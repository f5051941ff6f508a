#!/usr/bin/env bash
# Builds and runs tests/package/consumers/<component>_main.cpp with nothing
# but `c++ $(pkg-config --cflags --libs <package>) -std=c++20`: fastrt for
# core, fastrt-uring, fastrt-python, fastrt-http2, fastrt-tls. PKG_CONFIG_PATH must reach the install.
# With http2, python and uring among them it also builds OUT_DIR/server from
# consumers/server_main.cpp (a downstream HTTP/2 server; run_package_tests.sh
# serves with it): `pkg-config --cflags --libs fastrt-http2 fastrt-uring fastrt-python`,
# with tls among them also fastrt-tls and -DCONSUMER_TLS (it serves HTTPS).
# Usage: build.sh OUT_DIR COMPONENT...
set -euo pipefail
out=$1
shift
consumers=$(cd "$(dirname "$0")/../consumers" && pwd)
mkdir -p "$out"
for component in "$@"; do
  package=fastrt
  [ "$component" = core ] || package=fastrt-$component
  echo "c++ ${component}_main.cpp \$(pkg-config --cflags --libs $package) -std=c++20"
  # shellcheck disable=SC2046  # pkg-config's output is meant to be word-split
  c++ -std=c++20 -Wall -Wextra -Werror "$consumers/${component}_main.cpp" -o "$out/$component" \
      $(pkg-config --cflags --libs "$package")
  "$out/$component" || { echo "FAIL: $component (pkg-config) exited $?" >&2; exit 1; }
done

if [[ " $* " == *" http2 "* && " $* " == *" python "* && " $* " == *" uring "* ]]; then
  packages=(fastrt-http2 fastrt-uring fastrt-python)
  defines=()
  if [[ " $* " == *" tls "* ]]; then
    packages+=(fastrt-tls)
    defines+=(-DCONSUMER_TLS)
  fi
  echo "c++ ${defines[*]} server_main.cpp \$(pkg-config --cflags --libs ${packages[*]}) -std=c++20"
  # shellcheck disable=SC2046  # pkg-config's output is meant to be word-split
  c++ -std=c++20 -Wall -Wextra -Werror -fno-exceptions -fno-rtti "${defines[@]}" "$consumers/server_main.cpp" \
      -o "$out/server" $(pkg-config --cflags --libs "${packages[@]}")
fi
