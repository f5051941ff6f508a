#!/usr/bin/env bash
# fastrt-h2's command line, read from its own --help: every flag listed there
# is accepted, every default shown there is a value the flag accepts and the
# one the server really uses, and a bad command line is one line on stderr
# and exit 2. Usage: cli_test.sh path/to/fastrt-h2
#
# --help rows read "  --name PLACEHOLDER   help (default VALUE[ = N UNIT][: note])"
# (a switch or a command has no placeholder; a text without default no
# "(default"). Two servers start: one with no flags but --port (the defaults
# it uses are compared with the ones --help shows), one with every flag
# given, at the default --help shows.
set -uo pipefail
server_bin=$1
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/common.sh"

# --- --help, --version ----------------------------------------------------------
timeout 10 "$server_bin" --help >"$work/help.out" 2>"$work/help.err"
check "--help exits 0" test $? -eq 0
check "--help: nothing on stderr" test ! -s "$work/help.err"
check "-h is --help" bash -c "timeout 10 '$server_bin' -h | cmp -s - '$work/help.out'"
timeout 10 "$server_bin" --version >"$work/version.out" 2>&1
check "--version exits 0 with one line" test $? -eq 0 -a "$(wc -l <"$work/version.out")" -eq 1

# One line per flag: its continuation lines (indented past the names) joined.
awk '/^  -/ { if (row) print row; row = $0; next }
     /^      / && row { sub(/^ +/, " "); row = row $0; next }
     { if (row) print row; row = "" }
     END { if (row) print row }' "$work/help.out" >"$work/rows"
declare -A placeholder shown
names=()
while IFS= read -r row; do
  read -r first second _ <<<"$row"
  if [ "$first" = "-h," ]; then name=$second; else name=$first; fi
  names+=("$name")
  # A placeholder is the upper-case word right after the names.
  if [[ "$row" =~ ^\ \ (-h,\ )?--[a-z0-9-]+\ ([A-Z][A-Z:]*)\  ]]; then placeholder[$name]=${BASH_REMATCH[2]}; fi
  if [[ "$row" =~ \(default\ ([^\ \)]+)(\ =\ [0-9]+\ [KMGT]iB)?(\)|:\ ) ]]; then
    shown[$name]=${BASH_REMATCH[1]}
  elif [[ "$row" == *"(default"* ]]; then
    shown[$name]=UNREADABLE  # "(default 1 GiB)": not a value the flag takes
  fi
done <"$work/rows"
check "--help lists the flags (${#names[@]})" test "${#names[@]}" -ge 25
value_flags=()
for name in "${names[@]}"; do [ -n "${placeholder[$name]:-}" ] && value_flags+=("$name"); done
# Only a text whose default is empty shows none; every other value flag shows its default.
for name in "${value_flags[@]}"; do
  case "$name" in --app-dir|--access-log|--python-path|--health-path|--tls-cert|--tls-key) continue ;; esac  # empty text or list: no default
  check "--help shows $name's default as a value ('${shown[$name]:-none}')" \
    bash -c "[ -n '${shown[$name]:-}' ] && [ '${shown[$name]:-}' != UNREADABLE ]"
done

# README's synopsis of fastrt-h2 names every flag (the defaults it leaves to --help).
readme=$(dirname "$0")/../../README.md
synopsis=$(sed -n '/^    build\/release\/examples\/http2_server\/fastrt-h2 \[/,/^$/p' "$readme")
for name in "${names[@]}"; do
  check "README's synopsis names $name" grep -qF -- "$name" <<<"$synopsis"
done

# --- bad command lines: one line on stderr naming the problem, exit 2 --------------
bad() {  # bad NAME EXPECTED-TEXT ARGS...
  local name=$1 expected=$2; shift 2
  timeout 10 "$server_bin" "$@" >"$work/bad.out" 2>"$work/bad.err"
  local status=$?
  check "$name: exit 2 (got $status), one line on stderr, nothing on stdout" \
    test "$status" -eq 2 -a "$(wc -l <"$work/bad.err")" -eq 1 -a ! -s "$work/bad.out"
  check "$name: says '$expected'" grep -qF -- "$expected" "$work/bad.err"
}
bad "unknown flag" "unknown option --no-such-flag" --no-such-flag
bad "unknown flag before others" "unknown option --no-such-flag" --no-such-flag --port 1
bad "a bare word" "unexpected argument serve" serve
bad "a switch given a value" "unexpected argument yes" --reuse-port yes
bad "no Python workers" "no Python workers" --pinned 0
bad "--tls-cert alone" "--tls-cert and --tls-key go together" --tls-cert /dev/null
bad "an unreadable TLS certificate" "TLS certificate /nonexistent.pem" --tls-cert /nonexistent.pem --tls-key /nonexistent.key
for name in "${value_flags[@]}"; do
  bad "$name without its value" "$name needs a value" "$name"
  case "${placeholder[$name]}" in
    N|K|P|BYTES|SECONDS|MODULE:FUNCTION) ;;
    *) continue ;;  # DIR, ADDR, FILE: any text
  esac
  bad "$name x" "$name needs" "$name" x
  # A number's range, from its error, holds its default.
  if [[ "$(cat "$work/bad.err")" =~ \[([0-9]+),\ ([0-9]+)\] ]]; then
    low=${BASH_REMATCH[1]} high=${BASH_REMATCH[2]} default=${shown[$name]:-}
    check "$name's default '$default' is in its range [$low, $high]" \
      bash -c "[[ '$default' =~ ^[0-9]+$ ]] && [ '$default' -ge '$low' ] && [ '$default' -le '$high' ]"
  fi
