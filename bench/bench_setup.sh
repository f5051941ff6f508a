# shellcheck shell=bash
# bench_setup.sh — sourced by the benchmark scripts that run fastrt-h2 against peers
# (bench/http2/run_http2_bench.sh, bench/python_apps/run_apps_bench.sh).
#
#   install_missing TAG PACKAGE...      apt-get install the Debian packages dpkg-query does not
#                                       list as installed (nothing else runs when all are there)
#   build_fastrt_h2 TAG REPO            build fastrt-h2 with the release preset (the -O3 -DNDEBUG
#                                       build the other benchmarks use); sets fastrt_h2 to its
#                                       path, or exits with the build's errors
#   free_port                           a free TCP port on 127.0.0.1 (the kernel's pick)
#   low_free_port                       a free TCP port on 127.0.0.1 below 32768 (the range the
#                                       project's tests keep to), picked at random
#   write_h2o_conf DIR PORT [LINE...]   write DIR/h2o-PORT.conf: h2o on 127.0.0.1:PORT (cleartext:
#                                       h2c prior knowledge and HTTP/1.1), one thread, serving the
#                                       files in DIR/htdocs; each LINE is one more top-level setting
#   stop_servers                        SIGTERM every pid in the caller's array `pids` (servers
#                                       stop gracefully), SIGKILL what lingers after 5 s; empties it
#
# TAG prefixes the messages (the calling script's name). Needs bash; sets no shell options.

install_missing() {
  local tag="$1" p sudo=; shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$tag: installing ${missing[*]}" >&2
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build_fastrt_h2() {
  local tag="$1" repo="$2" build_log
  # shellcheck disable=SC2034  # fastrt_h2 is the calling script's variable
  fastrt_h2="$repo/build/release/examples/http2_server/fastrt-h2"
  echo "$tag: building fastrt-h2 (release preset)" >&2
  build_log="$(mktemp /tmp/fastrt-h2-build.XXXXXX.log)"
  (cd "$repo" && cmake --preset release && cmake --build --preset release --target fastrt-h2) > "$build_log" 2>&1 || {
    grep -E "error|FAILED" "$build_log" | head -10 >&2
    echo "$tag: building fastrt-h2 failed (full log: $build_log); a prebuilt binary can be given with --fastrt-h2 PATH" >&2
    exit 1
  }
  rm -f "$build_log"
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

low_free_port() {
  /usr/bin/python3 -c '
import random, socket
for _ in range(200):
    p = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

stop_servers() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  pids=()
}

write_h2o_conf() {
  local dir="$1" port="$2" line; shift 2
  {
    printf 'listen:\n  host: 127.0.0.1\n  port: %s\nnum-threads: 1\n' "$port"
    for line in "$@"; do printf '%s\n' "$line"; done
    printf 'hosts:\n  default:\n    paths:\n      /:\n        file.dir: %s/htdocs\n' "$dir"
  } > "$dir/h2o-$port.conf"
}
