// bench/task_bench.cpp — cost of one level of a deep chain of awaited tasks.
//
// Each benchmark iteration builds a chain of `kDepth` coroutines (level n
// creates and awaits level n-1, level 0 returns 0), runs it to completion and
// destroys every frame. Reported per level:
//   per_level         CPU time of one iteration / kDepth, in seconds (the
//                     console shows it with an SI prefix, e.g. "9.8ns")
//   allocs_per_level  calls into the global operator new during the timed
//                     loop / (iterations * kDepth)
//
// Variants: fastrt::coro_task<int> and, when asio is available,
// asio::awaitable<int> spawned on an asio::io_context. main() prints the
// asio / fastrt ratio of the medians.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>

#include "alloc_counter.hpp"
#include "fastrt/task.hpp"
#include "summary_reporter.hpp"

#if defined(FASTRT_HAVE_ASIO)
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#endif

namespace {

constexpr int kDepth = 1000;

// Reports per_level and allocs_per_level for a loop that ran
// state.iterations() chains of kDepth levels.
void report_per_level(benchmark::State& state, std::uint64_t allocations) {
  // kIsIterationInvariantRate | kInvert: time / (value * iterations), i.e.
  // seconds per level.
  state.counters["per_level"] = benchmark::Counter(
      kDepth, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_level"] = benchmark::Counter(
      static_cast<double>(allocations) / kDepth, benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations() * kDepth);
}

// --- fastrt -----------------------------------------------------------------

fastrt::coro_task<int> fastrt_level(int n) {
  if (n == 0) co_return 0;
  co_return co_await fastrt_level(n - 1) + 1;
}

// Runs a whole chain on this thread. The top task has no continuation, so
// its final suspend hands control straight back here.
int run_fastrt_chain(int depth) {
  fastrt::coro_task<int> top = fastrt_level(depth - 1);
  top.handle().resume();
  if (!top.done()) fastrt::detail::fatal("chain did not complete synchronously");
  return top.handle().promise().take();
}

void BM_fastrt_coro_task_chain(benchmark::State& state) {
  int depth = kDepth;
  benchmark::DoNotOptimize(depth);
  // Warm up: fills this thread's frame free lists.
  if (run_fastrt_chain(depth) != depth - 1) state.SkipWithError("wrong result");
  const std::uint64_t before = fastrt_bench::allocations();
  for (auto _ : state) {
    int v = run_fastrt_chain(depth);
    benchmark::DoNotOptimize(v);
  }
  const std::uint64_t allocations = fastrt_bench::allocations() - before;
  report_per_level(state, allocations);
}
BENCHMARK(BM_fastrt_coro_task_chain);

// --- asio -------------------------------------------------------------------

#if defined(FASTRT_HAVE_ASIO)
asio::awaitable<int> asio_level(int n) {
  if (n == 0) co_return 0;
  co_return co_await asio_level(n - 1) + 1;
}

int run_asio_chain(asio::io_context& ctx, int depth) {
  int value = -1;
  asio::co_spawn(ctx, asio_level(depth - 1), [&value](std::exception_ptr e, int v) {
    if (e) std::rethrow_exception(e);
    value = v;
  });
  ctx.run();
  ctx.restart();
  return value;
}

void BM_asio_awaitable_chain(benchmark::State& state) {
  int depth = kDepth;
  benchmark::DoNotOptimize(depth);
  asio::io_context ctx(1);
  // Warm up: asio's thread-local recycling caches and the scheduler.
  if (run_asio_chain(ctx, depth) != depth - 1) state.SkipWithError("wrong result");
  const std::uint64_t before = fastrt_bench::allocations();
  for (auto _ : state) {
    int v = run_asio_chain(ctx, depth);
    benchmark::DoNotOptimize(v);
  }
  const std::uint64_t allocations = fastrt_bench::allocations() - before;
  report_per_level(state, allocations);
}
BENCHMARK(BM_asio_awaitable_chain);
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  fastrt_bench::summary_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const auto fastrt_ns = reporter.value("BM_fastrt_coro_task_chain", "per_level", 1e9);
  const auto fastrt_allocs = reporter.value("BM_fastrt_coro_task_chain", "allocs_per_level");
  std::printf("\nsummary (median over repetitions), chain depth %d\n", kDepth);
  if (fastrt_ns) {
    std::printf("  fastrt::coro_task<int>  %8.2f ns/level  %.4f allocs/level  (target <= 10 ns, 0 allocs: %s)\n",
                *fastrt_ns, fastrt_allocs.value_or(-1),
                (*fastrt_ns <= 10.0 && fastrt_allocs.value_or(1) == 0.0) ? "met" : "MISSED");
  }
#if defined(FASTRT_HAVE_ASIO)
  const auto asio_ns = reporter.value("BM_asio_awaitable_chain", "per_level", 1e9);
  const auto asio_allocs = reporter.value("BM_asio_awaitable_chain", "allocs_per_level");
  if (asio_ns) {
    std::printf("  asio::awaitable<int>    %8.2f ns/level  %.4f allocs/level\n", *asio_ns,
                asio_allocs.value_or(-1));
  }
  if (fastrt_ns && asio_ns) {
    const double ratio = *asio_ns / *fastrt_ns;
    std::printf("  asio / fastrt           %8.2fx  (target >= 3x: %s)\n", ratio, ratio >= 3.0 ? "met" : "MISSED");
  }
#else
  std::printf("  (asio not found at configure time: no asio comparison)\n");
#endif
  return 0;
}
