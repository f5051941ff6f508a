#!/usr/bin/env bash
# Builds and runs the whole test suite:
#   release  g++-12 -O3: every test, the README examples, the header check
#   asan     clang-19 ASan+UBSan: every test
#   tsan     clang-19 ThreadSanitizer: every test labelled "concurrency"
#   noexcept g++-12: every header and example with -fno-exceptions -fno-rtti
#   py312    g++-12 against CPython 3.12: every test labelled "python" (the
#            other presets use the newest CPython >= 3.12 found, 3.13 here)
# Pass preset names to run a subset: scripts/test.sh release tsan
# Before building anything it installs what is missing (install-deps.sh), holds
# every program and library used to that package list (check-deps.sh), and
# checks that the sanitizer presets to run can symbolize (check-symbolizer.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release asan tsan noexcept py312)

scripts/check-deps.sh || { echo "=== fastrt: dependency check failed (above): nothing was built ===" >&2; exit 1; }
scripts/check-symbolizer.sh "${presets[@]}" ||
  { echo "=== fastrt: symbolizer check failed (above): nothing was built ===" >&2; exit 1; }

for preset in "${presets[@]}"; do
  echo "=== fastrt: $preset ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done
echo "=== fastrt: all presets passed: ${presets[*]} ==="
