#!/usr/bin/env bash
# Installs the Debian 12 packages fastrt's build, tests and benchmarks need.
# Idempotent and quiet: when everything is present it only asks dpkg.
set -euo pipefail

packages=(
  cmake ninja-build g++-12 clang-19 libclang-rt-19-dev   # toolchains and sanitizer runtimes
  catch2 libbenchmark-dev libasio-dev                    # tests, benchmarks and their peers
  pkg-config liburing-dev                                # the io_uring layer (and asio's io_uring echo peer)
  libboost-dev libconcurrentqueue-dev libreaderwriterqueue-dev  # queue_bench's peers (header-only)
  libnghttp2-dev nghttp2-client curl python3-h2          # fastrt-h2 and its real-peer tests
  libgoogle-perftools-dev                                # tcmalloc for fastrt-h2 (optional, faster)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "fastrt: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
