// ctest-labels: concurrency
#include <fastrt/future.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/thread_pool.hpp>
#include <fastrt/with_stop_token.hpp>

#include <atomic>
#include <chrono>
#include <catch2/catch.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "support/threads.hpp"

using fastrt::awaitable_future;
using fastrt::coro_task;
using fastrt::promise;
using fastrt::result;

TEST_CASE("a value set before the await is delivered without suspending") {
  promise<int> p;
  auto f = p.get_future();
  p.set_value(7);
  REQUIRE(f.is_ready());
  result<int> r = fastrt::sync_wait(std::move(f));
  REQUIRE(r.value() == 7);
}

TEST_CASE("move-only values, void and result values") {
  promise<std::unique_ptr<int>> p;
  auto f = p.get_future();
  p.set_value(std::make_unique<int>(9));
  REQUIRE(*fastrt::sync_wait(std::move(f)).value() == 9);

  promise<void> v;
  auto fv = v.get_future();
  v.set_value();
  REQUIRE(fastrt::sync_wait(std::move(fv)).has_value());

  // A future of result<T> yields that result, not result<result<T>>.
  promise<result<int>> pr;
  auto fr = pr.get_future();
  pr.set_value(fastrt::error(std::errc::io_error, "disk"));
  STATIC_REQUIRE(std::is_same_v<decltype(fastrt::sync_wait(std::move(fr))), result<int>>);
}

TEST_CASE("set_error reaches the awaiter") {
  promise<int> p;
  auto f = p.get_future();
  p.set_error(fastrt::error(std::errc::connection_reset, "peer went away"));
  auto r = fastrt::sync_wait(std::move(f));
  REQUIRE(r.error() == std::errc::connection_reset);
}

TEST_CASE("a promise destroyed without a value gives broken_promise, not a hang") {
  fastrt::thread_pool pool(1);
  auto f = [] {
    promise<int> p;
    return p.get_future();
  }();
  REQUIRE(fastrt::sync_wait(std::move(f)).error() == fastrt::errc::broken_promise);

  // Also when the awaiter is already suspended on another thread.
  promise<int> p;
  auto g = p.get_future();
  std::thread dropper([p = std::move(p)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    promise<int> gone = std::move(p);
  });
  auto r = fastrt::sync_wait(std::move(g));
  dropper.join();
  REQUIRE(r.error() == fastrt::errc::broken_promise);
  REQUIRE(r.error().message().find("broken promise") != std::string_view::npos);
}

TEST_CASE("the awaiter resumes on its own executor, not on the completing thread") {
  fastrt::thread_pool pool(1);
  promise<int> p;
  auto f = p.get_future();
  std::thread::id completer_id;
  std::atomic<bool> suspended{false};

  auto body = [&]() -> coro_task<std::pair<bool, std::thread::id>> {
    co_await pool.schedule();
    suspended.store(true);
    auto r = co_await std::move(f);
    REQUIRE(r.value() == 1);
    co_return std::pair{pool.running_in_this_thread(), std::this_thread::get_id()};
  };
  std::thread completer([&] {
    completer_id = std::this_thread::get_id();
    while (!suspended.load()) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let it suspend
    p.set_value(1);
  });
  auto [on_pool, resumed_id] = fastrt::sync_wait(body());
  completer.join();
  REQUIRE(on_pool);
  REQUIRE(resumed_id != completer_id);
}

TEST_CASE("resume_inline resumes on the completing thread when asked") {
  promise<int> p;
  auto f = p.get_future();
  std::atomic<std::thread::id> completer_id{};
  std::atomic<bool> suspended{false};
  auto body = [&]() -> coro_task<std::thread::id> {
    suspended.store(true);
    auto r = co_await f.resume_inline();
    REQUIRE(r.value() == 2);
    co_return std::this_thread::get_id();
  };
  std::thread completer([&] {
    completer_id = std::this_thread::get_id();
    while (!suspended.load()) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    p.set_value(2);
  });
  auto resumed_id = fastrt::sync_wait(body());
  completer.join();
  REQUIRE(resumed_id == completer_id.load());
}

