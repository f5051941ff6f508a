// ctest-labels: concurrency uring
#include <fastrt/async_scope.hpp>
#include <fastrt/future.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/when_all.hpp>
#include <fastrt/when_any.hpp>
#include <fastrt/with_stop_token.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <stop_token>
#include <thread>
#include <utility>

#include "support/elapsed.hpp"
#include "support/io.hpp"

using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::io_context;
using fastrt::result;
using fastrt::with_stop_token;
using fastrt::detail::frame_allocator;
using fastrt::test::make_context;
using fastrt::test::ms_since;
using fastrt::test::run_on;

namespace {

using clock_type = std::chrono::steady_clock;

coro_task<std::stop_token> token_seen() { co_return co_await fastrt::this_task::stop_token(); }

coro_task<result<void>> nap(io_context& ctx, std::chrono::milliseconds d) {
  co_return co_await fastrt::sleep_for(ctx, d);
}

// Sleeps, then says whether its token could still be stopped.
coro_task<std::pair<result<void>, bool>> token_then_nap(io_context& ctx) {
  result<void> slept = co_await fastrt::sleep_for(ctx, 20ms);
  const std::stop_token token = co_await fastrt::this_task::stop_token();
  co_return std::pair{slept, token.stop_possible()};
}

// Requests a stop on `source` after `delay`, from the loop.
coro_task<> stop_after(io_context& ctx, std::chrono::milliseconds delay, std::stop_source& source) {
  (void)co_await fastrt::sleep_for(ctx, delay);
  source.request_stop();
}

}  // namespace

TEST_CASE("with_stop_token: a task sees the given token, and nothing without one") {
  std::stop_source source;
  const std::stop_token seen = fastrt::sync_wait(with_stop_token(token_seen(), source.get_token()));
  REQUIRE(seen == source.get_token());
  REQUIRE_FALSE(seen.stop_requested());
  REQUIRE_FALSE(fastrt::sync_wait(token_seen()).stop_possible());  // no token: never stopped

  // Inherited by what the task awaits, at any depth.
  auto outer = []() -> coro_task<std::stop_token> { co_return co_await token_seen(); };
  REQUIRE(fastrt::sync_wait(with_stop_token(outer(), source.get_token())) == source.get_token());
}

TEST_CASE("with_stop_token: a stop requested before the await") {
  std::stop_source source;
  source.request_stop();

  SECTION("a task still runs, and sees the stop") {
    bool ran = false;
    auto body = [&]() -> coro_task<bool> {
      ran = true;
      co_return (co_await fastrt::this_task::stop_token()).stop_requested();
    };
    REQUIRE(fastrt::sync_wait(with_stop_token(body(), source.get_token())));
    REQUIRE(ran);
  }
  SECTION("a future not yet completed: canceled without waiting; one already completed delivers its value") {
    fastrt::promise<int> pending;
    auto never = pending.get_future();
    result<int> r = fastrt::sync_wait(with_stop_token(std::move(never), source.get_token()));
    REQUIRE(r.error() == fastrt::errc::canceled);

    fastrt::promise<int> done;
    auto ready = done.get_future();
    done.set_value(5);
    REQUIRE(fastrt::sync_wait(with_stop_token(std::move(ready), source.get_token())).value() == 5);
  }
  SECTION("a sleep ends at once with errc::canceled") {
    auto ctx = make_context();
    const auto start = clock_type::now();
    result<void> slept = run_on(*ctx, with_stop_token(fastrt::sleep_for(*ctx, 10s), source.get_token()));
    REQUIRE(slept.error() == fastrt::errc::canceled);
    REQUIRE(ms_since(start) < 5000.0);
  }
}

