#!/usr/bin/env bash
# Holds every external program and library fastrt's build, tests and
# benchmarks use to scripts/install-deps.sh: each one is resolved to a file
# (PATH, pkg-config, the compiler, Debian's python3), the file to the Debian
# package that owns it (`dpkg -S`), and that package must be in install-deps.sh's
# list. Fails, naming them, when something is not installed, not owned by a
# package, or owned by a package the list lacks. scripts/test.sh runs it first.
#
#   scripts/check-deps.sh [-v] [--packages FILE] [--extra-row 'KIND TARGET USED-BY']...
#     -v               print every row, not only the failures
#     --packages FILE  the package list to hold them to (default: install-deps.sh --list)
#     --extra-row ROW  one more table row (tests/deps/check_deps_test.sh uses it)
#
# The one exception: pyenv's CPython (the embedded interpreter of the python
# layer, /root/.pyenv/versions/...) is not a Debian package; it must be there
# and run, and is reported as "pyenv".
#
# Adding a dependency: a row below (what the code runs or includes, found the way
# the code finds it) and its owning package in scripts/install-deps.sh.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

# Kinds: prog NAME (on PATH, as the scripts and find_program find it) · file PATH
# (headers found by find_path) · pc NAME (pkg-config's .pc file) · pymod NAME
# (imported by /usr/bin/python3) · clangrt CXX:SANITIZER (the runtime library
# -fsanitize= links) · symbolizer CXX (the llvm-symbolizer in the compiler's own
# directory, which the sanitizer tests use) · pyenv GLOB (newest match, exempt).
table='
prog       cmake                        every preset (also ctest); tests/package
prog       ctest                        every preset
prog       ninja                        every preset (generator "Ninja")
prog       pkg-config                   CMakeLists.txt (liburing, libnghttp2, tcmalloc); tests/package
prog       g++-12                       presets release, noexcept, py312
prog       c++                          tests/package/pkg_config/build.sh
prog       clang++-19                   presets asan, tsan
clangrt    clang++-19:address           preset asan (UBSan is part of its runtime)
clangrt    clang++-19:thread            preset tsan
clangrt    clang++-19:fuzzer            preset asan: tests/fuzz (libFuzzer, -fsanitize=fuzzer)
symbolizer clang++-19                   presets asan, tsan (cmake/FastrtSanitizers.cmake, scripts/check-symbolizer.sh)
file       /usr/include/catch2/catch.hpp  tests/CMakeLists.txt
pc         benchmark                    bench/CMakeLists.txt (find_package(benchmark))
pc         liburing                     CMakeLists.txt (fastrt::uring), bench asio_echo_uring
pc         libnghttp2                   examples/http2_server (fastrt-h2)
pc         openssl                      CMakeLists.txt (fastrt::tls), examples/http2_server (fastrt-h2)
pc         libtcmalloc_minimal          examples/http2_server (fastrt-h2, optional)
file       /usr/include/asio.hpp        bench/CMakeLists.txt (echo peers, bench comparisons)
file       /usr/include/boost/lockfree/spsc_queue.hpp  bench queue_bench
file       /usr/include/concurrentqueue/concurrentqueue.h  bench queue_bench
file       /usr/include/readerwriterqueue/readerwriterqueue.h  bench queue_bench
pyenv      /root/.pyenv/versions/3.13*/bin/python3.13  python layer, fastrt-h2 (cmake/FastrtPython.cmake)
pyenv      /root/.pyenv/versions/3.12*/bin/python3.12  preset py312 (FASTRT_PYTHON_MINOR 3.12, cmake/FastrtPython.cmake)
prog       python3                      tests/CMakeLists.txt (package_* tests)
file       /usr/bin/python3             tests/http2 (raw frames), tests/fuzz (seed corpus), bench/http2
pymod      hpack                        tests/http2/h2frames.py, raw_frames.py, tests/fuzz/make_seed_corpus.py
pymod      h2                           tests/http2 (python-h2 clients)
pymod      hypercorn                    bench/http2/run_http2_bench.sh (peer)
pymod      flask                        tests/http2/wsgi_test.sh (the Flask app, also in fastrt-h2 via --python-path)
prog       gunicorn                     tests/http2/wsgi_test.sh (the WSGI server answers are compared with)
pymod      starlette                    tests/http2/asgi_test.sh, bench/python_apps (the Starlette app, also in fastrt-h2 via --python-path)
pymod      quart                        tests/http2/asgi_test.sh (the Quart app, likewise)
pymod      uvicorn                      tests/http2/asgi_test.sh (the ASGI server answers are compared with), bench/python_apps (peer)
pymod      uvloop                       bench/python_apps/run_apps_bench.sh (uvicorn --loop uvloop)
pymod      httptools                    bench/python_apps/run_apps_bench.sh (uvicorn --http httptools)
prog       curl                         tests/http2, tests/package, bench/http2
prog       nghttp                       tests/http2
prog       openssl                      tests/http2/tls_test.sh, tests/package (self-signed certificate)
prog       chromium                     tests/http2/browser_test.sh
prog       h2load                       tests/http2, bench/http2
prog       nghttpd                      bench/http2 (peer)
prog       h2o                          bench/http2 (peer)
prog       perf                         bench/README.md (profiles)
file       /usr/sbin/haproxy            tests/http2/deploy_test.sh (deploy/haproxy)
file       /usr/sbin/nginx              tests/http2/deploy_test.sh (deploy/nginx), bench/http1 (peer)
prog       openssl                      tests/http2/deploy_test.sh (self-signed certificate)
prog       wrk                          tests/http2/deploy_test.sh (HTTP/1.1 keep-alive load)
prog       bash                         every script
prog       awk                          cmake/FastrtReadmeExamples.cmake, tests/http2, bench/echo
prog       sed                          scripts, tests/http2, bench
prog       grep                         scripts, tests/http2, bench
prog       cmp                          tests/http2/fastrt_h2_test.sh
prog       timeout                      tests/http2, bench (coreutils)
prog       mktemp                       tests, bench (coreutils)
prog       taskset                      bench/http2, bench/echo
prog       getconf                      bench/echo
'

