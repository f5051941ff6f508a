// ctest-labels: concurrency uring
#include <fastrt/future.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/when_all.hpp>
#include <fastrt/with_stop_token.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "support/io.hpp"

using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::io_context;

using fastrt::test::make_context;
using fastrt::test::run_on;

TEST_CASE("io_context sets up a ring and says how") {
  auto ctx = make_context();
  INFO("setup mode: " << ctx->setup_mode());
  REQUIRE(std::string(ctx->setup_mode()) != "none");
}

TEST_CASE("an impossible ring size gives a clear error, not a crash") {
  fastrt::io_context_options options;
  options.entries = 1u << 20;  // the kernel allows at most 32768
  auto created = io_context::create(options);
  REQUIRE_FALSE(created.has_value());
  REQUIRE(created.error().message().find("io_uring setup failed") != std::string_view::npos);
}

TEST_CASE("post from two threads runs every function exactly once on the loop") {
  for (auto method : {fastrt::wakeup_method::eventfd, fastrt::wakeup_method::msg_ring}) {
    fastrt::io_context_options options;
    options.wakeup = method;
    auto ctx = make_context(options);
    constexpr int per_thread = 50'000;
    std::vector<std::atomic<int>> runs(2 * per_thread);
    std::atomic<int> done{0};
    std::atomic<bool> wrong_thread{false};
    std::thread loop([&] { ctx->run(); });
    auto produce = [&](int base) {
      for (int i = base; i < base + per_thread; ++i) {
        ctx->post([&, i] {
          if (!ctx->running_in_this_thread()) wrong_thread = true;
          runs[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
          if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == 2 * per_thread) ctx->stop();
        });
        if (i % 1000 == 0) std::this_thread::sleep_for(50us);  // let the loop fall asleep now and then
      }
    };
    std::thread a(produce, 0), b(produce, per_thread);
    a.join();
    b.join();
    loop.join();
    REQUIRE_FALSE(wrong_thread.load());
    for (auto& r : runs) REQUIRE(r.load() == 1);
    INFO("wake-ups paid: " << ctx->wakeups_sent());
    REQUIRE(ctx->wakeups_sent() < 2u * per_thread);  // not one syscall per post
  }
}

TEST_CASE("an awaitable_future completed on another thread resumes on the loop") {
  auto ctx = make_context();
  fastrt::promise<int> p;
  auto f = p.get_future();
  std::thread completer([&] {
    std::this_thread::sleep_for(20ms);
    p.set_value(11);
  });
  auto body = [&]() -> coro_task<bool> {
    auto r = co_await std::move(f);
    co_return r.value() == 11 && ctx->running_in_this_thread();
  };
  REQUIRE(run_on(*ctx, body()));
  completer.join();
}

TEST_CASE("sleep_for and sleep_until wait at least as long as asked") {
  auto ctx = make_context();
  auto body = [&]() -> coro_task<bool> {
    const auto start = std::chrono::steady_clock::now();
    auto slept = co_await fastrt::sleep_for(*ctx, 30ms);
    const auto mid = std::chrono::steady_clock::now();
    auto until = co_await fastrt::sleep_until(*ctx, mid + 20ms);
    const auto end = std::chrono::steady_clock::now();
    co_return slept.has_value() && until.has_value() && mid - start >= 30ms && end - mid >= 20ms;
  };
  REQUIRE(run_on(*ctx, body()));
}

TEST_CASE("with_timeout: the timer fires and the slow task is cancelled") {
  auto ctx = make_context();
  auto slow = [&]() -> coro_task<fastrt::result<int>> {
    auto slept = co_await fastrt::sleep_for(*ctx, 10s);
    if (!slept) co_return slept.error();  // cancelled: report it
    co_return 1;
  };
  auto body = [&]() -> coro_task<std::pair<bool, double>> {
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await fastrt::with_timeout(*ctx, slow(), 50ms);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    co_return std::pair{!r.has_value() && r.error() == fastrt::errc::timed_out, ms};
  };
  auto [timed_out, ms] = run_on(*ctx, body());
  REQUIRE(timed_out);
  REQUIRE(ms >= 50.0);
  REQUIRE(ms < 5000.0);  // the 10 s sleep was cancelled, not waited out
}

