// ctest-labels: concurrency
#include <fastrt/mpsc_queue.hpp>
#include <fastrt/spsc_queue.hpp>
#include <fastrt/wait_strategy.hpp>
#include <fastrt/waitable_queue.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "support/stress.hpp"
#include "support/threads.hpp"

using fastrt::mpsc_queue;
using fastrt::spsc_queue;
using fastrt::wait_options;
using fastrt::wait_strategy;
using fastrt::waitable_queue;
using namespace std::chrono_literals;

namespace {

// Spins until some thread has announced that it sleeps on w.
void until_asleep(const wait_strategy& w) {
  while (!w.has_sleepers()) std::this_thread::yield();
}

}  // namespace

TEST_CASE("wait_until returns at once when ready, false once closed") {
  wait_strategy w;
  REQUIRE(w.wait_until([] { return true; }));
  REQUIRE_FALSE(w.closed());
  w.close();
  REQUIRE(w.closed());
  REQUIRE_FALSE(w.wait_until([] { return false; }));
  REQUIRE(w.wait_until([] { return true; }));  // readiness wins over closing
  REQUIRE_FALSE(w.has_sleepers());
}

TEST_CASE("notify wakes a sleeping waiter") {
  wait_strategy w(wait_options{0, 0});
  std::atomic<bool> flag{false};
  bool result = false;
  std::thread waiter([&] { result = w.wait_until([&] { return flag.load(std::memory_order_relaxed); }); });
  until_asleep(w);
  flag.store(true, std::memory_order_relaxed);
  w.notify();
  waiter.join();
  REQUIRE(result);
  REQUIRE(w.wake_count() == 1);
  REQUIRE_FALSE(w.has_sleepers());
}

TEST_CASE("notify wakes every waiter, each rechecking its own condition") {
  wait_strategy w(wait_options{0, 0});
  std::atomic<int> stage{0};
  std::atomic<int> done{0};
  std::vector<std::thread> waiters;
  for (int need = 1; need <= 3; ++need) {
    waiters.emplace_back([&, need] {
      if (w.wait_until([&] { return stage.load() >= need; })) done.fetch_add(1);
    });
  }
  for (int s = 1; s <= 3; ++s) {
    std::this_thread::sleep_for(5ms);
    stage.store(s);
    w.notify();
  }
  for (auto& t : waiters) t.join();
  REQUIRE(done.load() == 3);
}

TEST_CASE("producers make no wake syscall while the consumer is awake") {
  const std::uint64_t items = fastrt::test::stress_count(200'000, 2);
  waitable_queue<spsc_queue<std::uint64_t>> q(1024);
  std::uint64_t errors = 0;
  std::thread consumer([&] {
    // Polls without ever waiting, so it never announces sleep.
    for (std::uint64_t expected = 0; expected < items;) {
      if (auto v = q.try_pop()) errors += *v != expected++;
      else std::this_thread::yield();
    }
  });
  for (std::uint64_t i = 0; i < items; ++i) {
    while (!q.try_push(i)) std::this_thread::yield();
  }
  consumer.join();
  REQUIRE(errors == 0);
  REQUIRE(q.waiter().wake_count() == 0);
}

TEST_CASE("an idle consumer sleeps instead of spinning, and still wakes") {
  waitable_queue<mpsc_queue<std::unique_ptr<int>>> inbox(16);
  std::atomic<int> got{0};
  std::thread worker([&] {
    while (auto item = inbox.pop_wait()) got.store(**item);
  });
  // Let it pass the spin and yield phases.
  std::this_thread::sleep_for(50ms);
  until_asleep(inbox.waiter());
  const auto cpu_before = fastrt::test::process_cpu_time();
  std::this_thread::sleep_for(300ms);
  const auto cpu_used = fastrt::test::process_cpu_time() - cpu_before;
  // A spinning consumer would burn ~300 ms of CPU here.
  REQUIRE(cpu_used < 60ms);

  REQUIRE(inbox.try_push(std::make_unique<int>(42)));
  while (got.load() != 42) std::this_thread::yield();
  REQUIRE(inbox.waiter().wake_count() == 1);
  inbox.close();
  worker.join();
}

TEST_CASE("close wakes a sleeping consumer for shutdown") {
  waitable_queue<spsc_queue<int>> q(8);
  std::optional<int> result = 1;
  std::thread consumer([&] { result = q.pop_wait(); });
  until_asleep(q.waiter());
  const auto start = std::chrono::steady_clock::now();
  q.close();
  consumer.join();
  REQUIRE_FALSE(result);
  REQUIRE(std::chrono::steady_clock::now() - start < 1s);

  // Items that arrived before closing are still delivered, then nullopt.
  waitable_queue<spsc_queue<int>> q2(8);
  REQUIRE(q2.try_push(1));
  REQUIRE(q2.try_push(2));
  q2.close();
  REQUIRE(q2.pop_wait() == 1);
  std::size_t drained = q2.drain_wait([](int&& v) { REQUIRE(v == 2); });
  REQUIRE(drained == 1);
  REQUIRE(q2.drain_wait([](int&&) {}) == 0);
  REQUIRE_FALSE(q2.pop_wait());
}

TEST_CASE("ping-pong through two sleeping consumers loses no wake-up") {
  // Each side sleeps on its inbox between messages: every message needs a
  // wake-up, so a single lost one hangs the test.
  const int rounds = static_cast<int>(fastrt::test::stress_count(20'000, 1));
  const auto options = GENERATE(wait_options{0, 0}, wait_options{50, 1});
  waitable_queue<spsc_queue<int>> ping(4, options);
  waitable_queue<spsc_queue<int>> pong(4, options);
  int errors = 0;
  int echo_errors = 0;
  std::thread echo([&] {
    while (auto v = ping.pop_wait()) echo_errors += !pong.try_push(*v + 1);
    pong.close();
  });
  for (int i = 0; i < rounds; ++i) {
    REQUIRE(ping.try_push(2 * i));
    auto reply = pong.pop_wait();
    errors += !reply || *reply != 2 * i + 1;
  }
  ping.close();
  echo.join();
  REQUIRE(errors == 0);
  REQUIRE(echo_errors == 0);
  REQUIRE_FALSE(pong.pop_wait());
}

TEST_CASE("spsc stream through a blocking consumer") {
  const std::uint64_t items = fastrt::test::stress_count(2'000'000, 4);
  waitable_queue<spsc_queue<std::uint64_t>> q(128, wait_options{100, 2});
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < items; ++i) {
      while (!q.try_push(i)) std::this_thread::yield();
      if ((i & 4095) == 0) std::this_thread::sleep_for(20us);
    }
    q.close();
  });
  std::uint64_t expected = 0;
  std::uint64_t errors = 0;
  while (q.drain_wait([&](std::uint64_t&& v) { errors += v != expected++; }, 32) != 0) {
  }
  producer.join();
  REQUIRE(errors == 0);
  REQUIRE(expected == items);
}
