// bench/future_bench.cpp — cross-thread round trip latency.
//
// Two parties, A and B, each on its own thread, pass a counter back and
// forth; one round trip is A -> B -> A. Each benchmark iteration runs
// kRoundTrips round trips and times them from A's thread (manual time), so
// thread start-up, pinning and tear-down are never timed.
//
//   BM_fastrt_future_roundtrip   A and B are coroutines, each on its own
//       1-thread fastrt::thread_pool. A message carries the value and the
//       promise for the reply; each side completes the other's promise and
//       co_awaits its own awaitable_future (which resumes it on its pool
//       through post()).
//   BM_condvar_roundtrip         two std::threads, one std::mutex, one
//       condition variable per side and a turn variable.
//
// Argument: 1 = pin A and B to different CPUs (when at least two are
// available), 0 = leave placement to the scheduler. main() prints the
// condvar / fastrt ratio of the medians.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <semaphore>
#include <thread>
#include <utility>
#include <vector>

#include "alloc_counter.hpp"
#include "fastrt/future.hpp"
#include "fastrt/sync_wait.hpp"
#include "fastrt/task.hpp"
#include "fastrt/thread_pool.hpp"
#include "summary_reporter.hpp"

namespace {

constexpr int kRoundTrips = 10000;
using clock_type = std::chrono::steady_clock;

// The CPUs this process may run on; pinning uses the first two.
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  return cpus;
}

