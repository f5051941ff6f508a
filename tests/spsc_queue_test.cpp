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
TEST_CASE("spsc: a gathering drain still takes every published element") { fastrt::test::check_gathering_drain<spsc_queue>(); }
TEST_CASE("spsc: a long drain hands slots back every 64 elements") { fastrt::test::check_drain_hands_back_during_a_run<spsc_queue>(); }
TEST_CASE("spsc: elements left inside are destroyed exactly once") { fastrt::test::check_leftovers_destroyed_once<spsc_queue>(); }
TEST_CASE("spsc: positions run many laps around the ring") { fastrt::test::check_many_laps<spsc_queue>(); }
TEST_CASE("spsc: copyable and over-aligned elements") { fastrt::test::check_copyable_and_overaligned<spsc_queue>(); }

TEST_CASE("spsc: try_pop hands freed slots back in batches of release_batch()") {
  REQUIRE(spsc_queue<int>(1).release_batch() == 1);
  REQUIRE(spsc_queue<int>(4).release_batch() == 1);  // small queues stay strict
  REQUIRE(spsc_queue<int>(8).release_batch() == 2);
  REQUIRE(spsc_queue<int>(256).release_batch() == 64);
  REQUIRE(spsc_queue<int>(65536).release_batch() == spsc_queue<int>::max_release_batch);

  spsc_queue<int> q(1024);
  const int batch = static_cast<int>(q.release_batch());
  REQUIRE(batch == 64);
  for (int i = 0; i < 1024; ++i) REQUIRE(q.try_push(i));
  REQUIRE_FALSE(q.try_push(-1));

  // batch - 1 pops: freed, counted as free by size_approx, not yet handed back.
  int next = 0;
  for (int i = 0; i < batch - 1; ++i) REQUIRE(q.try_pop() == next++);
  REQUIRE(q.size_approx() == 1024 - static_cast<std::size_t>(batch - 1));
  REQUIRE_FALSE(q.try_push(-1));

  // The pop that reaches a multiple of the batch hands the whole batch back.
  REQUIRE(q.try_pop() == next++);
  int pushed = 1024;
  for (int i = 0; i < batch; ++i) REQUIRE(q.try_push(pushed++));
  REQUIRE_FALSE(q.try_push(-1));

  // drain hands back at the end of every call, even for one element.
  REQUIRE(q.drain([&](int&& v) { REQUIRE(v == next++); }, 1) == 1);
  REQUIRE(q.try_push(pushed++));
  REQUIRE_FALSE(q.try_push(-1));

  // A few pops, then the consumer runs dry: nullopt means every slot it
  // freed is back with the producer.
  for (int i = 0; i < 3; ++i) REQUIRE(q.try_pop() == next++);
  REQUIRE_FALSE(q.try_push(-1));
  while (auto v = q.try_pop()) REQUIRE(*v == next++);
  REQUIRE(next == pushed);
  for (int i = 0; i < 1024; ++i) REQUIRE(q.try_push(pushed++));
  REQUIRE_FALSE(q.try_push(-1));
  REQUIRE(q.size_approx() == 1024);
}

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

namespace {

// A producer thread streams 2 M move-only items; the consumer drains them in
// batches of up to 64 at `pace`: every item once, in order, none leaked.
void drain_a_stream_across_threads(fastrt::drain_pace pace) {
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
    while (expected < items) {
      auto check = [&](counted&& c) { out_of_order += c.get() != expected++; };
      if (q.drain(check, 64, pace) == 0) std::this_thread::yield();
    }
    producer.join();
    REQUIRE(out_of_order == 0);
    REQUIRE(expected == items);
    REQUIRE(q.drain([](counted&&) {}, 64, pace) == 0);
  }
  REQUIRE(counted::alive() == 0);
}

}  // namespace

TEST_CASE("spsc: batched drain of move-only items across threads") {
  SECTION("prompt pace") { drain_a_stream_across_threads(fastrt::drain_pace::prompt); }
  SECTION("gathering pace") { drain_a_stream_across_threads(fastrt::drain_pace::gather); }
}
