// ctest-labels: concurrency
#include <fastrt/async_scope.hpp>
#include <fastrt/future.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <stop_token>
#include <thread>
#include <vector>

#include "support/death.hpp"

using fastrt::async_scope;
using fastrt::coro_task;
using fastrt::thread_pool;

namespace {

coro_task<void> count_on_pool(thread_pool& pool, std::atomic<int>& runs) {
  co_await pool.schedule();
  runs.fetch_add(1, std::memory_order_relaxed);
}

// Finishes only when `gate` is completed, on the pool.
coro_task<void> wait_then_count(thread_pool& pool, fastrt::awaitable_future<void> gate,
                                std::atomic<int>& done) {
  co_await pool.schedule();
  (void)co_await std::move(gate);
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  done.fetch_add(1, std::memory_order_relaxed);
}

coro_task<void> never_finishes(fastrt::awaitable_future<void> gate) { (void)co_await std::move(gate); }

}  // namespace

TEST_CASE("join waits for tasks that finish on a thread pool") {
  thread_pool pool(2);
  constexpr int tasks = 16;
  std::atomic<int> done{0};
  int seen_after_join = -1;
  std::vector<fastrt::promise<void>> gates(tasks);

  // Opens the gates from a plain thread well after join() has been awaited.
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    for (auto& g : gates) g.set_value();
  });
  fastrt::sync_wait([&]() -> coro_task<void> {
    async_scope scope;
    for (auto& g : gates) scope.spawn(wait_then_count(pool, g.get_future(), done));
    REQUIRE(done.load() == 0);
    co_await scope.join();
    seen_after_join = done.load();
  }());
  opener.join();
  REQUIRE(seen_after_join == tasks);
}

TEST_CASE("every spawned task runs exactly once") {
  thread_pool pool(2);
  constexpr int tasks = 500;
  std::vector<std::atomic<int>> runs(tasks);
  fastrt::sync_wait([&]() -> coro_task<void> {
    async_scope scope;
    for (int i = 0; i < tasks; ++i) scope.spawn(count_on_pool(pool, runs[static_cast<std::size_t>(i)]));
    co_await scope.join();
  }());
  for (auto& r : runs) REQUIRE(r.load() == 1);
}

TEST_CASE("spawn runs the task on the calling thread until its first suspension") {
  thread_pool pool(1);
  std::thread::id started_on;
  bool started = false;
  fastrt::sync_wait([&]() -> coro_task<void> {
    async_scope scope;
    // Parameters, not captures: the lambda object dies before the task does.
    scope.spawn([](bool& flag, std::thread::id& id, thread_pool& p) -> coro_task<void> {
      flag = true;
      id = std::this_thread::get_id();
      co_await p.schedule();
    }(started, started_on, pool));
    REQUIRE(started);
    REQUIRE(started_on == std::this_thread::get_id());
    co_await scope.join();
  }());
}

TEST_CASE("tasks spawned from inside spawned tasks are joined too") {
  thread_pool pool(2);
  std::atomic<int> runs{0};
  fastrt::sync_wait([&]() -> coro_task<void> {
    async_scope scope;
    for (int i = 0; i < 20; ++i) {
      scope.spawn([](async_scope& s, thread_pool& p, std::atomic<int>& r) -> coro_task<void> {
        co_await p.schedule();
        for (int j = 0; j < 5; ++j) s.spawn(count_on_pool(p, r));
        r.fetch_add(1);
      }(scope, pool, runs));
    }
    co_await scope.join();
  }());
  REQUIRE(runs.load() == 20 * 6);
}

TEST_CASE("join on an empty scope completes without suspending") {
  async_scope scope;
  fastrt::sync_wait(scope.join());

  bool finished = false;
  fastrt::sync_wait([&]() -> coro_task<void> {
    async_scope inner;
    co_await inner.join();
    finished = true;
  }());
  REQUIRE(finished);
}

TEST_CASE("join resumes on the executor it was awaited from") {
  thread_pool joiner_pool(1);
  thread_pool worker_pool(2);
  std::atomic<int> runs{0};
  bool on_joiner_pool = false;
  fastrt::sync_wait([&]() -> coro_task<void> {
    co_await joiner_pool.schedule();
    async_scope scope;
    for (int i = 0; i < 8; ++i) scope.spawn(count_on_pool(worker_pool, runs));
    co_await scope.join();
    on_joiner_pool = joiner_pool.running_in_this_thread();
  }());
  REQUIRE(runs.load() == 8);
  REQUIRE(on_joiner_pool);
}

