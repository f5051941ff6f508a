// fastrt/waitable_queue.hpp — a bounded queue whose consumer can sleep until
// data arrives: spsc_queue or mpsc_queue plus a wait_strategy.
//
//   fastrt::waitable_queue<fastrt::mpsc_queue<job>> inbox(1024);
//   // io thread:      inbox.try_push(std::move(j));   // no syscall if the worker is awake
//   // worker thread:  while (auto j = inbox.pop_wait()) run(*j);
//   // shutdown:       inbox.close();                  // pop_wait returns nullopt once empty
//
// Producers push and then notify; the notify costs one read-modify-write and
// a futex wake only when the consumer sleeps (see wait_strategy.hpp for why
// no wake-up can be lost). The consumer spins, yields, then sleeps.
//
// Thread-safety: as the underlying Queue (one consumer; one producer for
// spsc_queue, any number for mpsc_queue). close() may be called from any
// thread. Items pushed after close() may never be popped: stop the producers
// before closing if every item matters.
//
// Cost: a push = the queue's push + one uncontended RMW; a pop that finds
// data = the queue's pop.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <utility>

#include "wait_strategy.hpp"

namespace fastrt {

template <class Queue>
class waitable_queue {
 public:
  using value_type = typename Queue::value_type;

  explicit waitable_queue(std::size_t min_capacity, wait_options options = {})
      : queue_(min_capacity), waiter_(options) {}

  // Producer. Push, then wake the consumer if it sleeps. False when full
  // (nothing is constructed or moved from).
  template <class... Args>
  bool try_emplace(Args&&... args) {
    if (!queue_.try_emplace(std::forward<Args>(args)...)) return false;
    waiter_.notify();
    return true;
  }
  bool try_push(value_type&& value) { return try_emplace(std::move(value)); }
  bool try_push(const value_type& value) { return try_emplace(value); }

  // Producer. For batches: push through queue() without notifying, then
  // call notify() once.
  void notify() noexcept { waiter_.notify(); }

  // Consumer. Never blocks.
  std::optional<value_type> try_pop() { return queue_.try_pop(); }

  // Consumer. Blocks until an element is available (true) or the queue is
  // closed and empty (false).
  bool wait_for_data() {
    return waiter_.wait_until([this] { return !queue_.empty_approx(); });
  }

  // Consumer. The oldest element, blocking while empty; nullopt only once
  // closed and empty.
  std::optional<value_type> pop_wait() {
    for (;;) {
      if (auto item = queue_.try_pop()) return item;
      if (!wait_for_data()) return std::nullopt;
    }
  }

  // Consumer. Blocks until at least one element is available, then drains
  // up to `limit` through fn(value_type&&) with one index publication.
  // Returns the count; 0 only once closed and empty (or when limit is 0).
  template <class Fn>
  std::size_t drain_wait(Fn&& fn, std::size_t limit = std::numeric_limits<std::size_t>::max()) {
    for (;;) {
      if (const std::size_t n = queue_.drain(fn, limit)) return n;
      if (limit == 0 || !wait_for_data()) return 0;
    }
  }

  // Any thread. Wakes the consumer; its waits then end once the queue is empty.
  void close() noexcept { waiter_.close(); }
  bool closed() const noexcept { return waiter_.closed(); }

  std::size_t size_approx() const noexcept { return queue_.size_approx(); }
  bool empty_approx() const noexcept { return queue_.empty_approx(); }
  std::size_t capacity() const noexcept { return queue_.capacity(); }

  Queue& queue() noexcept { return queue_; }
  wait_strategy& waiter() noexcept { return waiter_; }
  const wait_strategy& waiter() const noexcept { return waiter_; }

 private:
  Queue queue_;
  wait_strategy waiter_;
};

}  // namespace fastrt