// Pins the calling thread to `cpu` if cpu >= 0.
void pin_this_thread(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// CPUs for A and B: distinct if asked and possible, -1 (unpinned) otherwise.
std::pair<int, int> placement(bool pin) {
  const std::vector<int> cpus = allowed_cpus();
  if (!pin || cpus.size() < 2) return {-1, -1};
  return {cpus[0], cpus[1]};
}

void report_per_round_trip(benchmark::State& state, std::uint64_t allocations) {
  // Manual time / (kRoundTrips * iterations): seconds per round trip.
  state.counters["per_round_trip"] = benchmark::Counter(
      kRoundTrips, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_round_trip"] = benchmark::Counter(
      static_cast<double>(allocations) / kRoundTrips, benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations() * kRoundTrips);
}

// --- fastrt: promise / awaitable_future between two 1-thread pools --------

struct msg {
  int value;
  fastrt::promise<msg> reply;  // where the receiver sends its answer
};

// B: answers every message with value + 1 and a fresh promise for A's next
// message. Ends when its inbox promise is dropped (broken_promise).
fastrt::coro_task<void> party_b(fastrt::thread_pool& pool, int cpu, fastrt::awaitable_future<msg> inbox,
                                std::atomic<bool>& done) {
  co_await pool.schedule();
  pin_this_thread(cpu);
  for (;;) {
    fastrt::result<msg> received = co_await std::move(inbox);
    if (!received) break;
    fastrt::promise<msg> next;
    inbox = next.get_future();
    received->reply.set_value(msg{received->value + 1, std::move(next)});
  }
  done.store(true, std::memory_order_release);
}

// A's side of the conversation, kept between benchmark iterations.
struct party_a_state {
  fastrt::promise<msg> to_b;  // B's inbox
  int value = 0;
  bool pinned = false;
};

// A: runs `count` round trips on `pool` and returns how long they took.
fastrt::coro_task<clock_type::duration> party_a(fastrt::thread_pool& pool, int cpu, party_a_state& a,
                                                int count) {
  co_await pool.schedule();
  if (!a.pinned) {
    pin_this_thread(cpu);
    a.pinned = true;
  }
  const auto start = clock_type::now();
  for (int i = 0; i < count; ++i) {
    fastrt::promise<msg> mine;
    fastrt::awaitable_future<msg> answer = mine.get_future();
    a.to_b.set_value(msg{a.value, std::move(mine)});
    fastrt::result<msg> received = co_await std::move(answer);
    if (!received || received->value != a.value + 1) fastrt::detail::fatal("bad reply");
    a.value = received->value;
    a.to_b = std::move(received->reply);
  }
  co_return clock_type::now() - start;
}

void BM_fastrt_future_roundtrip(benchmark::State& state) {
  const auto [cpu_a, cpu_b] = placement(state.range(0) != 0);
  std::atomic<bool> b_done{false};
  fastrt::coro_task<void> b;
  {
    fastrt::thread_pool pool_a(1);
    fastrt::thread_pool pool_b(1);
    party_a_state a;
    b = party_b(pool_b, cpu_b, a.to_b.get_future(), b_done);
    b.handle().resume();  // runs up to `co_await pool.schedule()`; B continues on pool_b

    // Warm up both threads' frame free lists and caches.
    (void)fastrt::sync_wait(party_a(pool_a, cpu_a, a, kRoundTrips));

    std::uint64_t allocations = 0;
    for (auto _ : state) {
      const std::uint64_t before = fastrt_bench::allocations();
      const clock_type::duration elapsed = fastrt::sync_wait(party_a(pool_a, cpu_a, a, kRoundTrips));
      allocations += fastrt_bench::allocations() - before;
      state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    }
    // The sync_wait machinery allocates too (run loop queue, outside the
    // timed section); subtract what one untimed call costs on its own.
    const std::uint64_t before_empty = fastrt_bench::allocations();
    (void)fastrt::sync_wait(party_a(pool_a, cpu_a, a, 0));
    const std::uint64_t per_call_overhead = fastrt_bench::allocations() - before_empty;
    const std::uint64_t overhead = per_call_overhead * static_cast<std::uint64_t>(state.iterations());
    report_per_round_trip(state, allocations > overhead ? allocations - overhead : 0);

    a.to_b = fastrt::promise<msg>();  // drops B's inbox: B sees broken_promise and finishes
    // pool_b, then pool_a, drain their queues and join here.
  }
  if (!b_done.load(std::memory_order_acquire) || !b.done()) state.SkipWithError("party B did not finish");
}
BENCHMARK(BM_fastrt_future_roundtrip)->Arg(1)->Arg(0)->UseManualTime()->Unit(benchmark::kMicrosecond);

// --- baseline: two std::threads, mutex + condition variables ---------------

struct condvar_pair {
  std::mutex mutex;
  std::condition_variable a_turn_cv;
  std::condition_variable b_turn_cv;
  enum class turn_t { a, b, stop } turn = turn_t::a;
  int value = 0;
};

void BM_condvar_roundtrip(benchmark::State& state) {
  const auto [cpu_a, cpu_b] = placement(state.range(0) != 0);
  condvar_pair pair;
  std::binary_semaphore go{0};
  std::binary_semaphore finished{0};
  std::atomic<bool> quit{false};
  int batch = 0;
  clock_type::duration elapsed{};

  std::thread b([&] {
    pin_this_thread(cpu_b);
    std::unique_lock lock(pair.mutex);
    for (;;) {
      pair.b_turn_cv.wait(lock, [&] { return pair.turn != condvar_pair::turn_t::a; });
      if (pair.turn == condvar_pair::turn_t::stop) return;
      ++pair.value;
      pair.turn = condvar_pair::turn_t::a;
      pair.a_turn_cv.notify_one();
    }
  });
  std::thread a([&] {
    pin_this_thread(cpu_a);
    for (;;) {
      go.acquire();
      if (quit.load(std::memory_order_acquire)) return;
      const auto start = clock_type::now();
      {
        std::unique_lock lock(pair.mutex);
        for (int i = 0; i < batch; ++i) {
          const int sent = pair.value;
          pair.turn = condvar_pair::turn_t::b;
          pair.b_turn_cv.notify_one();
          pair.a_turn_cv.wait(lock, [&] { return pair.turn == condvar_pair::turn_t::a; });
          if (pair.value != sent + 1) std::abort();
        }
      }
      elapsed = clock_type::now() - start;
      finished.release();
    }
  });

  auto run_batch = [&](int count) {
    batch = count;
    go.release();
    finished.acquire();
    return elapsed;
  };
  (void)run_batch(kRoundTrips);  // warm up
  for (auto _ : state) {
    state.SetIterationTime(std::chrono::duration<double>(run_batch(kRoundTrips)).count());
  }
  report_per_round_trip(state, 0);

  quit.store(true, std::memory_order_release);
  go.release();
  a.join();
  {
    std::lock_guard lock(pair.mutex);
    pair.turn = condvar_pair::turn_t::stop;
  }
  pair.b_turn_cv.notify_one();
  b.join();
}
BENCHMARK(BM_condvar_roundtrip)->Arg(1)->Arg(0)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  fastrt_bench::summary_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\nsummary (median over repetitions), %d round trips per iteration\n", kRoundTrips);
  for (const char* arg : {"1", "0"}) {
    const std::string suffix = std::string("/") + arg;
    const auto fastrt_ns = reporter.value("BM_fastrt_future_roundtrip" + suffix, "per_round_trip", 1e9);
    const auto fastrt_allocs = reporter.value("BM_fastrt_future_roundtrip" + suffix, "allocs_per_round_trip");
    const auto condvar_ns = reporter.value("BM_condvar_roundtrip" + suffix, "per_round_trip", 1e9);
    const char* what = arg[0] == '1' ? "pinned  " : "unpinned";
    if (fastrt_ns) {
      std::printf("  %s fastrt promise/future   %9.1f ns/round trip  %.4f allocs/round trip\n", what, *fastrt_ns,
                  fastrt_allocs.value_or(-1));
    }
    if (condvar_ns) std::printf("  %s mutex+condvar threads  %9.1f ns/round trip\n", what, *condvar_ns);
    if (fastrt_ns && condvar_ns) {
      const double ratio = *condvar_ns / *fastrt_ns;
      std::printf("  %s condvar / fastrt       %9.2fx  (target >= 5x: %s)\n", what, ratio,
                  ratio >= 5.0 ? "met" : "MISSED");
    }
  }
  return 0;
}