TEST_CASE("awaiting futures creates no threads") {
  fastrt::thread_pool pool(2);
  std::thread completer;  // one long-lived completer thread
  std::mutex mutex;
  std::deque<promise<int>> inbox;
  std::atomic<bool> done{false};
  completer = std::thread([&] {
    while (!done.load()) {
      std::unique_lock lock(mutex);
      if (inbox.empty()) {
        lock.unlock();
        std::this_thread::yield();
        continue;
      }
      auto p = std::move(inbox.front());
      inbox.pop_front();
      lock.unlock();
      p.set_value(5);
    }
  });
  const int threads_before = fastrt::test::thread_count();
  int peak = threads_before;
  auto body = [&]() -> coro_task<int> {
    co_await pool.schedule();
    int sum = 0;
    for (int i = 0; i < 1000; ++i) {
      promise<int> p;
      auto f = p.get_future();
      {
        std::lock_guard lock(mutex);
        inbox.push_back(std::move(p));
      }
      sum += (co_await std::move(f)).value();
      if (i % 100 == 0) peak = std::max(peak, fastrt::test::thread_count());
    }
    co_return sum;
  };
  REQUIRE(fastrt::sync_wait(body()) == 5000);
  done.store(true);
  completer.join();
  REQUIRE(peak == threads_before);
}

TEST_CASE("stress: one million futures completed from two threads, awaited on a third") {
  constexpr int total = 1'000'000;
  constexpr int batch = 256;  // futures outstanding at once
  fastrt::thread_pool awaiting_thread(1);

  struct lane {
    std::mutex mutex;
    std::deque<std::pair<int, promise<int>>> work;
  };
  lane lanes[2];
  std::atomic<bool> finished{false};
  auto complete_lane = [&](lane& l) {
    for (;;) {
      std::unique_lock lock(l.mutex);
      if (l.work.empty()) {
        lock.unlock();
        if (finished.load(std::memory_order_acquire)) return;
        std::this_thread::yield();
        continue;
      }
      auto [value, p] = std::move(l.work.front());
      l.work.pop_front();
      lock.unlock();
      p.set_value(value);
    }
  };
  std::thread completer_a(complete_lane, std::ref(lanes[0]));
  std::thread completer_b(complete_lane, std::ref(lanes[1]));

  std::vector<unsigned char> seen(total, 0);
  long resumptions = 0;
  bool wrong_value = false;
  auto consumer = [&]() -> coro_task<> {
    co_await awaiting_thread.schedule();
    std::vector<awaitable_future<int>> futures;
    futures.reserve(batch);
    for (int base = 0; base < total; base += batch) {
      futures.clear();
      for (int i = base; i < base + batch && i < total; ++i) {
        promise<int> p;
        futures.push_back(p.get_future());
        lane& l = lanes[i % 2];
        std::lock_guard lock(l.mutex);
        l.work.emplace_back(i, std::move(p));
      }
      for (std::size_t k = 0; k < futures.size(); ++k) {
        auto r = co_await std::move(futures[k]);
        ++resumptions;
        const int expected = base + static_cast<int>(k);
        if (!r || r.value() != expected) wrong_value = true;
        else ++seen[static_cast<std::size_t>(r.value())];
      }
    }
  };
  fastrt::sync_wait(consumer());
  finished.store(true, std::memory_order_release);
  completer_a.join();
  completer_b.join();

  REQUIRE_FALSE(wrong_value);
  REQUIRE(resumptions == total);
  REQUIRE(std::all_of(seen.begin(), seen.end(), [](unsigned char c) { return c == 1; }));
}

// --- cancellation by the awaiting coroutine's stop token ------------------

namespace {

// A task that awaits `f` (by reference, so the future outlives the await).
coro_task<result<int>> await_future(awaitable_future<int>& f) { co_return co_await f; }

coro_task<result<int>> await_future_on(fastrt::thread_pool& pool, awaitable_future<int>& f,
                                       std::atomic<bool>& about_to_await) {
  co_await pool.schedule();
  about_to_await.store(true, std::memory_order_release);
  co_return co_await f;
}

}  // namespace

TEST_CASE("a stop requested before the await cancels it without suspending; the late value is dropped") {
  std::stop_source source;
  const std::stop_token token = source.get_token();
  source.request_stop();
  promise<int> p;
  auto f = p.get_future();

  result<int> r = fastrt::sync_wait(fastrt::with_stop_token(await_future(f), token));
  REQUIRE_FALSE(r.has_value());
  REQUIRE(r.error() == fastrt::errc::canceled);
  REQUIRE(r.error().message().find("awaiting a future was canceled") != std::string_view::npos);

  p.set_value(3);  // nobody waits: stored, then freed with the future (ASan: no leak)
  REQUIRE(f.is_ready());
}

TEST_CASE("a value that is already there wins over a stop requested before the await") {
  std::stop_source source;
  const std::stop_token token = source.get_token();
  source.request_stop();
  promise<int> p;
  auto f = p.get_future();
  p.set_value(4);
  REQUIRE(fastrt::sync_wait(fastrt::with_stop_token(await_future(f), token)).value() == 4);
}