TEST_CASE("with_stop_token: a stop while suspended in a sleep ends it with errc::canceled") {
  auto ctx = make_context();
  std::stop_source source;
  auto body = [&]() -> coro_task<result<void>> {
    auto [slept, unused] = co_await fastrt::when_all(with_stop_token(fastrt::sleep_for(*ctx, 10s), source.get_token()),
                                                     stop_after(*ctx, 10ms, source));
    (void)unused;
    co_return slept;
  };
  const auto start = clock_type::now();
  result<void> slept = run_on(*ctx, body());
  REQUIRE(slept.error() == fastrt::errc::canceled);
  REQUIRE(ms_since(start) < 5000.0);

  // Requested from another thread while the loop sleeps in the kernel.
  std::stop_source remote;
  std::thread stopper([&] {
    std::this_thread::sleep_for(10ms);
    remote.request_stop();
  });
  const auto again = clock_type::now();
  result<void> slept_again = run_on(*ctx, with_stop_token(nap(*ctx, 10s), remote.get_token()));
  stopper.join();
  REQUIRE(slept_again.error() == fastrt::errc::canceled);
  REQUIRE(ms_since(again) < 5000.0);
}

TEST_CASE("with_stop_token: a stop while suspended in a future await, from another thread") {
  fastrt::thread_pool pool(2);
  for (int round = 0; round < 50; ++round) {
    fastrt::promise<int> p;
    auto f = p.get_future();
    std::stop_source source;
    std::atomic<bool> awaiting{false};
    auto body = [&]() -> coro_task<result<int>> {
      co_await pool.schedule();
      awaiting.store(true, std::memory_order_release);
      co_return co_await with_stop_token(f, source.get_token());  // an lvalue: awaited in place
    };
    std::thread stopper([&] {
      while (!awaiting.load(std::memory_order_acquire)) std::this_thread::yield();
      if (round % 2) std::this_thread::sleep_for(1ms);  // sometimes surely suspended, sometimes racing
      source.request_stop();
    });
    result<int> r = fastrt::sync_wait(body());
    stopper.join();
    REQUIRE(r.error() == fastrt::errc::canceled);
    p.set_value(round);  // late: dropped, no resumption
    REQUIRE(fastrt::sync_wait(std::move(f)).value() == round);  // the future is still usable
  }
}

TEST_CASE("with_stop_token: the caller's stop does not reach inside; an empty token shields") {
  auto ctx = make_context();
  std::stop_source caller;
  auto shielded = [&]() -> coro_task<std::pair<result<void>, result<void>>> {
    // The caller is stopped at once, while both sleeps run.
    caller.request_stop();
    result<void> kept = co_await with_stop_token(nap(*ctx, 20ms), std::stop_token{});
    result<void> plain = co_await nap(*ctx, 10s);  // the caller's token again
    co_return std::pair{kept, plain};
  };
  auto [kept, plain] = run_on(*ctx, with_stop_token(shielded(), caller.get_token()));
  REQUIRE(kept.has_value());
  REQUIRE(plain.error() == fastrt::errc::canceled);
}

TEST_CASE("with_stop_token: the caller's source may be destroyed while the await runs") {
  auto ctx = make_context();
  SECTION("destroyed without a stop: the await simply completes") {
    auto source = std::make_unique<std::stop_source>();
    auto body = [&]() -> coro_task<std::pair<result<void>, bool>> {
      auto drop = [](io_context& c, std::unique_ptr<std::stop_source>& s) -> coro_task<> {
        (void)co_await fastrt::sleep_for(c, 5ms);
        s.reset();  // nobody can stop the sleep any more
      };
      auto [slept, unused] =
          co_await fastrt::when_all(with_stop_token(token_then_nap(*ctx), source->get_token()), drop(*ctx, source));
      (void)unused;
      co_return slept;
    };
    auto [slept, possible_after] = run_on(*ctx, body());
    REQUIRE(slept.has_value());
    REQUIRE_FALSE(possible_after);  // the token outlived its source: it can no longer be stopped
    REQUIRE(source == nullptr);
  }
  SECTION("stopped, then destroyed, while the await is in flight") {
    auto source = std::make_unique<std::stop_source>();
    auto body = [&]() -> coro_task<result<void>> {
      auto stop_and_drop = [](io_context& c, std::unique_ptr<std::stop_source>& s) -> coro_task<> {
        (void)co_await fastrt::sleep_for(c, 5ms);
        s->request_stop();
        s.reset();
      };
      auto [slept, unused] =
          co_await fastrt::when_all(with_stop_token(nap(*ctx, 10s), source->get_token()), stop_and_drop(*ctx, source));
      (void)unused;
      co_return slept;
    };
    REQUIRE(run_on(*ctx, body()).error() == fastrt::errc::canceled);
  }
  SECTION("the caller's own token and source are gone before the task even starts") {
    // With the old promise().set_stop_token(&token), this pattern read a
    // destroyed token (ASan: stack-use-after-scope).
    auto make = [&](std::stop_source& keep_alive_until_stopped) -> coro_task<result<void>> {
      std::stop_source local;
      const std::stop_token token = local.get_token();
      keep_alive_until_stopped = local;  // a second handle on the same stop state
      return with_stop_token(nap(*ctx, 10s), token);
    };
    std::stop_source handle;
    coro_task<result<void>> task = make(handle);
    auto body = [&]() -> coro_task<result<void>> {
      auto [slept, unused] = co_await fastrt::when_all(std::move(task), stop_after(*ctx, 5ms, handle));
      (void)unused;
      co_return slept;
    };
    REQUIRE(run_on(*ctx, body()).error() == fastrt::errc::canceled);
  }
}

