// ctest-labels: concurrency
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>
#include <vector>

#include "support/threads.hpp"

using fastrt::coro_task;


TEST_CASE("schedule moves a coroutine onto the pool") {
  fastrt::thread_pool pool(2);
  REQUIRE(pool.size() == 2);
  auto body = [&]() -> coro_task<bool> {
    const bool before = pool.running_in_this_thread();
    co_await pool.schedule();
    co_return !before && pool.running_in_this_thread();
  };
  REQUIRE(fastrt::sync_wait(body()));
}

namespace {
// A free function, not a lambda: the frame must not refer to a lambda object
// that dies before the pool runs the queued work.
coro_task<> count_on(fastrt::thread_pool& pool, std::atomic<int>& ran) {
  co_await pool.schedule();
  ran.fetch_add(1);
}
}  // namespace

TEST_CASE("posts from several threads each run exactly once") {
  constexpr int per_thread = 20'000;
  std::vector<std::atomic<int>> runs(2 * per_thread);
  std::vector<coro_task<>> tasks;  // outlives the pool: frames die after the workers
  {
    fastrt::thread_pool pool(2);
    for (auto& r : runs) tasks.push_back(count_on(pool, r));
    // Start each task from one of two producer threads: the first resume runs
    // it up to schedule(), which posts it to the pool.
    auto start_range = [&](int from, int to) {
      for (int i = from; i < to; ++i) tasks[static_cast<std::size_t>(i)].handle().resume();
    };
    std::thread a(start_range, 0, per_thread);
    std::thread b(start_range, per_thread, 2 * per_thread);
    a.join();
    b.join();
  }  // the pool runs what is queued, then joins
  for (auto& r : runs) REQUIRE(r.load() == 1);
  for (auto& t : tasks) REQUIRE(t.done());
}

TEST_CASE("destruction runs work that is still queued") {
  std::atomic<int> ran{0};
  std::vector<coro_task<>> tasks;
  {
    fastrt::thread_pool pool(1);
    for (int i = 0; i < 1000; ++i) {
      tasks.push_back(count_on(pool, ran));
      tasks.back().handle().resume();
    }
  }  // joins here
  REQUIRE(ran.load() == 1000);
}

TEST_CASE("idle workers sleep instead of spinning") {
  fastrt::thread_pool pool(2);
  // Give the workers time to pass their spin and yield phases.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto cpu_before = fastrt::test::process_cpu_time();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto cpu_used = fastrt::test::process_cpu_time() - cpu_before;
  // Two spinning workers would burn ~600 ms of CPU here.
  REQUIRE(cpu_used < std::chrono::milliseconds(60));

  // And a sleeping pool still wakes up for new work.
  auto body = [&]() -> coro_task<bool> {
    co_await pool.schedule();
    co_return pool.running_in_this_thread();
  };
  REQUIRE(fastrt::sync_wait(body()));
}
