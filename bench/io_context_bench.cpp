// bench/io_context_bench.cpp — what waking a sleeping io_context costs, with
// an eventfd write versus an IORING_OP_MSG_RING from the posting thread.
//
// One loop thread runs an io_context that has nothing else to do, so it is
// asleep in io_uring_enter whenever work arrives. The benchmark thread posts a
// function that sets a flag and spins until it sees the flag: one round trip
// = post + wake-up + the loop running the function. Threads are pinned to
// different CPUs when there are two. main() prints msg_ring / eventfd.
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "fastrt/io_context.hpp"

namespace {

void pin(std::thread::native_handle_type thread, int cpu) {
  if (std::thread::hardware_concurrency() < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(thread, sizeof set, &set);
}

std::map<std::string, double> ns_per_round_trip;

void BM_wake_sleeping_loop(benchmark::State& state) {
  fastrt::io_context_options options;
  options.wakeup = state.range(0) == 0 ? fastrt::wakeup_method::eventfd : fastrt::wakeup_method::msg_ring;
  auto ctx = fastrt::io_context::create(options).value();
  std::thread loop([&] { ctx->run(); });
  pin(loop.native_handle(), 1);
  pin(pthread_self(), 0);

  std::atomic<bool> flag{false};
  constexpr int batch = 2000;
  double total_ns = 0;
  long trips = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < batch; ++i) {
      ctx->post([&flag] { flag.store(true, std::memory_order_release); });
      while (!flag.load(std::memory_order_acquire)) {
      }
      flag.store(false, std::memory_order_relaxed);
      // Give the loop time to go back to sleep, so every post pays a wake-up.
      const auto settle = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
      while (std::chrono::steady_clock::now() < settle) {
      }
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    total_ns += elapsed * 1e9 - batch * 20'000.0;
    trips += batch;
  }
  ctx->stop();
  loop.join();
  const double per_trip = total_ns / static_cast<double>(trips);
  state.counters["ns_per_wake_round_trip"] = per_trip;
  state.counters["wakeups_paid"] = static_cast<double>(ctx->wakeups_sent());
  ns_per_round_trip[options.wakeup == fastrt::wakeup_method::eventfd ? "eventfd" : "msg_ring"] = per_trip;
}
BENCHMARK(BM_wake_sleeping_loop)->Arg(0)->Arg(1)->ArgNames({"msg_ring"})->UseManualTime()->Iterations(5);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (ns_per_round_trip.size() == 2) {
    std::printf("\nwake-up round trip (post + wake + run), last repetition:\n");
    std::printf("  eventfd   %8.0f ns\n  msg_ring  %8.0f ns\n  msg_ring / eventfd = %.2f\n",
                ns_per_round_trip["eventfd"], ns_per_round_trip["msg_ring"],
                ns_per_round_trip["msg_ring"] / ns_per_round_trip["eventfd"]);
  }
}