TEST_CASE("with_stop_token nested: the innermost token wins for what it wraps") {
  auto ctx = make_context();
  std::stop_source outer, inner;
  auto body = [&]() -> coro_task<bool> {
    // Stopping the outer token does not reach the inner sleep...
    auto [shielded, unused1] = co_await fastrt::when_all(with_stop_token(nap(*ctx, 30ms), inner.get_token()),
                                                         stop_after(*ctx, 5ms, outer));
    (void)unused1;
    // ...after it, the task sees its own (outer, stopped) token again...
    const std::stop_token mine = co_await fastrt::this_task::stop_token();
    // ...and stopping the inner token does.
    auto [stopped, unused2] = co_await fastrt::when_all(with_stop_token(nap(*ctx, 10s), inner.get_token()),
                                                        stop_after(*ctx, 5ms, inner));
    (void)unused2;
    co_return shielded.has_value() && mine == outer.get_token() && mine.stop_requested() &&
        stopped.error() == fastrt::errc::canceled;
  };
  REQUIRE(run_on(*ctx, with_stop_token(body(), outer.get_token())));

  // with_stop_token of with_stop_token: the inner call's token is the one seen.
  std::stop_source a, b;
  REQUIRE(fastrt::sync_wait(with_stop_token(with_stop_token(token_seen(), a.get_token()), b.get_token())) ==
          a.get_token());
}

TEST_CASE("with_stop_token composes: when_any stops the task around it, not the token inside") {
  auto ctx = make_context();
  std::stop_source never;
  auto body = [&]() -> coro_task<std::size_t> {
    // The quick child wins at once; when_any asks the other to stop, but the
    // sleep inside has its own token and runs to its end.
    auto quick = []() -> coro_task<result<void>> { co_return result<void>{}; };
    auto r = co_await fastrt::when_any(with_stop_token(nap(*ctx, 20ms), never.get_token()), quick());
    co_return r.index();
  };
  const auto start = clock_type::now();
  REQUIRE(run_on(*ctx, body()) == 1);
  REQUIRE(ms_since(start) >= 20.0);  // the loser was awaited to its (unstopped) end

  // async_scope: a spawned task keeps its own token, not the scope's.
  std::stop_source own;
  std::atomic<int> saw_own{0};
  auto spawner = [&]() -> coro_task<> {
    fastrt::async_scope scope;
    auto check = [&]() -> coro_task<> {
      const std::stop_token t = co_await fastrt::this_task::stop_token();
      if (t == own.get_token()) saw_own.fetch_add(1);
    };
    scope.spawn(with_stop_token(check(), own.get_token()));
    scope.request_stop();
    co_await scope.join();
  };
  fastrt::sync_wait(spawner());
  REQUIRE(saw_own.load() == 1);
}

TEST_CASE("with_stop_token dropped unawaited destroys the awaitable without running it") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  bool ran = false;
  {
    auto body = [&]() -> coro_task<> {
      ran = true;
      co_return;
    };
    std::stop_source source;
    auto task = with_stop_token(body(), source.get_token());
    fastrt::promise<int> p;
    auto future_task = with_stop_token(p.get_future(), source.get_token());
  }
  REQUIRE_FALSE(ran);
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}
