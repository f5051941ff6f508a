// ctest-labels: concurrency uring
// with_timeout over awaitables that are not coro_tasks (the task case and
// the sleeps themselves are covered in io_context_test.cpp).
#include <fastrt/future.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/when_all.hpp>
#include <fastrt/with_stop_token.hpp>

#include <catch2/catch.hpp>
#include <chrono>
#include <stop_token>
#include <thread>
#include <utility>

#include "support/elapsed.hpp"
#include "support/io.hpp"

using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::result;
using fastrt::detail::frame_allocator;
using fastrt::test::make_context;
using fastrt::test::ms_since;
using fastrt::test::run_on;

using clock_type = std::chrono::steady_clock;

TEST_CASE("with_timeout on a future that never completes in time: timed_out, the late value is dropped") {
  auto ctx = make_context();
  fastrt::promise<int> p;  // its shared state is freed by the thread that sets the value
  const auto live = frame_allocator::live_blocks_on_this_thread();
  auto body = [&]() -> coro_task<std::pair<result<int>, double>> {
    const auto start = clock_type::now();
    result<int> r = co_await fastrt::with_timeout(*ctx, p.get_future(), 30ms);
    co_return std::pair{std::move(r), ms_since(start)};
  };
  auto [r, ms] = run_on(*ctx, body());
  REQUIRE(r.error() == fastrt::errc::timed_out);
  REQUIRE(ms >= 30.0);
  REQUIRE(ms < 5000.0);
  std::thread late([p = std::move(p)]() mutable { p.set_value(1); });  // after the fact: harmless
  late.join();
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);  // every frame of the race is gone
}

TEST_CASE("with_timeout on a future completed from another thread in time: its value") {
  auto ctx = make_context();
  fastrt::promise<int> p;
  auto f = p.get_future();
  std::thread producer([p = std::move(p)]() mutable {
    std::this_thread::sleep_for(5ms);
    p.set_value(42);
  });
  const auto start = clock_type::now();
  result<int> r = run_on(*ctx, fastrt::with_timeout(*ctx, std::move(f), 10s));
  producer.join();
  REQUIRE(r.value() == 42);
  // The 10 s timer was cancelled by the winner (on the loop thread: the
  // stop callback cancels directly and removes itself), not waited out.
  REQUIRE(ms_since(start) < 5000.0);
}

TEST_CASE("a stop requested on the loop thread cancels a sleep in flight, or one about to start, at once") {
  auto ctx = make_context();
  std::stop_source source;
  auto body = [&]() -> coro_task<std::pair<result<void>, result<void>>> {
    auto stopper = [&]() -> coro_task<> {
      (void)co_await fastrt::sleep_for(*ctx, 5ms);
      source.request_stop();  // on the loop thread, while the long sleep is in flight
    };
    auto [in_flight, unused] =
        co_await fastrt::when_all(fastrt::with_stop_token(fastrt::sleep_for(*ctx, 10s), source.get_token()), stopper());
    (void)unused;
    // Already stopped: the callback runs while it is being registered.
    result<void> late = co_await fastrt::with_stop_token(fastrt::sleep_for(*ctx, 10s), source.get_token());
    co_return std::pair{std::move(in_flight), std::move(late)};
  };
  const auto start = clock_type::now();
  auto [in_flight, late] = run_on(*ctx, body());
  REQUIRE(in_flight.error() == fastrt::errc::canceled);
  REQUIRE(late.error() == fastrt::errc::canceled);
  REQUIRE(ms_since(start) < 5000.0);
}

TEST_CASE("with_timeout on an lvalue future awaits it in place: after a timeout it can be awaited again") {
  auto ctx = make_context();
  fastrt::promise<int> p;
  auto f = p.get_future();
  REQUIRE(run_on(*ctx, fastrt::with_timeout(*ctx, f, 10ms)).error() == fastrt::errc::timed_out);
  REQUIRE(f.valid());
  p.set_value(7);
  REQUIRE(run_on(*ctx, fastrt::with_timeout(*ctx, f, 10s)).value() == 7);
}

TEST_CASE("with_timeout on a sleep, and on a with_stop_token") {
  auto ctx = make_context();
  // A sleep longer than the limit is cut; a shorter one wins.
  REQUIRE(run_on(*ctx, fastrt::with_timeout(*ctx, fastrt::sleep_for(*ctx, 10s), 10ms)).error() ==
          fastrt::errc::timed_out);
  REQUIRE(run_on(*ctx, fastrt::with_timeout(*ctx, fastrt::sleep_for(*ctx, 1ms), 10s)).has_value());

  // A void result becomes result<void>; a stop of the caller is reported as canceled.
  std::stop_source caller;
  auto body = [&]() -> coro_task<result<void>> {
    auto stopper = [&]() -> coro_task<> {
      (void)co_await fastrt::sleep_for(*ctx, 5ms);
      caller.request_stop();
    };
    fastrt::promise<void> never;
    auto [r, unused] = co_await fastrt::when_all(
        fastrt::with_stop_token(fastrt::with_timeout(*ctx, never.get_future(), 10s), caller.get_token()), stopper());
    (void)unused;
    co_return r;
  };
  const auto start = clock_type::now();
  REQUIRE(run_on(*ctx, body()).error() == fastrt::errc::canceled);
  REQUIRE(ms_since(start) < 5000.0);
}
