#!/usr/bin/env bash
# scripts/check-deps.sh must fail, naming what is wrong, whenever a program or
# library the project uses is not accounted for:
#   1. with install-deps.sh's own list it passes (the control: everything is
#      installed on a machine that ran scripts/install-deps.sh);
#   2. with that list less any one package, it fails naming that package (so
#      each listed package owns something the project uses, and a dependency
#      whose package is forgotten cannot pass);
#   3. a program that is not installed fails, naming it;
#   4. a file no Debian package owns (installed by hand) fails, naming it.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fastrt-check-deps.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
check_deps() { "$repo/scripts/check-deps.sh" "$@" >"$work/out" 2>&1; }

"$repo/scripts/install-deps.sh" --list >"$work/all"
check "install-deps.sh --list prints packages" test "$(wc -l <"$work/all")" -gt 10

check_deps --packages "$work/all"
status=$?
check "the full list passes (exit $status)" test "$status" -eq 0
[ "$status" -eq 0 ] || sed 's/^/     /' "$work/out"

while read -r package; do
  grep -vxF "$package" "$work/all" >"$work/less"
  check_deps --packages "$work/less"
  status=$?
  check "without $package: fails naming it (exit $status)" \
    bash -c "[ $status -eq 1 ] && grep -q 'in package $package, MISSING from scripts/install-deps.sh' '$work/out'"
done <"$work/all"

check_deps --packages "$work/all" --extra-row "prog fastrt-no-such-program the test"
status=$?
check "a program not installed fails, naming it (exit $status)" \
  bash -c "[ $status -eq 1 ] && grep -q 'fastrt-no-such-program.*NOT INSTALLED' '$work/out'"

touch "$work/hand-installed.h"
check_deps --packages "$work/all" --extra-row "file $work/hand-installed.h the test"
status=$?
check "a file no package owns fails, naming it (exit $status)" \
  bash -c "[ $status -eq 1 ] && grep -q 'hand-installed.h is not owned by any Debian package' '$work/out'"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
