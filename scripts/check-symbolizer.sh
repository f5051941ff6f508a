#!/usr/bin/env bash
# Checks, before anything is built, that every sanitizer preset named on the
# command line can symbolize its reports: LeakSanitizer's suppressions
# (tests/lsan_python.supp) match by function name, so without a working
# symbolizer the python tests fail with "leaks" that are CPython's own.
#
#   scripts/check-symbolizer.sh [PRESET...]     (no preset: every configure preset)
#
# For each preset with FASTRT_SANITIZE set (CMakePresets.json), a tiny program
# is built with that preset's compiler and sanitizer and run with the
# symbolizer the build's tests use: the compiler's own, in its real directory
# (/usr/lib/llvm-19/bin/llvm-symbolizer for clang++-19, whatever PATH holds;
# cmake/FastrtSanitizers.cmake gives ctest the same one). It
# must name its own function in the stack trace. Exit status 1 otherwise, with
# what is wrong and the fix (scripts/install-deps.sh installs llvm-19).
set -euo pipefail
cd "$(dirname "$0")/.."

# "PRESET COMPILER SANITIZERS" for each named preset that sets FASTRT_SANITIZE
# (inherited cache variables included).
sanitized=$(/usr/bin/python3 - "$@" <<'EOF'
import json, sys
presets = {p["name"]: p for p in json.load(open("CMakePresets.json"))["configurePresets"]}
def variables(name):
    preset, merged = presets[name], {}
    inherits = preset.get("inherits", [])
    for parent in [inherits] if isinstance(inherits, str) else inherits:
        merged.update(variables(parent))
    merged.update(preset.get("cacheVariables", {}))
    return merged
names = sys.argv[1:] or [n for n, p in presets.items() if not p.get("hidden")]
for name in names:
    if name not in presets:
        sys.exit(f"check-symbolizer: no configure preset '{name}' in CMakePresets.json")
    v = variables(name)
    if v.get("FASTRT_SANITIZE"):
        print(name, v.get("CMAKE_CXX_COMPILER", "c++"), v["FASTRT_SANITIZE"])
EOF
)
[ -n "$sanitized" ] || exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/fastrt-symbolizer.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat >"$work/probe.cpp" <<'EOF'
#include <sanitizer/common_interface_defs.h>
extern "C" __attribute__((noinline)) void fastrt_symbolizer_probe() { __sanitizer_print_stack_trace(); }
int main() { fastrt_symbolizer_probe(); }
EOF

failed=0
fail() { echo "check-symbolizer: preset $1: $2" >&2; failed=1; }
while read -r preset cxx sanitizers; do
  if ! command -v "$cxx" >/dev/null; then
    fail "$preset" "its compiler $cxx is not installed: run scripts/install-deps.sh"; continue
  fi
  symbolizer="$(dirname "$(readlink -f "$(command -v "$cxx")")")/llvm-symbolizer"
  major=$("$cxx" -dumpversion | cut -d. -f1)
  if [ ! -x "$symbolizer" ]; then
    fail "$preset" "$symbolizer is missing: without it the sanitizer runtime of $cxx (LLVM $major) cannot name functions, so the LeakSanitizer suppressions never match. Install Debian's llvm-$major (scripts/install-deps.sh does)"
    continue
  fi
  version=$("$symbolizer" --version 2>&1 | sed -n 's/.*LLVM version \([0-9]*\).*/\1/p' | head -1)
  if [ "$version" != "$major" ]; then
    fail "$preset" "$symbolizer reports LLVM version '${version:-?}', $cxx is LLVM $major"; continue
  fi
  # Only the sanitizer whose runtime symbolizes (UBSan rides on ASan's).
  flag=${sanitizers%%,*}
  if ! "$cxx" -fsanitize="$flag" -g -O0 "$work/probe.cpp" -o "$work/probe-$preset" 2>"$work/build-$preset.log"; then
    fail "$preset" "$cxx -fsanitize=$flag cannot build a probe: $(head -3 "$work/build-$preset.log")"; continue
  fi
  out=$(ASAN_SYMBOLIZER_PATH=$symbolizer TSAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer \
        LSAN_SYMBOLIZER_PATH=$symbolizer ASAN_OPTIONS=detect_leaks=0 "$work/probe-$preset" 2>&1) || true
  if ! grep -qE "(^|[[:space:]])fastrt_symbolizer_probe([[:space:]]|$)" <<<"$out"; then
    fail "$preset" "the $flag runtime of $cxx could not symbolize with $symbolizer:"
    sed 's/^/    /' <<<"$out" | head -8 >&2
  fi
done <<<"$sanitized"
[ "$failed" -eq 0 ] || exit 1
