// ctest-labels: concurrency
#include <fastrt/future.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>
#include <fastrt/thread_pool.hpp>
#include <fastrt/when_all.hpp>
#include <fastrt/when_any.hpp>
#include <fastrt/with_stop_token.hpp>

#include <atomic>
#include <catch2/catch.hpp>

#include "support/counted.hpp"
#include <chrono>
#include <csignal>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "support/death.hpp"

using fastrt::coro_task;
using fastrt::sync_wait;
using fastrt::when_any;
using fastrt::when_any_result;
using fastrt::detail::frame_allocator;
using fastrt::detail::void_value;

namespace {

using tracked = fastrt::test::counted;  // counts lifetimes: double delivery or a leak shows

// What a loser reports about itself.
struct loser_report {
  std::atomic<bool> saw_stop{false};
  std::atomic<bool> finished{false};
};

coro_task<int> value(int v) { co_return v; }
coro_task<void> nothing() { co_return; }
coro_task<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }

// Single-threaded loser: sleeps on a future that a stop_callback completes.
// The future resumes it through the awaiting thread's executor (sync_wait's
// loop), after the winner's request_stop().
template <class T>
coro_task<T> wait_for_stop(loser_report& report, T result) {
  std::stop_token tok = co_await fastrt::this_task::stop_token();
  {
    fastrt::promise<void> stopped;
    auto f = stopped.get_future();
    std::stop_callback on_stop(tok, [&stopped] { stopped.set_value(); });
    fastrt::result<void> r = co_await std::move(f);
    (void)r;
  }
  report.saw_stop.store(tok.stop_requested());
  report.finished.store(true);
  co_return result;
}

// Pool loser: hops across the pool until asked to stop.
coro_task<int> spin_until_stop(fastrt::thread_pool& pool, loser_report& report, int result) {
  std::stop_token tok = co_await fastrt::this_task::stop_token();
  co_await pool.schedule();
  while (!tok.stop_requested()) co_await pool.schedule();
  report.saw_stop.store(true);
  report.finished.store(true);
  co_return result;
}

coro_task<int> win_on_pool(fastrt::thread_pool& pool, int v) {
  co_await pool.schedule();
  co_return v;
}

coro_task<tracked> tracked_on_pool(fastrt::thread_pool& pool, int v) {
  co_await pool.schedule();
  co_return tracked(v);
}

}  // namespace

TEST_CASE("when_any: the first result wins, its index names the winner") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  {
    loser_report a, b;
    // Duplicate types: only the index distinguishes the children.
    std::variant<int, int, int> r = sync_wait(when_any(wait_for_stop(a, 10), value(42), wait_for_stop(b, 30)));
    REQUIRE(r.index() == 1);
    REQUIRE(std::get<1>(r) == 42);
    // The parent resumed only after both losers ran to their end, and each
    // saw the stop request that the winner triggered.
    REQUIRE(a.finished.load());
    REQUIRE(b.finished.load());
    REQUIRE(a.saw_stop.load());
    REQUIRE(b.saw_stop.load());
  }
  {
    loser_report a;
    std::variant<std::string, int> r = sync_wait(when_any(wait_for_stop(a, std::string("slow")), value(7)));
    REQUIRE(r.index() == 1);
    REQUIRE(std::get<1>(r) == 7);
    REQUIRE(a.finished.load());
  }
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_any: when every child completes at once, the first started wins") {
  auto r = sync_wait(when_any(value(1), value(2), value(3)));
  REQUIRE(r.index() == 0);
  REQUIRE(std::get<0>(r) == 1);
}

