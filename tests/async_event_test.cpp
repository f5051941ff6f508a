// ctest-labels: concurrency
#include <fastrt/async_event.hpp>
#include <fastrt/async_scope.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "support/death.hpp"

using fastrt::async_event;
using fastrt::coro_task;
using fastrt::thread_pool;

namespace {

coro_task<void> wait_and_mark(async_event& ev, int& marks) {
  co_await ev;
  ++marks;
}

coro_task<void> wait_via_wait(async_event& ev, int& marks) {
  co_await ev.wait();
  ++marks;
}

// Waits on `ev` from a thread of `pool`; records where it resumed.
coro_task<void> wait_on_pool(thread_pool& pool, async_event& ev, std::atomic<bool>& on_pool,
                             std::atomic<bool>& entered, std::thread::id& resumed_on) {
  co_await pool.schedule();
  entered.store(true);
  co_await ev;
  resumed_on = std::this_thread::get_id();
  on_pool.store(pool.running_in_this_thread());
}

// Returns once every item posted to the single-threaded `pool` before it
// has run: proves the coroutine that occupied the thread has suspended.
void drain(thread_pool& pool) {
  fastrt::sync_wait([](thread_pool& p) -> coro_task<void> { co_await p.schedule(); }(pool));
}

}  // namespace

TEST_CASE("waiters that arrived before set() resume, and only then") {
  // No executor on this thread: waiters resume inline inside set().
  async_event ev;
  int marks = 0;
  coro_task<void> a = wait_and_mark(ev, marks);
  coro_task<void> b = wait_via_wait(ev, marks);
  a.handle().resume();
  b.handle().resume();
  REQUIRE_FALSE(a.done());
  REQUIRE_FALSE(b.done());
  REQUIRE(marks == 0);
  REQUIRE_FALSE(ev.is_set());

  ev.set();
  REQUIRE(ev.is_set());
  REQUIRE(marks == 2);
  REQUIRE(a.done());
  REQUIRE(b.done());
}

