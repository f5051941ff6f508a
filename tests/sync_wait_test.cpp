// ctest-labels: concurrency
#include <fastrt/future.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>

#include <catch2/catch.hpp>
#include <memory>
#include <thread>

using fastrt::coro_task;

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
