// ctest-labels: concurrency
#include <fastrt/future.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>

#include <fastrt/when_all.hpp>
#include <time.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

using fastrt::coro_task;

namespace {

std::chrono::nanoseconds this_thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

TEST_CASE("sync_wait returns the task's value, move-only values and void") {
  auto answer = []() -> coro_task<int> { co_return 42; };
  REQUIRE(fastrt::sync_wait(answer()) == 42);
  auto boxed = []() -> coro_task<std::unique_ptr<int>> { co_return std::make_unique<int>(1); };
  REQUIRE(*fastrt::sync_wait(boxed()) == 1);
  bool ran = false;
  auto side_effect = [&]() -> coro_task<> {
    ran = true;
    co_return;
  };
  fastrt::sync_wait(side_effect());
  REQUIRE(ran);
}

TEST_CASE("sync_wait follows a task that hops to a pool and comes back") {
  fastrt::thread_pool pool(2);
  const auto caller = std::this_thread::get_id();
  auto hop = [&]() -> coro_task<bool> {
    co_await pool.schedule();
    co_return std::this_thread::get_id() != caller;
  };
  REQUIRE(fastrt::sync_wait(hop()));
}

TEST_CASE("the sync_wait thread is the executor for futures awaited on it") {
  const auto caller = std::this_thread::get_id();
  fastrt::promise<int> p;
  auto f = p.get_future();
  auto body = [&]() -> coro_task<bool> {
    auto r = co_await std::move(f);
    co_return r.value() == 3 && std::this_thread::get_id() == caller;
  };
  std::thread completer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    p.set_value(3);
  });
  REQUIRE(fastrt::sync_wait(body()));
  completer.join();
}

TEST_CASE("sync_wait nests") {
  auto inner = []() -> coro_task<int> { co_return 2; };
  auto outer = [&]() -> coro_task<int> { co_return fastrt::sync_wait(inner()) * 2; };
  REQUIRE(fastrt::sync_wait(outer()) == 4);
}

namespace {

// How the completing thread times its completion against the waiter.
enum class completion_timing { at_once, while_it_spins, after_it_sleeps };

void complete_after(fastrt::promise<int>& p, int value, completion_timing timing) {
  switch (timing) {
    case completion_timing::at_once: break;
    case completion_timing::while_it_spins: {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(1);
      while (std::chrono::steady_clock::now() < until) {
      }
      break;
    }
    case completion_timing::after_it_sleeps: std::this_thread::sleep_for(std::chrono::microseconds(200)); break;
  }
  p.set_value(value);
}

}  // namespace

TEST_CASE("sync_wait gets every completion from another thread: before, during and after its spin") {
  // The spin budget and the futex sleep hand over in the run loop; a lost
  // wake-up would hang here (ctest's timeout), a lost value would fail.
  const auto options = GENERATE(fastrt::sync_wait_options{}, fastrt::sync_wait_options{.spin = {}},
                                fastrt::sync_wait_options{.spin = {.pause = std::chrono::microseconds(5)}});
  for (int i = 0; i < 600; ++i) {
    const auto timing = static_cast<completion_timing>(i % 3);
    fastrt::promise<int> p;
    auto f = p.get_future();
    std::thread completer([&] { complete_after(p, i, timing); });
    REQUIRE(fastrt::sync_wait(std::move(f), options).value() == i);
    completer.join();
  }
}

TEST_CASE("sync_wait may return while the thread that finished the task is still inside finish()") {
  // The last step runs on a pool thread, which calls the run loop's finish():
  // sync_wait returns and its loop (on this stack) goes away at once. ASan and
  // TSan check that finish() touches nothing of it afterwards.
  fastrt::thread_pool pool(2);
  auto hop = [&](int i) -> coro_task<int> {
    co_await pool.schedule();
    co_return i;
  };
  const auto options = GENERATE(fastrt::sync_wait_options{}, fastrt::sync_wait_options{.spin = {}});
  for (int i = 0; i < 2000; ++i) REQUIRE(fastrt::sync_wait(hop(i), options) == i);
}

TEST_CASE("sync_wait takes the posts of several threads at once") {
  constexpr int completers = 4;
  for (int round = 0; round < 200; ++round) {
    std::vector<fastrt::promise<int>> promises(completers);
    auto one = [](fastrt::awaitable_future<int> f) -> coro_task<int> { co_return (co_await std::move(f)).value(); };
    std::vector<coro_task<int>> tasks;
    for (auto& p : promises) tasks.push_back(one(p.get_future()));
    std::vector<std::thread> threads;
    for (int t = 0; t < completers; ++t) {
      threads.emplace_back([&, t] { complete_after(promises[t], t, static_cast<completion_timing>((round + t) % 3)); });
    }
    const std::vector<int> values = fastrt::sync_wait(fastrt::when_all(std::move(tasks)));
    for (auto& t : threads) t.join();
    REQUIRE(values == std::vector<int>{0, 1, 2, 3});
  }
}

TEST_CASE("sync_wait sleeps through a long wait: it spins only its budget") {
  fastrt::promise<int> p;
  auto f = p.get_future();
  std::thread completer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    p.set_value(1);
  });
  const auto cpu0 = this_thread_cpu_time();
  REQUIRE(fastrt::sync_wait(std::move(f)).value() == 1);
  const auto used = this_thread_cpu_time() - cpu0;
  completer.join();
  // The default budget is a few tens of microseconds; a thread that kept
  // spinning would have used most of the 300 ms.
  REQUIRE(used < std::chrono::milliseconds(30));
}