TEST_CASE("when_any: void children and move-only values") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  {
    loser_report a;
    std::variant<int, void_value> r = sync_wait(when_any(wait_for_stop(a, 1), nothing()));
    REQUIRE(r.index() == 1);
    REQUIRE(a.finished.load());

    loser_report b;
    auto boxed_result = sync_wait(when_any(wait_for_stop(b, std::unique_ptr<int>()), boxed(9)));
    REQUIRE(boxed_result.index() == 1);
    REQUIRE(*std::get<1>(boxed_result) == 9);
  }
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_any: losers' values are dropped, the winner's delivered once") {
  {
    loser_report a, b;
    auto r = sync_wait(when_any(wait_for_stop(a, tracked(1)), []() -> coro_task<tracked> { co_return tracked(2); }(),
                                wait_for_stop(b, tracked(3))));
    REQUIRE(r.index() == 1);
    REQUIRE(std::get<1>(r).get() == 2);
    REQUIRE(tracked::alive() == 1);  // only the winner's value is alive
  }
  REQUIRE(tracked::alive() == 0);
}

TEST_CASE("when_any over a range reports the winner's position") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  {
    std::vector<loser_report> reports(4);
    std::vector<coro_task<int>> tasks;
    tasks.push_back(wait_for_stop(reports[0], 0));
    tasks.push_back(wait_for_stop(reports[1], 1));
    tasks.push_back(value(22));
    tasks.push_back(wait_for_stop(reports[3], 3));
    when_any_result<int> r = sync_wait(when_any(std::move(tasks)));
    REQUIRE(r.index == 2);
    REQUIRE(r.value == 22);
    for (std::size_t i : {0u, 1u, 3u}) {
      REQUIRE(reports[i].finished.load());
      REQUIRE(reports[i].saw_stop.load());
    }

    std::vector<coro_task<void>> voids;
    voids.push_back(nothing());
    when_any_result<void> v = sync_wait(when_any(std::move(voids)));
    REQUIRE(v.index == 0);
    STATIC_REQUIRE(std::is_same_v<decltype(v.value), void_value>);
  }
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_any over an empty range terminates with a message") {
  auto report = fastrt::test::run_in_child([] {
    std::signal(SIGABRT, SIG_DFL);  // let the abort through Catch's handler quietly
    (void)sync_wait(when_any(std::vector<coro_task<int>>{}));
  });
  REQUIRE(report.aborted);
  REQUIRE(report.stderr_text.find("empty range") != std::string::npos);
}

TEST_CASE("when_any: children on pool threads, losers stopped and awaited") {
  fastrt::thread_pool pool(2);
  for (int round = 0; round < 50; ++round) {
    loser_report a, b;
    std::atomic<bool> losers_done_at_resume{false};
    auto parent = [&]() -> coro_task<std::variant<int, int, int>> {
      auto r = co_await when_any(spin_until_stop(pool, a, -1), win_on_pool(pool, 5), spin_until_stop(pool, b, -2));
      losers_done_at_resume.store(a.finished.load() && b.finished.load());
      co_return r;
    };
    auto r = sync_wait(parent());
    REQUIRE(r.index() == 1);
    REQUIRE(std::get<1>(r) == 5);
    REQUIRE(losers_done_at_resume.load());
    REQUIRE(a.saw_stop.load());
    REQUIRE(b.saw_stop.load());
  }
}

