#!/usr/bin/env bash
# Task-chain benchmark, both compilers in one run: builds task_bench with g++-12 (the release preset,
# build/release) and with clang++-19 against the same libstdc++ (build/task-bench-clang: Release, no
# tests, no examples), runs the two binaries interleaved, then counts instructions per level under
# callgrind. Prints progress on stderr and a markdown table on stdout.
#
# usage: bench/run_task_bench.sh [--rounds R] [--reps N] [--no-build] [--no-callgrind]
#   --rounds R       alternate g++ / clang R times (default 3)
#   --reps N         Google Benchmark repetitions per binary per round (default 3); the table gives
#                    the median over all R*N repetitions, and the min..max
#   --no-build       use the binaries already built
#   --no-callgrind   skip the instruction counts
#
# Instructions per level: callgrind's total for `task_bench --chains=C2` minus the one for
# --chains=C1, divided by (C2 - C1) * 1000 levels, so start-up and warm-up cancel out.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=3
reps=3
build=1
callgrind=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-callgrind) callgrind=0; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

declare -A bin=([g++-12]="$root/build/release/bench/task_bench"
                [clang++-19]="$root/build/task-bench-clang/bench/task_bench")
compilers=(g++-12 clang++-19)
variants=(fastrt minimal asio)

if [ "$build" = 1 ]; then
  echo "building task_bench with g++-12 and clang++-19" >&2
  (cd "$root" && cmake --preset release >/dev/null &&
     nice -n 19 cmake --build build/release --target task_bench >/dev/null)
  cmake -S "$root" -B "$root/build/task-bench-clang" -G Ninja -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_BUILD_TYPE=Release -DFASTRT_BUILD_BENCH=ON -DFASTRT_BUILD_TESTS=OFF \
    -DFASTRT_BUILD_EXAMPLES=OFF >/dev/null
  nice -n 19 cmake --build "$root/build/task-bench-clang" --target task_bench >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo '+dirty')," \
     "start $(date -u +%H:%M:%S) UTC, $(uptime | sed 's/.*load/load/')" >&2

# Timed runs: g++ then clang, R times; every repetition's row goes to a CSV file (the aggregate rows
# are not used: the table takes the median over all rounds).
for ((r = 1; r <= rounds; ++r)); do
  for cc in "${compilers[@]}"; do
    echo "round $r/$rounds: $cc" >&2
    "${bin[$cc]}" --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true \
      --benchmark_out="$work/run-$cc-$r.csv" --benchmark_out_format=csv >/dev/null 2>&1
  done
done
end_load="$(uptime | sed 's/.*load/load/')"

# per_level (seconds) and allocs_per_level of every repetition: CSV columns by header name.
per_rep() {  # compiler variant -> "ns allocs" lines
  local cc="$1" variant="$2"
  local bench
  case "$variant" in
    fastrt) bench=BM_fastrt_coro_task_chain ;;
    minimal) bench=BM_minimal_task_chain ;;
    asio) bench=BM_asio_awaitable_chain ;;
  esac
  cat "$work"/run-"$cc"-*.csv | awk -F, -v b="\"$bench\"" '
    /^name,/ { for (i = 1; i <= NF; ++i) { h = $i; gsub(/"/, "", h); col[h] = i }; next }
    $1 == b { printf "%.3f %.4f\n", $col["per_level"] * 1e9, $col["allocs_per_level"] }'
}
stats() {  # [decimals] reads numbers, prints "median min max"
  sort -g | awk -v d="${1:-2}" '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.*f %.*f %.*f\n", d, m, d, v[1], d, v[NR] }'
}

instructions() {  # compiler variant -> instructions per level
  local exe="$1" variant="$2" c1=20 c2=220 i1 i2
  count() {
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$exe" --chains="$1" \
      --variant="$variant" 2>&1 >/dev/null | awk '/Collected/ { print $NF }'
  }
  i1="$(count $c1)"; i2="$(count $c2)"
  awk -v a="$i1" -v b="$i2" -v n=$(((c2 - c1) * 1000)) 'BEGIN { printf "%.1f", (b - a) / n }'
}

declare -A median lo hi allocs instr
for cc in "${compilers[@]}"; do
  for v in "${variants[@]}"; do
    read -r median[$cc,$v] lo[$cc,$v] hi[$cc,$v] < <(per_rep "$cc" "$v" | awk '{ print $1 }' | stats)
    allocs[$cc,$v]="$(per_rep "$cc" "$v" | awk '{ print $2 }' | stats 4 | awk '{ print $1 }')"
    instr[$cc,$v]="-"
    if [ "$callgrind" = 1 ] && [ "${median[$cc,$v]}" != "-" ]; then
      echo "callgrind: $cc $v" >&2
      instr[$cc,$v]="$(instructions "${bin[$cc]}" "$v")"
    fi
  done
done

echo "end $(date -u +%H:%M:%S) UTC, timed runs ended at $end_load" >&2
echo "| compiler | variant | ns / level, median ($((rounds * reps)) reps) | min..max | allocs / level | instructions / level | asio / variant |"
echo "|---|---|---|---|---|---|---|"
for cc in "${compilers[@]}"; do
  for v in "${variants[@]}"; do
    ratio="-"
    if [ "${median[$cc,asio]}" != "-" ] && [ "${median[$cc,$v]}" != "-" ]; then
      ratio="$(awk -v a="${median[$cc,asio]}" -v b="${median[$cc,$v]}" 'BEGIN { printf "%.2f×", a / b }')"
    fi
    echo "| $cc | $v | ${median[$cc,$v]} | ${lo[$cc,$v]}..${hi[$cc,$v]} | ${allocs[$cc,$v]} | ${instr[$cc,$v]} | $ratio |"
  done
done
