#!/usr/bin/env bash
# Which CPython cmake/FastrtPython.cmake embeds, in made-up environments (an
# empty HOME, a pyenv root of symlinks, a PATH of one python3.12): with
# FASTRT_PYTHON_MINOR=3.12 it finds a 3.12 in $PYENV_ROOT, ~/.pyenv or on
# PATH and fails with a message naming where it looked when there is none;
# without it, the newest >= 3.12 wins. The py312 preset asks for 3.12 by
# series, without a machine path. Each case configures a small project that
# only runs fastrt_find_python() (no compiler): about a second.
# Usage: python_series_test.sh   (exit 77: no pyenv CPython 3.12 and 3.13 to
# build the made-up environments from)
set -uo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
source "$source_dir/tests/http2/common.sh"  # check
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The real interpreters the made-up environments point at.
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
real312=$(compgen -G "$pyenv_root/versions/3.12*" | sort -V | tail -1)
real313=$(compgen -G "$pyenv_root/versions/3.13*" | sort -V | tail -1)
if [ ! -x "$real312/bin/python3.12" ] || [ ! -x "$real313/bin/python3.13" ]; then
  echo "skipped: no pyenv CPython 3.12 and 3.13 under $pyenv_root"; exit 77
fi

mkdir -p "$work/project"
cat >"$work/project/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(python_series NONE)
include("$source_dir/cmake/FastrtPython.cmake")
fastrt_find_python()
message(STATUS "embeds: \${FASTRT_PYTHON_VERSION} \${FASTRT_PYTHON_EXECUTABLE}")
EOF

# configure NAME ENV... -- CMAKE-ARGS...: the configure's output in $work/NAME.out, its status returned.
configure() {
  local name=$1; shift
  local env_args=()
  while [ "$1" != -- ]; do env_args+=("$1"); shift; done
  shift
  rm -rf "$work/build"
  env -i "${env_args[@]}" "$(type -P cmake)" -S "$work/project" -B "$work/build" "$@" >"$work/$name.out" 2>&1
}
embeds() { grep -E "^-- embeds: $2" "$work/$1.out" >/dev/null; }

# A pyenv root of symlinks to the real 3.12 and 3.13; ~/.pyenv of another HOME; a PATH with python3.12.
mkdir -p "$work/pyenv/versions" "$work/home/.pyenv" "$work/bin"
ln -s "$real312" "$work/pyenv/versions/$(basename "$real312")"
ln -s "$real313" "$work/pyenv/versions/$(basename "$real313")"
ln -s "$work/pyenv/versions" "$work/home/.pyenv/versions"
ln -s "$real312/bin/python3.12" "$work/bin/python3.12"
plain_path=PATH=/usr/bin:/bin  # no pyenv, no shims

configure pyenv_root HOME=/nonexistent PYENV_ROOT="$work/pyenv" "$plain_path" -- -DFASTRT_PYTHON_MINOR=3.12
check "FASTRT_PYTHON_MINOR=3.12: found in \$PYENV_ROOT" embeds pyenv_root "3\\.12\\.[0-9]+ $work/pyenv/versions/"
configure home HOME="$work/home" "$plain_path" -- -DFASTRT_PYTHON_MINOR=3.12
check "FASTRT_PYTHON_MINOR=3.12: found in ~/.pyenv" embeds home "3\\.12\\.[0-9]+ $work/home/.pyenv/versions/"
configure on_path HOME=/nonexistent PATH="$work/bin:/usr/bin:/bin" -- -DFASTRT_PYTHON_MINOR=3.12
check "FASTRT_PYTHON_MINOR=3.12: python3.12 on PATH" embeds on_path "3\\.12\\.[0-9]+ "
configure none HOME=/nonexistent "$plain_path" -- -DFASTRT_PYTHON_MINOR=3.12
status=$?
check "FASTRT_PYTHON_MINOR=3.12 and none to be found: configure fails" test "$status" -ne 0
said=$(tr -s ' \n' '  ' <"$work/none.out")  # cmake wraps the message
check "... saying which series and where it looked" \
  grep -q "FASTRT_PYTHON_MINOR=3.12: no CPython 3.12 with a shared libpython found (looked for pyenv's" <<<"$said"
configure bad HOME="$work/home" "$plain_path" -- -DFASTRT_PYTHON_MINOR=3.11
check "FASTRT_PYTHON_MINOR=3.11 (too old): configure fails" test $? -ne 0
configure explicit HOME=/nonexistent "$plain_path" -- -DFASTRT_PYTHON_MINOR=3.12 -DFASTRT_PYTHON="$real312/bin/python3.12"
check "FASTRT_PYTHON_MINOR=3.12 with an explicit FASTRT_PYTHON 3.12 (a build tree of the old preset)" \
  embeds explicit "3\\.12\\.[0-9]+ "
configure mismatch HOME=/nonexistent "$plain_path" -- -DFASTRT_PYTHON_MINOR=3.12 -DFASTRT_PYTHON="$real313/bin/python3.13"
check "FASTRT_PYTHON_MINOR=3.12 with an explicit FASTRT_PYTHON 3.13: configure fails" test $? -ne 0
configure newest HOME=/nonexistent PYENV_ROOT="$work/pyenv" "$plain_path" --
check "no FASTRT_PYTHON_MINOR: the newest >= 3.12 (3.13)" embeds newest "3\\.13\\.[0-9]+ "

# The py312 preset asks for the series, with no path of this machine in it.
/usr/bin/python3 - "$source_dir/CMakePresets.json" >"$work/preset.out" 2>&1 <<'EOF'
import json, sys
presets = {p["name"]: p for p in json.load(open(sys.argv[1]))["configurePresets"]}
variables = presets["py312"]["cacheVariables"]
assert variables.get("FASTRT_PYTHON_MINOR") == "3.12", variables
paths = [k for k, v in variables.items() if str(v).startswith("/")]
assert not paths and "FASTRT_PYTHON" not in variables, f"machine paths in py312: {variables}"
EOF
check "the py312 preset sets FASTRT_PYTHON_MINOR=3.12 and no path" test $? -eq 0

if [ "$failures" -ne 0 ]; then
  for f in "$work"/*.out; do echo "--- $(basename "$f")"; cat "$f"; done
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
