// ctest-labels: concurrency
#include <fastrt/mpsc_queue.hpp>
#include <fastrt/waitable_queue.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <thread>
#include <vector>

#include "support/counted.hpp"
#include "support/queue_semantics.hpp"
#include "support/stress.hpp"

using fastrt::mpsc_queue;
using fastrt::test::counted;

TEST_CASE("mpsc: capacity is rounded up to a power of two") { fastrt::test::check_capacity_rounding<mpsc_queue>(); }
TEST_CASE("mpsc: full and empty edges") { fastrt::test::check_full_and_empty_edges<mpsc_queue>(); }
TEST_CASE("mpsc: move-only, non-default-constructible elements") { fastrt::test::check_move_only_elements<mpsc_queue>(); }
TEST_CASE("mpsc: drain consumes up to a limit and returns the count") { fastrt::test::check_drain<mpsc_queue>(); }
TEST_CASE("mpsc: a gathering drain still takes every published element") { fastrt::test::check_gathering_drain<mpsc_queue>(); }
TEST_CASE("mpsc: a long drain hands slots back every 64 elements") { fastrt::test::check_drain_hands_back_during_a_run<mpsc_queue>(); }
TEST_CASE("mpsc: elements left inside are destroyed exactly once") { fastrt::test::check_leftovers_destroyed_once<mpsc_queue>(); }
TEST_CASE("mpsc: positions run many laps around the ring") { fastrt::test::check_many_laps<mpsc_queue>(); }
TEST_CASE("mpsc: copyable and over-aligned elements") { fastrt::test::check_copyable_and_overaligned<mpsc_queue>(); }

TEST_CASE("mpsc: producer and consumer state are on separate cache lines") {
  STATIC_REQUIRE(alignof(mpsc_queue<int>) == 64);
  STATIC_REQUIRE(sizeof(mpsc_queue<int>) == 3 * 64);  // ring, producers, consumer
}

namespace {

// Constructing one blocks until the gate opens: its slot stays claimed but
// unpublished for as long as the test wants.
struct gated {
  gated(const std::atomic<bool>& gate, std::atomic<bool>& constructing, int v) : value(v) {
    constructing.store(true);
    while (!gate.load()) std::this_thread::yield();
  }
  int value;
};

}  // namespace

TEST_CASE("mpsc: a claimed but unwritten slot stops the consumer") {
  mpsc_queue<gated> q(4);
  std::atomic<bool> open{false};
  std::atomic<bool> constructing{false};
  std::atomic<bool> always_open{true};
  std::atomic<bool> ignored{false};

  // Catch assertions are not thread-safe: threads record, the test thread checks.
  bool slow_pushed = false;
  std::thread slow([&] { slow_pushed = q.try_emplace(open, constructing, 1); });
  while (!constructing.load()) std::this_thread::yield();
  // Position 0 is claimed, not published; position 1 is published.
  REQUIRE(q.try_emplace(always_open, ignored, 2));
  REQUIRE(q.size_approx() == 2);
  REQUIRE(q.empty_approx());
  REQUIRE_FALSE(q.try_pop());
  REQUIRE(q.drain([](gated&&) {}) == 0);

  open.store(true);
  slow.join();
  REQUIRE(slow_pushed);
  REQUIRE(q.try_pop()->value == 1);
  REQUIRE(q.try_pop()->value == 2);
  REQUIRE_FALSE(q.try_pop());
}

namespace {

constexpr int producer_shift = 48;
std::uint64_t tag(std::uint64_t producer, std::uint64_t seq) { return producer << producer_shift | seq; }

// Checks that every producer's items arrive exactly once and in its order.
struct order_checker {
  explicit order_checker(std::size_t producers) : next(producers, 0) {}
  void operator()(std::uint64_t item) {
    const std::uint64_t producer = item >> producer_shift;
    const std::uint64_t seq = item & ((std::uint64_t{1} << producer_shift) - 1);
    if (producer >= next.size() || seq != next[producer]) ++errors;
    else ++next[producer];
    ++received;
  }
  std::vector<std::uint64_t> next;
  std::uint64_t received = 0;
  std::uint64_t errors = 0;
};

template <class Push>
std::vector<std::thread> start_producers(int producers, std::uint64_t per_producer, Push push) {
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([=] {
      for (std::uint64_t i = 0; i < per_producer; ++i) push(tag(static_cast<std::uint64_t>(p), i));
    });
  }
  return threads;
}

