#!/usr/bin/env bash
# Runs a libFuzzer target (h2_connection_fuzzer, http1_parser_fuzzer) for ctest (tests/fuzz/CMakeLists.txt):
#   run_fuzzer.sh once FUZZER SEEDS REGRESSIONS
#       every seed once, every saved regression input 50 times (some
#       findings depend on timing: a timer against the next chunk)
#   run_fuzzer.sh fuzz FUZZER SEEDS WORKDIR SECONDS DICT [SEED]
#       fuzzes for SECONDS from a fresh copy of SEEDS in WORKDIR/corpus
#       (libFuzzer's -seed: 0 or none, a new one each run);
#       a crash, leak, UB report or timeout leaves its input in
#       WORKDIR/artifacts/ (copy it to tests/fuzz/regressions/)
# The exit status is libFuzzer's: non-zero on any finding.
set -euo pipefail
mode=$1 fuzzer=$2 seeds=$3
[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || { echo "run_fuzzer.sh: no seeds in $seeds (build the target)" >&2; exit 1; }
case $mode in
  once)
    shopt -s nullglob
    regressions=()
    for f in "$4"/*; do [[ $f == *.md ]] || regressions+=("$f"); done  # (README.md says what each input is)
    # (The server's log lines, e.g. "closing a connection", are expected.)
    "$fuzzer" -timeout=10 "$seeds"/*
    [ ${#regressions[@]} -eq 0 ] || "$fuzzer" -timeout=10 -runs=50 "${regressions[@]}"
    ;;
  fuzz)
    work=$4 seconds=$5 dict=$6 seed=${7:-0}
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$seeds"/* "$work/corpus/"
    # -close_fd_mask=2: the server's log lines would drown libFuzzer's (the
    # sanitizers' reports still come through). -timeout: an input normally
    # takes milliseconds; 10 s means the connection hung.
    exec "$fuzzer" -seed="$seed" -max_total_time="$seconds" -timeout=10 -max_len=16384 -dict="$dict" -close_fd_mask=2 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus"
    ;;
  *) echo "usage: run_fuzzer.sh once|fuzz ..." >&2; exit 2 ;;
esac