packages_file=""
extra_rows=""
verbose=0
while [ $# -gt 0 ]; do
  case "$1" in
    -v) verbose=1 ;;
    --packages) packages_file=$2; shift ;;
    --extra-row) extra_rows+=$'\n'"$2"; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-deps: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$packages_file" ]; then
  listed=$(grep -v '^[[:space:]]*$' "$packages_file") || { echo "check-deps: cannot read $packages_file" >&2; exit 2; }
else
  listed=$(scripts/install-deps.sh --list) || { echo "check-deps: scripts/install-deps.sh --list failed" >&2; exit 2; }
fi
pyenv_root=${PYENV_ROOT:-/root/.pyenv}

# resolve KIND TARGET: prints the file it stands for; fails (printing why) if none.
resolve() {
  local kind=$1 target=$2 path cxx san major
  case "$kind" in
    prog)  path=$(type -P "$target") || { echo "not on PATH"; return 1; } ;;
    file)  path=$target ;;
    pc)    path=$(pkg-config --path "$target" 2>/dev/null) || { echo "pkg-config knows no $target"; return 1; } ;;
    pymod) path=$(/usr/bin/python3 -c "import $target; print($target.__file__)" 2>/dev/null) ||
             { echo "/usr/bin/python3 cannot import $target"; return 1; } ;;
    clangrt)
      cxx=${target%%:*} san=${target#*:}
      # The runtime -fsanitize=SAN links (with address, UBSan is in asan's).
      [ "$san" = thread ] && san=tsan
      [ "$san" = address ] && san=asan
      type -P "$cxx" >/dev/null || { echo "$cxx is not installed"; return 1; }
      path=$("$cxx" -print-file-name="libclang_rt.$san-$(uname -m).a") ;;
    symbolizer)
      # The compiler's own: clang++-19 is /usr/lib/llvm-19/bin/clang, its
      # symbolizer /usr/lib/llvm-19/bin/llvm-symbolizer (package llvm-19).
      path=$(type -P "$target") || { echo "$target is not installed"; return 1; }
      path="$(dirname "$(readlink -f "$path")")/llvm-symbolizer"
      major=$("$target" -dumpversion | cut -d. -f1)
      [ -x "$path" ] || { echo "$path missing (Debian package llvm-$major)"; return 1; }
      "$path" --version 2>/dev/null | grep -q "LLVM version $major\." ||
        { echo "$path does not report LLVM version $major"; return 1; } ;;
    pyenv)
      path=$(compgen -G "$target" | sort -V | tail -1)
      [ -n "$path" ] || { echo "no $target (pyenv install, with PYTHON_CONFIGURE_OPTS=--enable-shared)"; return 1; } ;;
    *) echo "unknown kind '$kind'"; return 1 ;;
  esac
  [ -e "$path" ] || { echo "$path does not exist"; return 1; }
  echo "$path"
}

