// ctest-labels: concurrency
#include <fastrt/future.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>
#include <fastrt/thread_pool.hpp>
#include <fastrt/when_all.hpp>
#include <fastrt/with_stop_token.hpp>

#include <atomic>
#include <catch2/catch.hpp>

#include "support/counted.hpp"
#include <chrono>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

using fastrt::coro_task;
using fastrt::sync_wait;
using fastrt::when_all;
using fastrt::detail::frame_allocator;
using fastrt::detail::void_value;

namespace {

coro_task<int> value(int v) { co_return v; }
coro_task<std::string> text(std::string s) { co_return s; }
coro_task<void> touch(int& counter) {
  ++counter;
  co_return;
}
coro_task<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }

using tracked = fastrt::test::counted;  // counts lifetimes: double delivery or a leak shows

coro_task<tracked> make_tracked(int v) { co_return tracked(v); }

// Suspends on a future that a sibling completes later.
coro_task<int> wait_for(fastrt::awaitable_future<int> f, bool& finished) {
  fastrt::result<int> r = co_await std::move(f);
  finished = true;
  co_return r.value() * 10;
}
coro_task<void> complete(fastrt::promise<int> p, int v) {
  p.set_value(v);
  co_return;
}

coro_task<int> run_on_pool(fastrt::thread_pool& pool, int v, std::atomic<int>* on_pool_count,
                           std::chrono::microseconds delay = std::chrono::microseconds(0)) {
  co_await pool.schedule();
  if (pool.running_in_this_thread()) on_pool_count->fetch_add(1, std::memory_order_relaxed);
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  co_return v;
}

coro_task<tracked> tracked_on_pool(fastrt::thread_pool& pool, int v) {
  co_await pool.schedule();
  co_return tracked(v);
}

}  // namespace

TEST_CASE("when_all yields every value in input order, void as void_value") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  int touched = 0;
  auto [a, b, c, d] = sync_wait(when_all(value(1), text("two"), touch(touched), value(4)));
  STATIC_REQUIRE(std::is_same_v<decltype(c), void_value>);
  REQUIRE(a == 1);
  REQUIRE(b == "two");
  REQUIRE(touched == 1);
  REQUIRE(d == 4);
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_all of no tasks completes at once") {
  std::tuple<> none = sync_wait(when_all());
  (void)none;
  std::vector<int> empty = sync_wait(when_all(std::vector<coro_task<int>>{}));
  REQUIRE(empty.empty());
}