done
bad "--port 65536" "--port needs a number in [0, 65535]" --port 65536
bad "--handler-timeout 86401" "--handler-timeout needs seconds in [0, 86400]" --handler-timeout 86401

# --- the defaults --help shows are the ones the server uses ----------------------
start() {  # start OUT ARGS...: starts fastrt-h2 with ARGS, waits for its serving line
  local out=$1; shift
  "$server_bin" "$@" >"$work/$out.out" 2>"$work/$out.err" &
  pids+=($!)
  wait_serving "$!" "$work/$out.out"
}
port=$(free_port)
url=http://127.0.0.1:$port
if ! start defaults --port "$port"; then
  echo "FAIL the server with default flags did not start"; cat "$work/defaults.out" "$work/defaults.err"; exit 1
fi
serving=$(cat "$work/defaults.out")
check "serving line: --host and --app defaults" grep -qF "serving ${shown[--app]} on http://${shown[--host]}:$port " <<<"$serving"
check "serving line: --io-threads default ${shown[--io-threads]}" grep -qF "with ${shown[--io-threads]} io thread(s)" <<<"$serving"
check "serving line: --pinned, --pooled-workers, --pooled-interpreters, --main-workers defaults" grep -qF \
  "Python workers: ${shown[--pinned]} pinned, ${shown[--pooled-workers]} pooled over ${shown[--pooled-interpreters]} interpreter(s), ${shown[--main-workers]} main" <<<"$serving"
nghttp -t 20 -v "$url/" >"$work/nghttp.out" 2>&1
check "nghttp: SETTINGS_MAX_CONCURRENT_STREAMS is --help's default ${shown[--max-concurrent-streams]}" \
  grep -qF "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):${shown[--max-concurrent-streams]}" "$work/nghttp.out"
limit=${shown[--max-body-size]}
head -c "$limit" /dev/zero >"$work/at_limit"
head -c $((limit + 1)) /dev/zero >"$work/over_limit"
out=$(curl_h2 -o /dev/null -w '%{http_code}' --data-binary @"$work/at_limit" "$url/echo")
check "a body of --help's --max-body-size default ($limit) is taken ($out)" test "$out" = 200
out=$(curl_h2 -o /dev/null -w '%{http_code}' --data-binary @"$work/over_limit" "$url/echo")
check "one byte more gets 413 ($out)" test "$out" = 413
kill -INT "${pids[0]}"; wait "${pids[0]}"
check "SIGINT: the defaults server exits 0" test $? -eq 0
check "its shutdown line names --help's --shutdown-timeout default (${shown[--shutdown-timeout]} s)" \
  grep -qF "up to --shutdown-timeout ${shown[--shutdown-timeout]} s" "$work/defaults.err"

# --- every flag --help lists is accepted, with the default it shows ----------------
port=$(free_port)
args=()
for name in "${names[@]}"; do
  case "$name" in
    --help|--version) ;;                          # commands: print and exit
    --port) args+=(--port "$port") ;;
    --app-dir) args+=(--app-dir "$work") ;;
    --access-log) args+=(--access-log "$work/access.log") ;;
    *) if [ -n "${placeholder[$name]:-}" ]; then args+=("$name" "${shown[$name]:-}"); else args+=("$name"); fi ;;
  esac
done
echo "     every flag: ${args[*]}"
if start all "${args[@]}"; then
  check "every flag at its shown default: serves" true
  out=$(curl_h2 -w ' %{http_code}' "http://127.0.0.1:$port/cpp/hello")
  check "--cpp-demo-routes (a switch among valued flags) took effect" test "$out" = "Hello from fastrt-h2 (C++)
 200"
  check "--access-log FILE took effect" grep -q "/cpp/hello" "$work/access.log"
else
  check "every flag at its shown default: serves" false
  cat "$work/all.out" "$work/all.err"
fi

if [ "$failures" -ne 0 ]; then
  echo "--- fastrt-h2 --help"; cat "$work/help.out"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
