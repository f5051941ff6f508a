// tests/support/queue_semantics.hpp — single-threaded checks every bounded
// queue (spsc_queue, mpsc_queue) must pass. Each test file runs them for its
// own queue; the queue is a template taking the element type.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <fastrt/drain_pace.hpp>

#include "counted.hpp"

namespace fastrt::test {

// How many slots freed by try_pop the producer may not see yet, plus one:
// spsc_queue hands them back in batches (its release_batch()); a queue without
// that member hands every freed slot back at once.
template <class Queue>
std::size_t release_batch_of(const Queue& q) {
  if constexpr (requires { q.release_batch(); }) {
    return q.release_batch();
  } else {
    return 1;
  }
}

template <template <class> class Queue>
void check_capacity_rounding() {
  REQUIRE(Queue<int>(0).capacity() == 1);
  REQUIRE(Queue<int>(1).capacity() == 1);
  REQUIRE(Queue<int>(2).capacity() == 2);
  REQUIRE(Queue<int>(3).capacity() == 4);
  REQUIRE(Queue<int>(4).capacity() == 4);
  REQUIRE(Queue<int>(5).capacity() == 8);
  REQUIRE(Queue<int>(1000).capacity() == 1024);
  REQUIRE(Queue<int>(1024).capacity() == 1024);

  // Capacity 1 still works as a queue.
  Queue<int> one(1);
  REQUIRE(one.try_push(1));
  REQUIRE_FALSE(one.try_push(2));
  REQUIRE(one.try_pop() == 1);
  REQUIRE(one.try_push(3));
  REQUIRE(one.try_pop() == 3);
  REQUIRE_FALSE(one.try_pop());
}

template <template <class> class Queue>
void check_full_and_empty_edges() {
  Queue<int> q(4);
  REQUIRE(q.empty_approx());
  REQUIRE(q.size_approx() == 0);
  REQUIRE_FALSE(q.try_pop());
  int seen = 0;
  REQUIRE(q.drain([&](int&&) { ++seen; }) == 0);

  for (int i = 0; i < 4; ++i) REQUIRE(q.try_push(i));
  REQUIRE(q.size_approx() == 4);
  REQUIRE_FALSE(q.empty_approx());
  REQUIRE_FALSE(q.try_push(99));
  REQUIRE_FALSE(q.try_emplace(99));
  REQUIRE(q.size_approx() == 4);

  REQUIRE(q.try_pop() == 0);
  REQUIRE(q.size_approx() == 3);
  REQUIRE(q.try_push(4));  // the freed slot is usable at once
  REQUIRE_FALSE(q.try_push(5));
  for (int i = 1; i <= 4; ++i) REQUIRE(q.try_pop() == i);
  REQUIRE_FALSE(q.try_pop());
  REQUIRE(q.empty_approx());
  REQUIRE(seen == 0);
}

template <template <class> class Queue>
void check_move_only_elements() {
  counted::reset();
  {
    Queue<counted> q(2);
    REQUIRE(q.try_emplace(std::uint64_t{1}));  // constructed in place
    REQUIRE(counted::constructions == 1);
    REQUIRE(q.try_push(counted(2)));
    REQUIRE_FALSE(q.try_emplace(std::uint64_t{3}));
    REQUIRE(counted::constructions == 3);  // 1, the temporary 2 and its move

    // A failed push of an rvalue does not move from it.
    counted kept(4);
    REQUIRE_FALSE(q.try_push(std::move(kept)));
    REQUIRE(kept.value != nullptr);
    REQUIRE(kept.get() == 4);

    auto first = q.try_pop();
    REQUIRE(first);
    REQUIRE(first->get() == 1);
    REQUIRE(q.try_push(std::move(kept)));
    REQUIRE(kept.value == nullptr);

    REQUIRE(q.try_pop()->get() == 2);
    REQUIRE(q.try_pop()->get() == 4);
    REQUIRE_FALSE(q.try_pop());
  }
  REQUIRE(counted::alive() == 0);
}

template <template <class> class Queue>
void check_drain() {
  counted::reset();
  {
    Queue<counted> q(16);
    for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(q.try_emplace(i));

    std::vector<std::uint64_t> got;
    auto collect = [&](counted&& c) { got.push_back(c.get()); };
    REQUIRE(q.drain(collect, 0) == 0);
    REQUIRE(q.drain(collect, 3) == 3);
    REQUIRE(got == std::vector<std::uint64_t>{0, 1, 2});
    REQUIRE(q.size_approx() == 7);
    REQUIRE(counted::alive() == 7);  // drained elements are destroyed

    // The drained slots are free again: fill up to capacity.
    for (std::uint64_t i = 10; i < 19; ++i) REQUIRE(q.try_emplace(i));
    REQUIRE(q.size_approx() == 16);
    REQUIRE_FALSE(q.try_emplace(std::uint64_t{99}));

    got.clear();
    REQUIRE(q.drain(collect) == 16);
    REQUIRE(got.size() == 16);
    for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == i + 3);
    REQUIRE(q.drain(collect) == 0);
    REQUIRE(q.empty_approx());

    // fn may take the element by value (moving it out).
    REQUIRE(q.try_emplace(std::uint64_t{7}));
    std::unique_ptr<std::uint64_t> owned;
    REQUIRE(q.drain([&](counted c) { owned = std::move(c.value); }, 5) == 1);
    REQUIRE(*owned == 7);
  }
  REQUIRE(counted::alive() == 0);
}

