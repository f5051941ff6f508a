#!/usr/bin/env bash
# Installs the Debian 12 packages fastrt's build, tests and benchmarks need.
# Idempotent and quiet: when everything is present it only asks dpkg.
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --list   print the package list, one per line (read by
#                                    scripts/check-deps.sh, which holds every program
#                                    and library the project uses to this list)
#
# Adding a dependency: add the package that OWNS the file you use (`dpkg -S
# /path/to/it`, not a metapackage that pulls it in) here, and a row for the
# file to the table in scripts/check-deps.sh.
set -euo pipefail

packages=(
  # Build: toolchains, the sanitizer runtimes, and the symbolizer clang-19's
  # runtimes need to name functions (LeakSanitizer suppressions match by name).
  cmake ninja-build pkgconf g++-12 clang-19 libclang-rt-19-dev llvm-19
  # Libraries: unit tests, micro-benchmarks, io_uring layer, fastrt-h2.
  catch2 libbenchmark-dev liburing-dev libnghttp2-dev
  libssl-dev                                   # OpenSSL 3: fastrt::tls, fastrt-h2 --tls-cert
  libgoogle-perftools-dev                      # tcmalloc for fastrt-h2 (optional, faster)
  # fastrt-h2's real-peer tests: curl, nghttp, h2load; hand-built frames use
  # Debian's python3 (/usr/bin/python3) with hpack (and h2, which brings it).
  curl nghttp2-client python3-minimal python3-h2 python3-hpack
  openssl                                      # tests/http2/tls_test.sh: certificates, s_client
  chromium                                     # tests/http2/browser_test.sh: a real browser, headless (~300 MB)
  # Benchmark peers: queue_bench (header-only queues), the echo benchmark
  # (asio), bench/http2 (nghttpd, h2o, Hypercorn), profiling (perf, bench/README).
  libboost1.74-dev libconcurrentqueue-dev libreaderwriterqueue-dev libasio-dev
  nghttp2-server h2o python3-hypercorn linux-perf
  # WSGI: the Flask app fastrt-h2 serves in tests/http2/wsgi_test.sh, and
  # gunicorn, the server its answers are compared with (and a benchmark peer).
  python3-flask gunicorn
  # ASGI: the Starlette and Quart apps fastrt-h2 serves in tests/http2/asgi_test.sh,
  # and uvicorn, the server their answers are compared with; uvloop and
  # httptools for uvicorn as the peer in bench/python_apps.
  python3-starlette python3-quart python3-uvicorn python3-uvloop python3-httptools
  # Behind real balancers (tests/http2/deploy_test.sh, deploy/): HAProxy, nginx,
  # openssl for the test's self-signed certificate; wrk (HTTP/1.1 keep-alive
  # load); nginx is also a peer in bench/http1.
  haproxy nginx openssl wrk
  # Base tools the scripts call. Essential (or required) on Debian, so always
  # present; listed so that every program the scripts run is accounted for.
  bash coreutils sed grep mawk diffutils util-linux libc-bin
)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [--list]" >&2; exit 2; }

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