TEST_CASE("a canceled await leaves the future usable: awaiting it again gets the value") {
  std::stop_source source;
  const std::stop_token token = source.get_token();
  source.request_stop();
  promise<int> p;
  auto f = p.get_future();
  REQUIRE(fastrt::sync_wait(fastrt::with_stop_token(await_future(f), token)).error() == fastrt::errc::canceled);

  std::thread completer([p = std::move(p)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    p.set_value(6);
  });
  REQUIRE(fastrt::sync_wait(await_future(f)).value() == 6);  // no token this time
  completer.join();
}

TEST_CASE("a stop requested while suspended resumes the awaiter at once, on its executor") {
  fastrt::thread_pool pool(1);
  std::stop_source source;
  const std::stop_token token = source.get_token();
  promise<int> p;
  auto f = p.get_future();
  std::atomic<bool> about_to_await{false};

  auto task = fastrt::with_stop_token(await_future_on(pool, f, about_to_await), token);
  std::thread stopper([&] {
    while (!about_to_await.load(std::memory_order_acquire)) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // let it suspend
    source.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  result<int> r = fastrt::sync_wait(std::move(task));
  const auto waited = std::chrono::steady_clock::now() - start;
  stopper.join();
  REQUIRE(r.error() == fastrt::errc::canceled);
  REQUIRE(waited < std::chrono::seconds(5));  // the promise was never completed meanwhile

  p.set_value(1);  // late: no resumption, no effect
  REQUIRE(f.is_ready());
}

TEST_CASE("resume_inline awaits are not cancellable: the value still arrives") {
  std::stop_source source;
  const std::stop_token token = source.get_token();
  source.request_stop();
  promise<int> p;
  auto f = p.get_future();
  std::atomic<bool> suspended{false};
  auto body = [&]() -> coro_task<result<int>> {
    suspended.store(true);
    co_return co_await f.resume_inline();
  };
  auto task = fastrt::with_stop_token(body(), token);
  std::thread completer([&] {
    while (!suspended.load()) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    p.set_value(8);
  });
  result<int> r = fastrt::sync_wait(std::move(task));
  completer.join();
  REQUIRE(r.value() == 8);
}

TEST_CASE("stress: completion and stop race; the awaiter resumes exactly once with the value or canceled") {
  constexpr int rounds = 2000;
  fastrt::thread_pool pool(2);  // the awaiter may resume on either pool thread

  // Per round: a promise for the completer and a stop source for the stopper.
  struct round_state {
    promise<int> p;
    std::stop_source source;
  };
  std::unique_ptr<round_state> current;
  std::atomic<int> round{-1};   // the round whose coroutine is about to await
  std::atomic<int> acted{0};    // helper actions done in total
  std::atomic<bool> finished{false};

  auto helper = [&](bool completes) {
    for (int next = 0;; ++next) {
      while (round.load(std::memory_order_acquire) < next) {
        if (finished.load(std::memory_order_acquire)) return;
        std::this_thread::yield();
      }
      if (completes) current->p.set_value(next);
      else current->source.request_stop();
      acted.fetch_add(1, std::memory_order_acq_rel);
    }
  };
  std::thread completer(helper, true);
  std::thread stopper(helper, false);

  int values = 0, cancels = 0, wrong = 0;
  long resumptions = 0;
  for (int i = 0; i < rounds; ++i) {
    current = std::make_unique<round_state>();
    auto f = current->p.get_future();
    const std::stop_token token = current->source.get_token();
    auto body = [&, i]() -> coro_task<result<int>> {
      co_await pool.schedule();
      round.store(i, std::memory_order_release);  // release the helpers: all three race now
      result<int> r = co_await f;
      ++resumptions;  // the coroutine ran on past the await once more
      co_return r;
    };
    result<int> r = fastrt::sync_wait(fastrt::with_stop_token(body(), token));
    if (r) {
      ++values;
      if (r.value() != i) ++wrong;
    } else if (r.error() == fastrt::errc::canceled) {
      ++cancels;
    } else {
      ++wrong;
    }
    while (acted.load(std::memory_order_acquire) < 2 * (i + 1)) std::this_thread::yield();
    current.reset();
  }
  finished.store(true, std::memory_order_release);
  completer.join();
  stopper.join();

  INFO("values: " << values << ", canceled: " << cancels);
  REQUIRE(wrong == 0);
  REQUIRE(resumptions == rounds);
  REQUIRE(values + cancels == rounds);
}