// A long drain hands slots back every 64 elements, not only at its end, so
// a producer waiting on a full queue is not held up by the whole run.
// drain_pace::gather may wait, but still takes every published element,
// returns 0 only when nothing is published, and respects the limit.
template <template <class> class Queue>
void check_gathering_drain() {
  using fastrt::drain_pace;
  Queue<std::uint64_t> q(64);
  std::vector<std::uint64_t> got;
  auto collect = [&](std::uint64_t&& v) { got.push_back(v); };
  REQUIRE(q.drain(collect, 64, drain_pace::gather) == 0);
  // The first call after an empty one takes a lone element.
  REQUIRE(q.try_push(0));
  REQUIRE(q.drain(collect, 64, drain_pace::gather) == 1);
  // Caught up, then fewer than a line published: the call may wait first and
  // still returns all three.
  for (std::uint64_t i = 1; i <= 3; ++i) REQUIRE(q.try_push(i));
  REQUIRE(q.drain(collect, 64, drain_pace::gather) == 3);
  // A limit still caps it; the rest stays queued in order.
  for (std::uint64_t i = 4; i <= 9; ++i) REQUIRE(q.try_push(i));
  REQUIRE(q.drain(collect, 2, drain_pace::gather) == 2);
  REQUIRE(q.drain(collect, 64, drain_pace::gather) == 4);
  REQUIRE(q.drain(collect, 64, drain_pace::gather) == 0);
  REQUIRE(got == std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  REQUIRE(q.empty_approx());
}

template <template <class> class Queue>
void check_drain_hands_back_during_a_run() {
  Queue<int> q(256);
  for (int i = 0; i < 256; ++i) REQUIRE(q.try_push(i));
  int expected = 0;
  const std::size_t n = q.drain([&](int&& v) {
    REQUIRE(v == expected++);
    if (v == 63) REQUIRE_FALSE(q.try_push(1000));  // 63 freed: none handed back yet
    if (v == 64) REQUIRE(q.try_push(1000));        // the first 64 are back
  });
  REQUIRE(n == 256);
  REQUIRE(q.try_pop() == 1000);
  REQUIRE_FALSE(q.try_pop());
}

template <template <class> class Queue>
void check_leftovers_destroyed_once() {
  counted::reset();
  long destroyed_before = 0;
  {
    Queue<counted> q(8);
    for (std::uint64_t i = 0; i < 8; ++i) REQUIRE(q.try_emplace(i));
    REQUIRE(q.try_pop()->get() == 0);
    REQUIRE(q.try_pop()->get() == 1);
    REQUIRE(q.try_emplace(std::uint64_t{8}));  // wraps into slot 0
    REQUIRE(counted::alive() == 7);
    destroyed_before = counted::destructions;
  }
  REQUIRE(counted::destructions == destroyed_before + 7);
  REQUIRE(counted::alive() == 0);
}

// Positions keep growing past the capacity many times over: slot reuse,
// FIFO order and the full/empty checks must hold on every lap. A push must
// fail when capacity() elements are queued (nothing is overwritten) and must
// succeed when the producer is sure to see room: slots freed by drain or by a
// try_pop that reached a multiple of release_batch_of(q), or emptied the queue.
template <template <class> class Queue>
void check_many_laps() {
  counted::reset();
  {
    Queue<counted> q(8);
    const std::uint64_t capacity = q.capacity();
    const std::uint64_t batch = release_batch_of(q);
    std::uint64_t next_push = 0;
    std::uint64_t next_pop = 0;
    std::uint64_t released = 0;  // every slot below it is visible to the producer as free
    std::uint64_t unsure_failures = 0;
    for (int round = 0; round < 20'000; ++round) {
      const int burst = 1 + round % 9;  // 9 > capacity: some pushes must fail
      for (int i = 0; i < burst; ++i) {
        const bool pushed = q.try_emplace(next_push);
        if (pushed) {
          REQUIRE(next_push - next_pop < capacity);
          ++next_push;
        } else {
          REQUIRE(next_push - released >= capacity);
          unsure_failures += next_push - next_pop < capacity;
        }
      }
      REQUIRE(q.size_approx() == next_push - next_pop);
      if (round % 2 == 0) {
        const std::size_t n = q.drain([&](counted&& c) { REQUIRE(c.get() == next_pop++); },
                                      static_cast<std::size_t>(round % 5));
        REQUIRE(n == std::min<std::uint64_t>(round % 5, next_push - (next_pop - n)));
        if (n != 0) released = next_pop;
      } else {
        for (int i = 0; i < burst - 1; ++i) {
          auto item = q.try_pop();
          if (!item) {
            released = next_pop;
            break;
          }
          REQUIRE(item->get() == next_pop++);
          if (next_pop % batch == 0 || next_pop == next_push) released = next_pop;
        }
      }
    }
    REQUIRE(next_push / q.capacity() > 5'000);  // laps around the ring
    if (batch == 1) REQUIRE(unsure_failures == 0);
  }
  REQUIRE(counted::alive() == 0);
}

template <template <class> class Queue>
void check_copyable_and_overaligned() {
  Queue<std::string> strings(2);
  const std::string text(100, 'x');  // heap-allocated: copies must be deep
  REQUIRE(strings.try_push(text));
  REQUIRE(strings.try_emplace(3, 'y'));
  REQUIRE(strings.try_pop() == text);
  REQUIRE(strings.try_pop() == "yyy");

  struct alignas(128) wide {
    explicit wide(int v) : value(v) {}
    int value;
  };
  Queue<wide> q(4);
  for (int i = 0; i < 4; ++i) REQUIRE(q.try_emplace(i));
  int expected = 0;
  q.drain([&](wide&& w) {
    REQUIRE(reinterpret_cast<std::uintptr_t>(&w) % 128 == 0);
    REQUIRE(w.value == expected++);
  });
  REQUIRE(expected == 4);
}

}  // namespace fastrt::test