# The candidate names dpkg may know PATH by: PATH itself, else its real path
# (alternatives such as c++ and awk), each also under merged /usr (dpkg knows
# /usr/bin/sed as /bin/sed).
candidates() {
  local real c
  real=$(readlink -f "$1")
  for c in "$1" "$real"; do printf '%s\n' "$c" "${c#/usr}" "/usr$c"; done
}

is_listed() { grep -qxF "$1" <<<"$listed"; }

failures=0 rows=0
report() { [ "$verbose" = 1 ] || [ "$1" = FAIL ] && printf '%-4s %-10s %-36s %s\n' "$1" "$2" "$3" "$4"; return 0; }
fail() { report FAIL "$@"; failures=$((failures + 1)); }

# 1. Resolve every row to a file.
resolved=()  # "kind<TAB>target<TAB>used by<TAB>path"
while read -r kind target used_by; do
  [ -n "$kind" ] || continue
  rows=$((rows + 1))
  if ! path=$(resolve "$kind" "$target"); then
    fail "$kind" "$target" "NOT INSTALLED: $path (used by: $used_by)"; continue
  fi
  resolved+=("$kind"$'\t'"$target"$'\t'"$used_by"$'\t'"$path")
done <<<"$table$extra_rows"

# 2. One dpkg -S for all of them (one call per file takes seconds): path -> package.
declare -A owner_of
all_candidates=()
for row in "${resolved[@]}"; do
  mapfile -t -O "${#all_candidates[@]}" all_candidates < <(candidates "${row##*$'\t'}")
done
while IFS= read -r line; do
  [[ "$line" == "diversion by"* ]] && continue
  package=${line%%: /*} file=${line#*: }   # "pkg:arch: /path"
  [[ "$package" == *,* ]] && continue      # directories shared by several packages
  owner_of[$file]=${package%%:*}           # without the architecture
done < <([ ${#all_candidates[@]} -eq 0 ] || dpkg -S "${all_candidates[@]}" 2>/dev/null)

# 3. Each file: pyenv's (the exception), else its owner must be listed.
for row in "${resolved[@]}"; do
  IFS=$'\t' read -r kind target used_by path <<<"$row"
  if [ "$kind" = pyenv ] || [[ "$path" == "$pyenv_root"/* ]]; then
    oldest='(3, 0)'
    [ "$kind" = pyenv ] && oldest='(3, 12)'  # the python layer embeds >= 3.12
    if "$path" -c "import sys; sys.exit(sys.version_info < $oldest)" >/dev/null 2>&1; then
      report ok "$kind" "$target" "$path: pyenv's CPython, the documented exception"
    else
      fail "$kind" "$target" "$path does not run or is older than $oldest (used by: $used_by)"
    fi
    continue
  fi
  package=""
  while read -r c; do
    [ -n "${owner_of[$c]:-}" ] && { package=${owner_of[$c]}; break; }
  done < <(candidates "$path")
  if [ -z "$package" ]; then
    fail "$kind" "$target" "$path is not owned by any Debian package (installed by hand?); used by: $used_by"
  elif ! is_listed "$package"; then
    fail "$kind" "$target" "$path is in package $package, MISSING from scripts/install-deps.sh (used by: $used_by)"
  else
    report ok "$kind" "$target" "$path ($package)"
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "check-deps: $failures of $rows dependencies failed (see above): install them with scripts/install-deps.sh," \
       "or add the owning package to its list" >&2
  exit 1
fi
echo "check-deps: $rows dependencies, each owned by a package in scripts/install-deps.sh (pyenv's CPython excepted)"