enum class pop_call { try_pop, drain, drain_gather };

void run_polling_stress(int producers, pop_call call) {
  const std::uint64_t per_producer = fastrt::test::stress_count(4'000'000, 4) / static_cast<std::uint64_t>(producers);
  mpsc_queue<std::uint64_t> q(1024);
  auto threads = start_producers(producers, per_producer, [&q](std::uint64_t v) {
    while (!q.try_push(v)) std::this_thread::yield();
  });
  order_checker check(static_cast<std::size_t>(producers));
  const std::uint64_t total = per_producer * static_cast<std::uint64_t>(producers);
  while (check.received < total) {
    std::size_t got = 0;
    if (call == pop_call::drain) {
      got = q.drain([&](std::uint64_t&& v) { check(v); }, 128);
    } else if (call == pop_call::drain_gather) {
      got = q.drain([&](std::uint64_t&& v) { check(v); }, 128, fastrt::drain_pace::gather);
    } else if (auto v = q.try_pop()) {
      check(*v);
      got = 1;
    }
    if (got == 0) std::this_thread::yield();
  }
  for (auto& t : threads) t.join();
  REQUIRE(check.errors == 0);
  REQUIRE(check.received == total);
  for (auto n : check.next) REQUIRE(n == per_producer);
  REQUIRE_FALSE(q.try_pop());
}

}  // namespace

TEST_CASE("mpsc: 2 producers, every item once and in per-producer order") {
  SECTION("try_pop") { run_polling_stress(2, pop_call::try_pop); }
  SECTION("drain") { run_polling_stress(2, pop_call::drain); }
  SECTION("drain, gathering") { run_polling_stress(2, pop_call::drain_gather); }
}

TEST_CASE("mpsc: 4 producers, every item once and in per-producer order") {
  SECTION("try_pop") { run_polling_stress(4, pop_call::try_pop); }
  SECTION("drain") { run_polling_stress(4, pop_call::drain); }
  SECTION("drain, gathering") { run_polling_stress(4, pop_call::drain_gather); }
}

TEST_CASE("mpsc: move-only items from 4 producers, none leaked") {
  counted::reset();
  const std::uint64_t per_producer = fastrt::test::stress_count(250'000, 2);
  {
    mpsc_queue<counted> q(64);
    auto threads = start_producers(4, per_producer, [&q](std::uint64_t v) {
      while (!q.try_emplace(v)) std::this_thread::yield();
    });
    order_checker check(4);
    while (check.received < 4 * per_producer) {
      if (auto c = q.try_pop()) check(c->get());
      else std::this_thread::yield();
    }
    for (auto& t : threads) t.join();
    REQUIRE(check.errors == 0);
  }
  REQUIRE(counted::alive() == 0);
}

TEST_CASE("mpsc: the consumer blocks through the wait strategy") {
  // Tiny spin and yield phases: the consumer goes to sleep whenever it runs
  // dry, so the futex path is exercised constantly.
  const auto options = GENERATE(fastrt::wait_options{0, 0}, fastrt::wait_options{});
  const int producers = GENERATE(2, 4);
  const std::uint64_t per_producer = fastrt::test::stress_count(1'000'000, 4) / static_cast<std::uint64_t>(producers);

  fastrt::waitable_queue<mpsc_queue<std::uint64_t>> q(256, options);
  auto threads = start_producers(producers, per_producer, [&q](std::uint64_t v) {
    while (!q.try_push(v)) std::this_thread::yield();
    // Pause now and then so the consumer runs dry and sleeps.
    if ((v & 1023) == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  });
  order_checker check(static_cast<std::size_t>(producers));
  std::thread consumer([&] {
    // Alternate both blocking entry points.
    for (;;) {
      if (check.received % 2 == 0) {
        auto v = q.pop_wait();
        if (!v) break;
        check(*v);
      } else if (q.drain_wait([&](std::uint64_t&& v) { check(v); }, 100) == 0) {
        break;
      }
    }
  });
  for (auto& t : threads) t.join();
  const auto wakes_from_pushes = q.waiter().wake_count();
  q.close();  // after the last push: the consumer takes everything, then stops
  consumer.join();
  REQUIRE(check.errors == 0);
  REQUIRE(check.received == per_producer * static_cast<std::uint64_t>(producers));
  if (options.spin_rounds == 0) REQUIRE(wakes_from_pushes > 0);  // it really slept
}
