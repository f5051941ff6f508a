// ctest-labels: concurrency
#include <fastrt/async_mutex.hpp>
#include <fastrt/async_scope.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <coroutine>
#include <thread>
#include <vector>

#include "support/death.hpp"

using fastrt::async_mutex;
using fastrt::async_mutex_lock;
using fastrt::coro_task;
using fastrt::thread_pool;

namespace {

// Takes the lock, records its id, then stays suspended (holding the lock)
// until resumed by hand, and unlocks.
coro_task<void> lock_record_hold(async_mutex& m, std::vector<int>& order, int id) {
  co_await m.lock();
  order.push_back(id);
  co_await std::suspend_always{};
  m.unlock();
}

}  // namespace

TEST_CASE("try_lock succeeds only on an unlocked mutex") {
  async_mutex m;
  REQUIRE(m.try_lock());
  REQUIRE_FALSE(m.try_lock());
  m.unlock();
  REQUIRE(m.try_lock());
  REQUIRE_FALSE(m.try_lock());

  // With a queued waiter, unlock hands the lock over: it never becomes free.
  std::vector<int> order;
  coro_task<void> w = lock_record_hold(m, order, 1);
  w.handle().resume();
  REQUIRE(order.empty());
  REQUIRE_FALSE(m.try_lock());
  m.unlock();  // to w, resumed inline (no executor on this thread)
  REQUIRE(order == std::vector<int>{1});
  REQUIRE_FALSE(m.try_lock());
  w.handle().resume();  // w unlocks
  REQUIRE(w.done());
  REQUIRE(m.try_lock());
  m.unlock();
}

TEST_CASE("lock on an unlocked mutex does not suspend") {
  async_mutex m;
  std::vector<int> order;
  coro_task<void> w = lock_record_hold(m, order, 7);
  w.handle().resume();
  REQUIRE(order == std::vector<int>{7});  // got it without anyone unlocking
  REQUIRE_FALSE(m.try_lock());
  w.handle().resume();
  REQUIRE(w.done());
  REQUIRE(m.try_lock());
  m.unlock();
}