TEST_CASE("waiters resume in arrival order") {
  async_event ev;
  std::vector<int> order;
  std::vector<coro_task<void>> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back([](async_event& e, std::vector<int>& o, int id) -> coro_task<void> {
      co_await e;
      o.push_back(id);
    }(ev, order, i));
    tasks.back().handle().resume();
  }
  ev.set();
  REQUIRE(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("awaiting a set event does not suspend") {
  async_event ev(true);
  REQUIRE(ev.is_set());
  int marks = 0;
  coro_task<void> t = wait_and_mark(ev, marks);
  t.handle().resume();
  REQUIRE(t.done());
  REQUIRE(marks == 1);

  async_event later;
  later.set();
  later.set();  // idempotent
  coro_task<void> u = wait_and_mark(later, marks);
  u.handle().resume();
  REQUIRE(u.done());
  REQUIRE(marks == 2);
}

TEST_CASE("reset makes waiters suspend again") {
  async_event ev;
  ev.set();
  ev.reset();
  REQUIRE_FALSE(ev.is_set());
  ev.reset();  // no effect on an unset event
  REQUIRE_FALSE(ev.is_set());

  int marks = 0;
  coro_task<void> t = wait_and_mark(ev, marks);
  t.handle().resume();
  REQUIRE_FALSE(t.done());
  ev.reset();  // does not drop the waiter
  REQUIRE_FALSE(t.done());
  ev.set();
  REQUIRE(t.done());
  REQUIRE(marks == 1);
}

TEST_CASE("waiters resume on the executor they awaited from, not the setter's thread") {
  for (int round = 0; round < 20; ++round) {
    thread_pool pool_a(1);
    thread_pool pool_b(1);
    async_event ev;
    std::atomic<bool> entered_a{false}, entered_b{false}, on_a{false}, on_b{false};
    std::thread::id resumed_a, resumed_b, setter_id;

    std::thread waiter_a([&] { fastrt::sync_wait(wait_on_pool(pool_a, ev, on_a, entered_a, resumed_a)); });
    std::thread waiter_b([&] { fastrt::sync_wait(wait_on_pool(pool_b, ev, on_b, entered_b, resumed_b)); });
    while (!entered_a.load() || !entered_b.load()) std::this_thread::yield();
    // Each pool has one thread: once it runs something else, the waiter
    // occupying it has suspended on the event.
    drain(pool_a);
    drain(pool_b);
    REQUIRE_FALSE(ev.is_set());

    std::thread setter([&] {
      setter_id = std::this_thread::get_id();
      ev.set();
    });
    setter.join();
    waiter_a.join();
    waiter_b.join();
    REQUIRE(on_a.load());
    REQUIRE(on_b.load());
    REQUIRE(resumed_a != setter_id);
    REQUIRE(resumed_b != setter_id);
  }
}

TEST_CASE("many waiters on several threads race with set") {
  thread_pool pool(2);
  constexpr int rounds = 400;
  constexpr int pool_waiters = 16;
  constexpr int thread_waiters = 3;
  for (int round = 0; round < rounds; ++round) {
    async_event ev;
    std::atomic<int> resumed{0};
    std::atomic<int> on_wrong_executor{0};
    std::vector<std::thread> threads;
    // Plain threads awaiting through sync_wait (their own run loops).
    for (int t = 0; t < thread_waiters; ++t) {
      threads.emplace_back([&] {
        fastrt::sync_wait([](async_event& e, std::atomic<int>& n) -> coro_task<void> {
          co_await e;
          n.fetch_add(1);
        }(ev, resumed));
      });
    }
    std::thread setter([&] {
      if (round % 3) std::this_thread::yield();
      ev.set();
    });
    // Pool coroutines, owned by a scope.
    fastrt::sync_wait([&]() -> coro_task<void> {
      fastrt::async_scope scope;
      for (int i = 0; i < pool_waiters; ++i) {
        scope.spawn([](thread_pool& p, async_event& e, std::atomic<int>& n,
                       std::atomic<int>& wrong) -> coro_task<void> {
          co_await p.schedule();
          co_await e;
          if (!p.running_in_this_thread()) wrong.fetch_add(1);
          n.fetch_add(1);
        }(pool, ev, resumed, on_wrong_executor));
      }
      co_await scope.join();
    }());
    setter.join();
    for (auto& t : threads) t.join();
    REQUIRE(resumed.load() == pool_waiters + thread_waiters);
    REQUIRE(on_wrong_executor.load() == 0);
    REQUIRE(ev.is_set());
  }
}

TEST_CASE("set/reset cycles publish the setter's writes") {
  thread_pool pool(2);
  constexpr int cycles = 2000;
  async_event ping, pong;
  int shared = 0;  // plain int: the events must order the accesses
  std::thread other([&] {
    fastrt::sync_wait([](async_event& in, async_event& out, int& value) -> coro_task<void> {
      for (int i = 0; i < cycles; ++i) {
        co_await in;
        in.reset();
        value += 1;
        out.set();
      }
    }(ping, pong, shared));
  });
  fastrt::sync_wait([](thread_pool& p, async_event& out, async_event& in, int& value) -> coro_task<void> {
    co_await p.schedule();
    for (int i = 0; i < cycles; ++i) {
      value += 1;
      out.set();
      co_await in;
      in.reset();
    }
  }(pool, ping, pong, shared));
  other.join();
  REQUIRE(shared == 2 * cycles);
}

TEST_CASE("destroying an event or a waiter while waiting terminates with a message") {
  auto report = fastrt::test::run_in_child([] {
    int marks = 0;
    coro_task<void> t;
    {
      async_event ev;
      t = wait_and_mark(ev, marks);
      t.handle().resume();
    }
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("async_event destroyed while coroutines are waiting") != std::string::npos);

  report = fastrt::test::run_in_child([] {
    async_event ev;
    int marks = 0;
    coro_task<void> t = wait_and_mark(ev, marks);
    t.handle().resume();
    t = {};  // destroys the suspended frame
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("waiting on an async_event was destroyed") != std::string::npos);
}