TEST_CASE("when_all moves move-only values out exactly once") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  auto [p, q] = sync_wait(when_all(boxed(5), boxed(6)));
  REQUIRE(*p == 5);
  REQUIRE(*q == 6);
  {
    auto [x, y, z] = sync_wait(when_all(make_tracked(1), make_tracked(2), make_tracked(3)));
    REQUIRE(x.get() == 1);
    REQUIRE(y.get() == 2);
    REQUIRE(z.get() == 3);
    REQUIRE(tracked::alive() == 3);
  }
  REQUIRE(tracked::alive() == 0);
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_all resumes the parent after the last child, even one that suspended") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  {
    fastrt::promise<int> p;
    auto f = p.get_future();
    bool waited = false;
    // The first child suspends; the second completes it. The parent must
    // not resume when the second (synchronous) child finishes.
    auto [w, v] = sync_wait(when_all(wait_for(std::move(f), waited), complete(std::move(p), 7)));
    REQUIRE(waited);
    REQUIRE(w == 70);
    (void)v;
  }
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("an unawaited when_all destroys its tasks") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  int touched = 0;
  {
    auto pending = when_all(value(1), touch(touched));
    std::vector<coro_task<int>> tasks;
    tasks.push_back(value(2));
    auto pending_range = when_all(std::move(tasks));
  }
  REQUIRE(touched == 0);
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_all over a range keeps input order and handles void") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  {
    std::vector<coro_task<int>> tasks;
    for (int i = 0; i < 10000; ++i) tasks.push_back(value(i));  // all synchronous: constant stack
    std::vector<int> values = sync_wait(when_all(std::move(tasks)));
    REQUIRE(values.size() == 10000);
    for (int i = 0; i < 10000; ++i) REQUIRE(values[static_cast<std::size_t>(i)] == i);

    int touched = 0;
    std::vector<coro_task<void>> voids;
    for (int i = 0; i < 5; ++i) voids.push_back(touch(touched));
    std::vector<void_value> done = sync_wait(when_all(std::move(voids)));
    REQUIRE(done.size() == 5);
    REQUIRE(touched == 5);
  }
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_all children complete on pool threads, results stay in input order") {
  fastrt::thread_pool pool(2);
  std::atomic<int> on_pool{0};
  // Earlier children sleep longer, so they tend to finish last.
  auto [a, b, c] = sync_wait(when_all(run_on_pool(pool, 1, &on_pool, std::chrono::microseconds(3000)),
                                      run_on_pool(pool, 2, &on_pool, std::chrono::microseconds(1000)),
                                      run_on_pool(pool, 3, &on_pool)));
  REQUIRE(a == 1);
  REQUIRE(b == 2);
  REQUIRE(c == 3);
  REQUIRE(on_pool.load() == 3);

  std::vector<coro_task<int>> tasks;
  for (int i = 0; i < 64; ++i) {
    tasks.push_back(run_on_pool(pool, i, &on_pool, std::chrono::microseconds((64 - i) % 7 * 50)));
  }
  std::vector<int> values = sync_wait(when_all(std::move(tasks)));
  REQUIRE(values.size() == 64);
  for (int i = 0; i < 64; ++i) REQUIRE(values[static_cast<std::size_t>(i)] == i);
  REQUIRE(on_pool.load() == 3 + 64);
}

TEST_CASE("when_all children inherit the parent's stop token") {
  std::stop_source source;
  std::stop_token token = source.get_token();
  std::atomic<int> saw_parent_token{0};
  auto child = [&]() -> coro_task<void> {
    std::stop_token t = co_await fastrt::this_task::stop_token();
    if (t == token && t.stop_requested()) saw_parent_token.fetch_add(1);
  };
  auto parent = [&]() -> coro_task<void> {
    std::vector<coro_task<void>> range;
    range.push_back(child());
    range.push_back(child());
    co_await when_all(child(), child());
    co_await when_all(std::move(range));
  };
  source.request_stop();
  sync_wait(fastrt::with_stop_token(parent(), token));
  REQUIRE(saw_parent_token.load() == 4);
}

TEST_CASE("when_all stress: many short fork/joins across a pool") {
  fastrt::thread_pool pool(2);
  std::atomic<int> on_pool{0};
  std::atomic<long> sum{0};
  std::atomic<int> order_errors{0};
  auto loop = [&]() -> coro_task<void> {
    for (int i = 0; i < 3000; ++i) {
      auto [x, y, z] = co_await when_all(run_on_pool(pool, i, &on_pool), value(1), run_on_pool(pool, -i, &on_pool));
      if (x != i || y != 1 || z != -i) order_errors.fetch_add(1);
      sum.fetch_add(x + y + z);
      std::vector<coro_task<tracked>> tasks;
      tasks.push_back(make_tracked(i));
      tasks.push_back(tracked_on_pool(pool, i + 1));
      std::vector<tracked> got = co_await when_all(std::move(tasks));
      if (got.size() != 2 || got[0].get() != static_cast<std::uint64_t>(i) || got[1].get() != static_cast<std::uint64_t>(i + 1)) order_errors.fetch_add(1);
    }
  };
  sync_wait(loop());
  REQUIRE(order_errors.load() == 0);
  REQUIRE(sum.load() == 3000);
  REQUIRE(on_pool.load() == 6000);
  REQUIRE(tracked::alive() == 0);
}
