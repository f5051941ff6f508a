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
// Variants:
//   fastrt   fastrt::coro_task<int>
//   minimal  a hand-written lazy task (bench only): symmetric transfer, a bare
//            thread-local free list, no stop token, no checks. It is the floor
//            of the same design under the same compiler, not a peer.
//   asio     asio::awaitable<int> spawned on an asio::io_context (when found)
// main() prints one "summary <variant> <ns/level> <allocs/level>" line per
// variant (medians over repetitions) and the asio / fastrt ratio.
//
// `task_bench --chains=N --variant=V` skips Google Benchmark and just runs N
// chains of variant V: bench/run_task_bench.sh runs it under callgrind twice
// (two N) and divides the difference in instructions by the extra levels.
#include <benchmark/benchmark.h>

#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "alloc_counter.hpp"
#include "fastrt/task.hpp"
#include "summary_reporter.hpp"

#if defined(FASTRT_HAVE_ASIO)
// asio 1.22 recognises clang's coroutines only through <experimental/coroutine>
// (gone in clang 19); clang 19 implements the standard ones that asio uses
// with g++, so say so.
#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#endif
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

// The timed loop shared by every variant: one warm-up chain (fills free lists
// and caches), then state.iterations() chains, counting global allocations.
template <class RunChain>
void measure_chains(benchmark::State& state, RunChain run_chain) {
  int depth = kDepth;
  benchmark::DoNotOptimize(depth);
  if (run_chain(depth) != depth - 1) state.SkipWithError("wrong result");
  const std::uint64_t before = fastrt_bench::allocations();
  for (auto _ : state) {
    int v = run_chain(depth);
    benchmark::DoNotOptimize(v);
  }
  report_per_level(state, fastrt_bench::allocations() - before);
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

void BM_fastrt_coro_task_chain(benchmark::State& state) { measure_chains(state, run_fastrt_chain); }
BENCHMARK(BM_fastrt_coro_task_chain);

// --- minimal: the floor of a lazy heap-framed task ----------------------------

// One size class of 256 bytes, never returned to the system (a bench may leak
// at exit); frames that do not fit abort.
struct minimal_block {
  minimal_block* next;
};
constexpr std::size_t kMinimalBlock = 256;
thread_local constinit minimal_block* minimal_free_list = nullptr;

class minimal_task {
 public:
  struct promise_type {
    static void* operator new(std::size_t size) {
      if (size > kMinimalBlock) std::abort();
      if (minimal_block* block = minimal_free_list) {
        minimal_free_list = block->next;
        return block;
      }
      return ::operator new(kMinimalBlock);
    }
    static void operator delete(void* ptr) noexcept {
      auto* block = static_cast<minimal_block*>(ptr);
      block->next = minimal_free_list;
      minimal_free_list = block;
    }

    minimal_task get_return_object() noexcept {
      return minimal_task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        return self.promise().continuation;
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_value(int v) noexcept { value = v; }
    void unhandled_exception() noexcept { std::abort(); }

    std::coroutine_handle<> continuation;
    int value = 0;
  };

  explicit minimal_task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  minimal_task(const minimal_task&) = delete;
  minimal_task& operator=(const minimal_task&) = delete;
  ~minimal_task() { handle_.destroy(); }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
    handle_.promise().continuation = caller;
    return handle_;
  }
  int await_resume() const noexcept { return handle_.promise().value; }

  std::coroutine_handle<promise_type> handle() const noexcept { return handle_; }

 private:
  std::coroutine_handle<promise_type> handle_;
};

minimal_task minimal_level(int n) {
  if (n == 0) co_return 0;
  co_return co_await minimal_level(n - 1) + 1;
}

int run_minimal_chain(int depth) {
  minimal_task top = minimal_level(depth - 1);
  top.handle().promise().continuation = std::noop_coroutine();
  top.handle().resume();
  if (!top.handle().done()) std::abort();
  return top.handle().promise().value;
}

void BM_minimal_task_chain(benchmark::State& state) { measure_chains(state, run_minimal_chain); }
BENCHMARK(BM_minimal_task_chain);

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
  asio::io_context ctx(1);
  measure_chains(state, [&ctx](int depth) { return run_asio_chain(ctx, depth); });
}
BENCHMARK(BM_asio_awaitable_chain);
#endif

// --- --chains mode (for callgrind) --------------------------------------------

// Runs `chains` chains of `variant` outside Google Benchmark. Returns the exit
// status: 0, or 2 for an unknown variant.
int run_chains_only(std::string_view variant, long chains) {
  long sum = 0;
  if (variant == "fastrt") {
    for (long i = 0; i < chains; ++i) sum += run_fastrt_chain(kDepth);
  } else if (variant == "minimal") {
    for (long i = 0; i < chains; ++i) sum += run_minimal_chain(kDepth);
#if defined(FASTRT_HAVE_ASIO)
  } else if (variant == "asio") {
    asio::io_context ctx(1);
    for (long i = 0; i < chains; ++i) sum += run_asio_chain(ctx, kDepth);
#endif
  } else {
    std::fprintf(stderr, "task_bench: unknown --variant=%.*s\n", static_cast<int>(variant.size()),
                 variant.data());
    return 2;
  }
  if (sum != chains * (kDepth - 1)) fastrt::detail::fatal("wrong chain result");
  return 0;
}

void print_summary(const fastrt_bench::summary_reporter& reporter, const char* variant,
                   const char* benchmark) {
  const auto ns = reporter.value(benchmark, "per_level", 1e9);
  const auto allocs = reporter.value(benchmark, "allocs_per_level");
  if (ns) std::printf("summary %-8s %8.2f ns/level  %.4f allocs/level\n", variant, *ns, allocs.value_or(-1));
}

}  // namespace

int main(int argc, char** argv) {
  long chains = -1;
  std::string_view variant = "fastrt";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--chains=")) chains = std::strtol(argv[i] + 9, nullptr, 10);
    if (arg.starts_with("--variant=")) variant = arg.substr(10);
  }
  if (chains >= 0) return run_chains_only(variant, chains);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  fastrt_bench::summary_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\nsummary (median over repetitions), chain depth %d\n", kDepth);
  print_summary(reporter, "fastrt", "BM_fastrt_coro_task_chain");
  print_summary(reporter, "minimal", "BM_minimal_task_chain");
#if defined(FASTRT_HAVE_ASIO)
  print_summary(reporter, "asio", "BM_asio_awaitable_chain");
  const auto fastrt_ns = reporter.value("BM_fastrt_coro_task_chain", "per_level", 1e9);
  const auto asio_ns = reporter.value("BM_asio_awaitable_chain", "per_level", 1e9);
  if (fastrt_ns && asio_ns) {
    const double ratio = *asio_ns / *fastrt_ns;
    std::printf("asio / fastrt %.2fx (target >= 3x: %s), fastrt <= 10 ns: %s\n", ratio,
                ratio >= 3.0 ? "met" : "MISSED", *fastrt_ns <= 10.0 ? "met" : "MISSED");
  }
#else
  std::printf("(asio not found at configure time: no asio comparison)\n");
#endif
  return 0;
}