TEST_CASE("spawned tasks see the scope's stop token") {
  thread_pool pool(2);
  std::atomic<int> possible{0}, requested_before{0}, requested_after{0}, same_token{0};
  constexpr int tasks = 4;
  std::vector<fastrt::promise<void>> gates(tasks);

  fastrt::sync_wait([&]() -> coro_task<void> {
    async_scope scope;
    for (auto& g : gates) {
      scope.spawn([](async_scope& s, thread_pool& p, fastrt::awaitable_future<void> f, std::atomic<int>& poss,
                     std::atomic<int>& before, std::atomic<int>& after,
                     std::atomic<int>& same) -> coro_task<void> {
        std::stop_token token = co_await fastrt::this_task::stop_token();
        if (token.stop_possible()) poss.fetch_add(1);
        if (token.stop_requested()) before.fetch_add(1);
        if (token == s.get_stop_token()) same.fetch_add(1);
        co_await p.schedule();
        (void)co_await std::move(f);
        // The token is still the scope's after moving threads.
        std::stop_token later = co_await fastrt::this_task::stop_token();
        if (later.stop_requested()) after.fetch_add(1);
      }(scope, pool, g.get_future(), possible, requested_before, requested_after, same_token));
    }
    REQUIRE(scope.request_stop());
    REQUIRE(scope.get_stop_token().stop_requested());
    for (auto& g : gates) g.set_value();
    co_await scope.join();
  }());
  REQUIRE(possible.load() == tasks);
  REQUIRE(same_token.load() == tasks);
  REQUIRE(requested_before.load() == 0);
  REQUIRE(requested_after.load() == tasks);
}

TEST_CASE("spawned frames and wrappers are all freed") {
  // Everything on this thread (sync_wait's loop is the only executor), so
  // the thread-local live-block count must come back to where it was.
  const auto before = fastrt::detail::frame_allocator::live_blocks_on_this_thread();
  {
    int finished = 0;
    std::vector<fastrt::promise<void>> gates(50);
    fastrt::sync_wait([&]() -> coro_task<void> {
      async_scope scope;
      for (auto& g : gates) {
        scope.spawn([](fastrt::awaitable_future<void> f, int& n) -> coro_task<void> {
          (void)co_await std::move(f);
          ++n;
        }(g.get_future(), finished));
      }
      // Some finish synchronously, without ever suspending.
      for (int i = 0; i < 10; ++i) scope.spawn([](int& n) -> coro_task<void> { ++n; co_return; }(finished));
      REQUIRE(fastrt::detail::frame_allocator::live_blocks_on_this_thread() > before);
      for (auto& g : gates) g.set_value();
      co_await scope.join();
    }());
    REQUIRE(finished == 60);
  }
  REQUIRE(fastrt::detail::frame_allocator::live_blocks_on_this_thread() == before);
}

TEST_CASE("stress: spawn and join repeatedly across threads") {
  thread_pool pool(2);
  std::atomic<long> total{0};
  constexpr int rounds = 1000;
  constexpr int per_round = 20;
  fastrt::sync_wait([&]() -> coro_task<void> {
    for (int r = 0; r < rounds; ++r) {
      async_scope scope;
      for (int i = 0; i < per_round; ++i) {
        scope.spawn([](thread_pool& p, std::atomic<long>& t, int k) -> coro_task<void> {
          if (k % 2) co_await p.schedule();
          t.fetch_add(1, std::memory_order_relaxed);
        }(pool, total, i));
      }
      co_await scope.join();
      REQUIRE(total.load() == static_cast<long>(r + 1) * per_round);
    }
  }());
}

TEST_CASE("destroying a scope with unjoined work terminates with a message") {
  auto report = fastrt::test::run_in_child([] {
    fastrt::promise<void> gate;
    {
      async_scope scope;
      scope.spawn(never_finishes(gate.get_future()));
    }
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("async_scope destroyed before join() completed") != std::string::npos);

  // Even if the work happens to have finished: the rule must not depend on timing.
  report = fastrt::test::run_in_child([] {
    async_scope scope;
    scope.spawn([]() -> coro_task<void> { co_return; }());
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("async_scope destroyed before join() completed") != std::string::npos);

  // An unused scope is fine.
  report = fastrt::test::run_in_child([] { async_scope scope; });
  REQUIRE_FALSE(report.aborted);
}

TEST_CASE("spawn after join completed terminates with a message") {
  auto report = fastrt::test::run_in_child([] {
    async_scope scope;
    fastrt::sync_wait(scope.join());
    scope.spawn([]() -> coro_task<void> { co_return; }());
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("spawn after join() completed") != std::string::npos);

  report = fastrt::test::run_in_child([] {
    async_scope scope;
    fastrt::sync_wait(scope.join());
    fastrt::sync_wait(scope.join());
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("join called twice") != std::string::npos);
}