TEST_CASE("when_any forwards a stop request on the parent's token") {
  const auto live = frame_allocator::live_blocks_on_this_thread();
  {
    // Single-threaded: a when_all sibling stops the parent's source while
    // every when_any child waits for a stop. Without forwarding this hangs.
    std::stop_source source;
    std::stop_token token = source.get_token();
    loser_report a, b;
    auto racing = [&]() -> coro_task<int> {
      auto r = co_await when_any(wait_for_stop(a, 1), wait_for_stop(b, 2));
      co_return static_cast<int>(r.index());
    };
    auto stopper = [&]() -> coro_task<void> {
      source.request_stop();
      co_return;
    };
    auto top_body = [&]() -> coro_task<int> {
      auto [index, unused] = co_await fastrt::when_all(racing(), stopper());
      (void)unused;
      co_return index;
    };
    const int index = sync_wait(fastrt::with_stop_token(top_body(), token));
    REQUIRE(index < 2);  // whichever stop callback ran first
    REQUIRE(a.saw_stop.load());
    REQUIRE(a.finished.load());
    REQUIRE(b.saw_stop.load());
    REQUIRE(b.finished.load());
  }
  {
    // A parent stopped before when_any starts: children start stopped.
    std::stop_source source;
    std::stop_token token = source.get_token();
    source.request_stop();
    loser_report a, b;
    auto racing = [&]() -> coro_task<std::variant<int, int>> {
      co_return co_await when_any(wait_for_stop(a, 1), wait_for_stop(b, 2));
    };
    auto r = sync_wait(fastrt::with_stop_token(racing(), token));
    REQUIRE(r.index() == 0);
    REQUIRE(a.saw_stop.load());
    REQUIRE(b.saw_stop.load());
  }
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live);
}

TEST_CASE("when_any forwards a parent stop requested from another thread") {
  fastrt::thread_pool pool(2);
  for (int round = 0; round < 20; ++round) {
    std::stop_source source;
    std::stop_token token = source.get_token();
    loser_report a, b;
    std::vector<loser_report> reports(3);
    auto racing = [&]() -> coro_task<std::size_t> {
      auto r = co_await when_any(spin_until_stop(pool, a, 1), spin_until_stop(pool, b, 2));
      std::vector<coro_task<int>> tasks;
      for (auto& report : reports) tasks.push_back(spin_until_stop(pool, report, 3));
      auto rr = co_await when_any(std::move(tasks));  // the parent token is already stopped
      co_return r.index() + rr.index;
    };
    coro_task<std::size_t> top = fastrt::with_stop_token(racing(), token);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 5)));
      source.request_stop();
    });
    const std::size_t index = sync_wait(std::move(top));
    stopper.join();
    REQUIRE(index <= 3);
    REQUIRE(a.saw_stop.load());
    REQUIRE(b.saw_stop.load());
    for (auto& report : reports) REQUIRE(report.finished.load());
  }
}

TEST_CASE("when_any stress: exactly one winner under concurrent completion") {
  fastrt::thread_pool pool(2);
  constexpr int rounds = 10000;
  std::atomic<int> wrong_winner{0};
  std::atomic<int> losers_not_done{0};
  std::vector<int> wins(4, 0);
  auto loop = [&]() -> coro_task<void> {
    for (int i = 0; i < rounds; ++i) {
      switch (i % 3) {
        case 0: {
          // Everyone completes right after a hop: real races for the win.
          auto r = co_await when_any(tracked_on_pool(pool, 0), tracked_on_pool(pool, 1));
          if (std::visit([](const tracked& t) { return t.get(); }, r) != r.index()) {
            wrong_winner.fetch_add(1);
          }
          ++wins[r.index()];
          break;
        }
        case 1: {
          std::vector<coro_task<int>> tasks;
          for (int k = 0; k < 4; ++k) tasks.push_back(win_on_pool(pool, k * 100));
          auto r = co_await when_any(std::move(tasks));
          if (r.index >= 4 || r.value != static_cast<int>(r.index) * 100) wrong_winner.fetch_add(1);
          break;
        }
        default: {
          loser_report a, b;
          auto r = co_await when_any(spin_until_stop(pool, a, 0), win_on_pool(pool, 1), spin_until_stop(pool, b, 2));
          if (r.index() != 1) wrong_winner.fetch_add(1);
          if (!a.finished.load() || !b.finished.load()) losers_not_done.fetch_add(1);
          break;
        }
      }
    }
  };
  sync_wait(loop());
  REQUIRE(wrong_winner.load() == 0);
  REQUIRE(losers_not_done.load() == 0);
  REQUIRE(wins[0] + wins[1] == (rounds + 2) / 3);
  REQUIRE(tracked::alive() == 0);
}