TEST_CASE("with_timeout: a fast task wins and the timer is cancelled") {
  auto ctx = make_context();
  auto fast = [&]() -> coro_task<int> {
    if (!co_await fastrt::sleep_for(*ctx, 1ms)) co_return -1;
    co_return 5;
  };
  auto body = [&]() -> coro_task<std::pair<int, double>> {
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await fastrt::with_timeout(*ctx, fast(), 10s);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    co_return std::pair{r.value(), ms};
  };
  auto [value, ms] = run_on(*ctx, body());
  REQUIRE(value == 5);
  REQUIRE(ms < 5000.0);
}

TEST_CASE("a sleep whose coroutine is destroyed mid-flight is cancelled and freed") {
  auto ctx = make_context();
  const auto live_before = fastrt::detail::frame_allocator::live_blocks_on_this_thread();
  {
    auto sleeper = [&]() -> coro_task<> { (void)co_await fastrt::sleep_for(*ctx, 10s); };
    auto task = sleeper();
    auto body = [&]() -> coro_task<> {
      task.handle().resume();        // starts the sleep: the timeout is now in the kernel
      (void)co_await fastrt::sleep_for(*ctx, 5ms);
      task = {};                     // destroy the suspended coroutine: cancels the timeout
      (void)co_await fastrt::sleep_for(*ctx, 5ms);  // the cancelled completion arrives meanwhile
    };
    run_on(*ctx, body());
  }
  REQUIRE(fastrt::detail::frame_allocator::live_blocks_on_this_thread() == live_before);
}

TEST_CASE("post never blocks, even past a full inbox") {
  fastrt::io_context_options small;
  small.post_capacity = 2;
  auto ctx = make_context(small);
  std::atomic<int> ran{0};
  // The loop is busy (not draining) while another thread posts 1000 items.
  auto body = [&]() -> coro_task<int> {
    std::thread poster([&] {
      for (int i = 0; i < 1000; ++i) ctx->post([&] { ran.fetch_add(1); });
    });
    poster.join();  // would deadlock if post waited for room: the loop is right here
    (void)co_await fastrt::sleep_for(*ctx, 1ms);
    co_return ran.load();
  };
  REQUIRE(run_on(*ctx, body()) == 1000);
}

TEST_CASE("stop() from another thread may race with destroying the context after run()") {
  for (int round = 0; round < 200; ++round) {
    auto ctx = make_context();
    fastrt::io_context* raw = ctx.get();
    std::thread stopper([raw, round] {
      std::this_thread::sleep_for(std::chrono::microseconds(round % 7 * 50));
      raw->stop();
    });
    ctx->run();
    ctx.reset();  // must wait for the stopper to leave stop()
    stopper.join();
  }
  SUCCEED("no use after free (ASan), no hang");
}

