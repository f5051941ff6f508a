// ctest-labels: concurrency
#include <fastrt/spsc_queue.hpp>

#include <catch2/catch.hpp>
#include <cstdint>
#include <thread>

#include "support/counted.hpp"
#include "support/queue_semantics.hpp"
#include "support/stress.hpp"

using fastrt::spsc_queue;
using fastrt::test::counted;

TEST_CASE("spsc: capacity is rounded up to a power of two") { fastrt::test::check_capacity_rounding<spsc_queue>(); }
TEST_CASE("spsc: full and empty edges") { fastrt::test::check_full_and_empty_edges<spsc_queue>(); }
TEST_CASE("spsc: move-only, non-default-constructible elements") { fastrt::test::check_move_only_elements<spsc_queue>(); }
TEST_CASE("spsc: drain consumes up to a limit and returns the count") { fastrt::test::check_drain<spsc_queue>(); }
TEST_CASE("spsc: elements left inside are destroyed exactly once") { fastrt::test::check_leftovers_destroyed_once<spsc_queue>(); }
TEST_CASE("spsc: positions run many laps around the ring") { fastrt::test::check_many_laps<spsc_queue>(); }
TEST_CASE("spsc: copyable and over-aligned elements") { fastrt::test::check_copyable_and_overaligned<spsc_queue>(); }

TEST_CASE("spsc: producer and consumer state are on separate cache lines") {
  STATIC_REQUIRE(alignof(spsc_queue<int>) == 64);
  STATIC_REQUIRE(sizeof(spsc_queue<int>) == 3 * 64);  // ring, producer, consumer
}

TEST_CASE("spsc: ten million items arrive in order") {
  const std::uint64_t items = fastrt::test::stress_count(10'000'000, 4);
  spsc_queue<std::uint64_t> q(1024);
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < items; ++i) {
      while (!q.try_push(i)) std::this_thread::yield();
    }
  });
  std::uint64_t expected = 0;
  std::uint64_t out_of_order = 0;
  while (expected < items) {
    if (auto item = q.try_pop()) {
      out_of_order += *item != expected;
      ++expected;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  REQUIRE(out_of_order == 0);
  REQUIRE(expected == items);
  REQUIRE(q.empty_approx());
}

TEST_CASE("spsc: batched drain of move-only items across threads") {
  counted::reset();
  const std::uint64_t items = fastrt::test::stress_count(2'000'000, 4);
  {
    spsc_queue<counted> q(256);
    std::thread producer([&] {
      for (std::uint64_t i = 0; i < items; ++i) {
        while (!q.try_emplace(i)) std::this_thread::yield();
      }
    });
    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t batches = 0;
    while (expected < items) {
      const std::size_t n = q.drain([&](counted&& c) { out_of_order += c.get() != expected++; }, 64);
      if (n == 0) std::this_thread::yield();
      batches += n != 0;
    }
    producer.join();
    REQUIRE(out_of_order == 0);
    REQUIRE(expected == items);
    REQUIRE(batches <= items);
  }
  REQUIRE(counted::alive() == 0);
}