TEST_CASE("waiters acquire the lock in arrival order") {
  async_mutex m;
  std::vector<int> order;
  std::vector<coro_task<void>> waiters;
  REQUIRE(m.try_lock());
  for (int i = 0; i < 5; ++i) {
    waiters.push_back(lock_record_hold(m, order, i));
    waiters.back().handle().resume();
  }
  REQUIRE(order.empty());
  m.unlock();  // -> 0
  REQUIRE(order == std::vector<int>{0});
  // Arrivals while the first batch is being served queue behind it.
  for (int i = 5; i < 8; ++i) {
    waiters.push_back(lock_record_hold(m, order, i));
    waiters.back().handle().resume();
  }
  for (int i = 0; i < 8; ++i) {
    REQUIRE(order.size() == static_cast<std::size_t>(i + 1));
    waiters[static_cast<std::size_t>(i)].handle().resume();  // unlock -> next
    REQUIRE(waiters[static_cast<std::size_t>(i)].done());
  }
  REQUIRE(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  REQUIRE(m.try_lock());
  m.unlock();
}

TEST_CASE("the scoped_lock guard unlocks on destruction") {
  async_mutex m;
  bool held_inside = false;
  fastrt::sync_wait([](async_mutex& mu, bool& held) -> coro_task<void> {
    {
      async_mutex_lock guard = co_await mu.scoped_lock();
      REQUIRE(guard.owns_lock());
      held = !mu.try_lock();
      async_mutex_lock moved = std::move(guard);
      REQUIRE_FALSE(guard.owns_lock());
      REQUIRE(moved.owns_lock());
    }
    REQUIRE(mu.try_lock());
    mu.unlock();

    async_mutex_lock early = co_await mu.scoped_lock();
    early.unlock();
    REQUIRE_FALSE(early.owns_lock());
    REQUIRE(mu.try_lock());
    mu.unlock();
  }(m, held_inside));
  REQUIRE(held_inside);

  // A guard's destruction hands the lock to a waiter.
  std::vector<int> order;
  coro_task<void> w;
  {
    REQUIRE(m.try_lock());
    async_mutex_lock guard(m, std::adopt_lock);
    w = lock_record_hold(m, order, 3);
    w.handle().resume();
    REQUIRE(order.empty());
  }
  REQUIRE(order == std::vector<int>{3});
  w.handle().resume();
  REQUIRE(m.try_lock());
  m.unlock();
}

TEST_CASE("the lock holder resumes on the executor it awaited from") {
  thread_pool pool(1);
  async_mutex m;
  REQUIRE(m.try_lock());
  std::atomic<bool> entered{false}, on_pool{false};
  std::thread waiter([&] {
    fastrt::sync_wait([](thread_pool& p, async_mutex& mu, std::atomic<bool>& in,
                         std::atomic<bool>& ok) -> coro_task<void> {
      co_await p.schedule();
      in.store(true);
      auto guard = co_await mu.scoped_lock();
      ok.store(p.running_in_this_thread());
    }(pool, m, entered, on_pool));
  });
  while (!entered.load()) std::this_thread::yield();
  // The single pool thread is free again only once the waiter has suspended.
  fastrt::sync_wait([](thread_pool& p) -> coro_task<void> { co_await p.schedule(); }(pool));
  std::thread unlocker([&] { m.unlock(); });
  unlocker.join();
  waiter.join();
  REQUIRE(on_pool.load());
}

TEST_CASE("mutual exclusion: a plain counter under contention on two threads") {
  thread_pool pool(2);
  async_mutex m;
  long counter = 0;  // deliberately not atomic: the mutex must protect it
  int inside = 0;
  bool overlap = false;
  constexpr int coroutines = 200;
  constexpr int iterations = 300;
  // Two plain threads contend too, each through its own sync_wait loop, so the
  // lock is handed between the pool and foreign executors.
  constexpr int thread_iterations = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      fastrt::sync_wait([](async_mutex& mu, long& count, int& in, bool& bad) -> coro_task<void> {
        for (int i = 0; i < thread_iterations; ++i) {
          auto guard = co_await mu.scoped_lock();
          if (++in != 1) bad = true;
          count += 1;
          --in;
        }
      }(m, counter, inside, overlap));
    });
  }
  fastrt::sync_wait([&]() -> coro_task<void> {
    fastrt::async_scope scope;
    for (int c = 0; c < coroutines; ++c) {
      scope.spawn([](thread_pool& p, async_mutex& mu, long& count, int& in, bool& bad,
                     int id) -> coro_task<void> {
        co_await p.schedule();
        for (int i = 0; i < iterations; ++i) {
          if ((i + id) % 3 == 0) {
            auto guard = co_await mu.scoped_lock();
            if (++in != 1) bad = true;
            count += 1;
            // Sometimes hold the lock across a suspension (a hop on the pool).
            if (i % 10 == 0) co_await p.schedule();
            --in;
          } else if ((i + id) % 3 == 1) {
            co_await mu.lock();
            if (++in != 1) bad = true;
            count += 1;
            --in;
            mu.unlock();
          } else {
            while (!mu.try_lock()) co_await p.schedule();
            if (++in != 1) bad = true;
            count += 1;
            --in;
            mu.unlock();
          }
        }
      }(pool, m, counter, inside, overlap, c));
    }
    co_await scope.join();
  }());
  for (auto& t : threads) t.join();
  REQUIRE_FALSE(overlap);
  REQUIRE(counter == static_cast<long>(coroutines) * iterations + 2L * thread_iterations);
  REQUIRE(m.try_lock());
  m.unlock();
}

TEST_CASE("misuse terminates with a message") {
  auto report = fastrt::test::run_in_child([] {
    async_mutex m;
    m.unlock();
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("unlock of a mutex that is not locked") != std::string::npos);

  report = fastrt::test::run_in_child([] {
    std::vector<int> order;
    coro_task<void> w;
    {
      async_mutex m;
      REQUIRE(m.try_lock());
      w = lock_record_hold(m, order, 1);
      w.handle().resume();
    }
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("async_mutex destroyed while coroutines are waiting") != std::string::npos);

  report = fastrt::test::run_in_child([] {
    async_mutex m;
    std::vector<int> order;
    REQUIRE(m.try_lock());
    coro_task<void> w = lock_record_hold(m, order, 1);
    w.handle().resume();
    w = {};
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("waiting for an async_mutex was destroyed") != std::string::npos);
}