TEST_CASE("with_timeout reports a stopped caller as canceled, and huge sleeps do not overflow") {
  auto ctx = make_context();
  auto body = [&]() -> coro_task<std::pair<bool, bool>> {
    // sleep_for(hours::max()) must wait, not fire at once.
    auto forever = [](io_context& c) -> coro_task<fastrt::result<void>> {
      co_return co_await fastrt::sleep_for(c, std::chrono::hours::max());
    };
    auto limited = co_await fastrt::with_timeout(*ctx, forever(*ctx), 20ms);
    const bool waited = !limited && limited.error() == fastrt::errc::timed_out;

    // The caller of with_timeout is stopped before either child finishes.
    std::stop_source caller;
    auto inner = [](io_context& c) -> coro_task<fastrt::result<void>> {
      auto slow = [](io_context& cc) -> coro_task<fastrt::result<void>> {
        co_return co_await fastrt::sleep_for(cc, 10s);
      };
      co_return co_await fastrt::with_timeout(c, slow(c), 10s);
    }(*ctx);
    auto stopper = [](io_context& c, std::stop_source& s) -> coro_task<> {
      (void)co_await fastrt::sleep_for(c, 10ms);
      s.request_stop();
    };
    auto [outcome, unused] = co_await fastrt::when_all(fastrt::with_stop_token(std::move(inner), caller.get_token()),
                                                         stopper(*ctx, caller));
    co_return std::pair{waited, !outcome && outcome.error() == fastrt::errc::canceled};
  };
  auto [waited, canceled] = run_on(*ctx, body());
  REQUIRE(waited);
  REQUIRE(canceled);
}

TEST_CASE("with_timeout around an await on a future that completes late: timed_out at once, the late value is dropped") {
  auto ctx = make_context();
  fastrt::promise<int> p;
  auto f = p.get_future();
  // The producer (think: a Python worker) knows nothing of the timeout.
  auto awaiting = [](fastrt::awaitable_future<int>& future) -> coro_task<fastrt::result<int>> {
    co_return co_await future;
  };
  auto body = [&]() -> coro_task<std::pair<bool, double>> {
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await fastrt::with_timeout(*ctx, awaiting(f), 30ms);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    co_return std::pair{!r && r.error() == fastrt::errc::timed_out, ms};
  };
  auto [timed_out, ms] = run_on(*ctx, body());
  REQUIRE(timed_out);
  REQUIRE(ms >= 30.0);
  REQUIRE(ms < 5000.0);

  std::thread late([p = std::move(p)]() mutable { p.set_value(9); });  // after the fact: harmless
  late.join();
  REQUIRE(f.is_ready());
}

TEST_CASE("io_context::current() is the loop running on this thread, null elsewhere") {
  REQUIRE(io_context::current() == nullptr);
  // Two loops on two io threads: work posted to each sees its own loop.
  std::unique_ptr<io_context> first_owned = make_context(), second_owned = make_context();
  io_context* const first = first_owned.get();
  io_context* const second = second_owned.get();
  std::atomic<io_context*> seen_first{nullptr}, seen_second{nullptr};
  std::atomic<io_context*> after_first{first}, after_second{second};  // anything but null
  std::atomic<int> answered{0};
  auto loop = [](std::unique_ptr<io_context>& ctx, std::atomic<io_context*>& after) {
    ctx->run();
    after.store(io_context::current(), std::memory_order_release);  // run() returned: null again
    ctx.reset();  // on its loop thread, as io_context asks
  };
  std::thread a(loop, std::ref(first_owned), std::ref(after_first));
  std::thread b(loop, std::ref(second_owned), std::ref(after_second));
  first->post([&] {
    seen_first.store(io_context::current(), std::memory_order_release);
    answered.fetch_add(1, std::memory_order_acq_rel);
  });
  second->post([&] {
    seen_second.store(io_context::current(), std::memory_order_release);
    answered.fetch_add(1, std::memory_order_acq_rel);
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (answered.load(std::memory_order_acquire) < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  first->stop();
  second->stop();
  a.join();
  b.join();
  REQUIRE(answered.load() == 2);
  CHECK(seen_first.load() == first);
  CHECK(seen_second.load() == second);
  CHECK(after_first.load() == nullptr);
  CHECK(after_second.load() == nullptr);
  CHECK(io_context::current() == nullptr);  // this thread ran no loop

  // On this thread too: set inside run(), restored when it returns.
  auto here = make_context();
  auto body = [&]() -> coro_task<io_context*> { co_return io_context::current(); };
  CHECK(run_on(*here, body()) == here.get());
  CHECK(io_context::current() == nullptr);
}
