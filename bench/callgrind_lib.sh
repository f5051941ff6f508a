# shellcheck shell=bash
# callgrind_lib.sh — sourced by the scripts that count a server's instructions per request with
# callgrind (bench/http2/callgrind_per_request.sh, bench/python_apps/callgrind_per_request.sh).
# Callgrind counts instructions, not time, so the other sessions on this machine do not move the
# numbers. A server runs under `valgrind --tool=callgrind --fair-sched=yes --instr-atstart=no`
# (without fair scheduling a thread that spins starves the others), is warmed up, and only the
# measured h2load run is instrumented (`callgrind_control -i on` ... `-d`).
#
#   callgrind_start TAG DIR NAME PORT PATH CMD...
#                                 start CMD under callgrind, dumps to
#                                 DIR/NAME.<pid>, log in DIR/NAME.log; wait until
#                                 http://127.0.0.1:PORT/PATH answers over h2c (at most 120 s);
#                                 sets cg_pid (valgrind's pid runs the server itself)
#   callgrind_load TAG DIR NAME URL N WARMUP [H2LOAD ARGS...]
#                                 WARMUP requests, instrumentation on, N requests (h2load output
#                                 in DIR/NAME.h2load; a warning when some failed), dump,
#                                 instrumentation off
#   callgrind_stop                SIGKILL cg_pid (valgrind may sit out a SIGTERM) and wait for it
#   callgrind_per_request DIR NAME N   prints the instructions in all of NAME's dumps / N
#   thousands N                   prints N with thousands separators (whatever the locale)
#   callgrind_calls DIR NAME N REGEX   prints the calls made (all dumps of NAME) to the functions
#                                 whose whole name matches REGEX, / N (e.g. sends per request)
#
# TAG prefixes the messages (the calling script's name). Needs valgrind, h2load and curl.

callgrind_start() {
  local tag="$1" dir="$2" name="$3" port="$4" path="$5"; shift 5
  valgrind --tool=callgrind --fair-sched=yes --instr-atstart=no --callgrind-out-file="$dir/$name.%p" "$@" \
    > "$dir/$name.log" 2>&1 &
  cg_pid=$!
  for _ in $(seq 600); do
    # (kill -0 also succeeds on a zombie: an exited server nobody waited for yet)
    { kill -0 "$cg_pid" && ! grep -q '^State:.*Z' "/proc/$cg_pid/status"; } 2>/dev/null || break
    if curl -s -m 5 -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port$path"; then return 0; fi
    sleep 0.2
  done
  echo "$tag: $name did not start:" >&2; tail -20 "$dir/$name.log" >&2
  return 1
}

callgrind_load() {
  local tag="$1" dir="$2" name="$3" url="$4" n="$5" warmup="$6"; shift 6
  local args=("$@")
  [ ${#args[@]} -gt 0 ] || args=(-c 10 -m 10)
  h2load -n "$warmup" "${args[@]}" "$url" > /dev/null 2>&1
  timeout 60 callgrind_control -i on "$cg_pid" > /dev/null 2>&1
  h2load -n "$n" "${args[@]}" "$url" > "$dir/$name.h2load" 2>&1
  grep -q " 0 failed, 0 errored, 0 timeout" "$dir/$name.h2load" || {
    echo "$tag: $name: some requests failed (counted anyway):" >&2; grep requests: "$dir/$name.h2load" >&2; }
  timeout 300 callgrind_control -d "$cg_pid" > /dev/null 2>&1
  timeout 60 callgrind_control -i off "$cg_pid" > /dev/null 2>&1
}

callgrind_stop() {
  [ -n "${cg_pid:-}" ] || return 0
  kill -KILL "$cg_pid" 2>/dev/null || true
  wait "$cg_pid" 2>/dev/null || true
  cg_pid=""
}

callgrind_per_request() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import glob, re, sys
out, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
total = 0
for f in glob.glob(f"{out}/{name}.*"):
    if f.endswith((".log", ".h2load")):
        continue
    for line in open(f, errors="replace"):
        m = re.match(r"summary: (\d+)", line) or re.match(r"totals: (\d+)", line)
        if m:
            total += int(m.group(1))
            break
print(f"{total / n:.0f}")
PY
}

callgrind_calls() {
  /usr/bin/python3 - "$1" "$2" "$3" "$4" <<'PY'
import glob, re, sys
out, name, n, pattern = sys.argv[1], sys.argv[2], int(sys.argv[3]), re.compile(sys.argv[4])
total = 0
for f in glob.glob(f"{out}/{name}.*"):
    if f.endswith((".log", ".h2load")):
        continue
    names, target = {}, None  # callgrind compresses names: "(id) name" once, "(id)" after
    for line in open(f, errors="replace"):
        m = re.match(r"cfn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            if m.group(2):
                names[m.group(1)] = m.group(2)
            target = m.group(1)
            continue
        m = re.match(r"fn=\((\d+)\) (.*)$", line.rstrip("\n"))
        if m:
            names[m.group(1)] = m.group(2)
            continue
        m = re.match(r"calls=(\d+)", line)
        if m and target is not None:
            if pattern.fullmatch(names.get(target, "")):
                total += int(m.group(1))
            target = None
print(f"{total / n:.3f}")
PY
}

thousands() { /usr/bin/python3 -c 'import sys; print(f"{int(sys.argv[1]):,}")' "$1"; }
