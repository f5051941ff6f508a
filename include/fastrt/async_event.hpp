// fastrt/async_event.hpp — async_event: a manual-reset event coroutines can
// await.
//
//   fastrt::async_event ready;
//   ... co_await ready;          // suspends until someone calls ready.set()
//   ready.set();                 // resumes every waiter; later awaits pass through
//   ready.reset();               // back to "not set"
//
// Where a waiter resumes: on the executor that was current when it awaited
// (see executor.hpp), through that executor's post(); inline on the thread
// calling set() only if it awaited on a thread that runs no executor.
//
// Synchronisation: one atomic word is "set", "not set, nobody waiting" or the
// head of an intrusive list of waiters. The list nodes are the awaiters
// themselves, living in the suspended frames, so waiting allocates nothing.
// set() takes the whole list with one exchange; awaiting pushes with one
// compare-exchange. No lock anywhere.
//
// Thread-safety: every member may be called from any thread concurrently.
// A reset() racing with set() may or may not undo it; waiters that were
// already queued when set() ran are resumed either way.
// Lifetime: a coroutine suspended on the event must not be destroyed before
// it is resumed, and the event must not be destroyed while coroutines wait on
// it; both terminate with a message instead of corrupting memory.
// Cost: await of a set event = one load; set() = one exchange + one post per
// waiter.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include "executor.hpp"
#include "task.hpp"

namespace fastrt {

class async_event {
 public:
  explicit async_event(bool initially_set = false) noexcept
      : state_(initially_set ? set_state : not_set_state) {}
  async_event(const async_event&) = delete;
  async_event& operator=(const async_event&) = delete;
  ~async_event() {
    const std::uintptr_t state = state_.load(std::memory_order_acquire);
    if (state != set_state && state != not_set_state) {
      detail::fatal("async_event destroyed while coroutines are waiting on it");
    }
  }

  bool is_set() const noexcept { return state_.load(std::memory_order_acquire) == set_state; }

  // Sets the event and resumes every waiter (oldest first).
  void set() noexcept {
    // acq_rel: release publishes what the setter wrote before set() to the
    // waiters that pass through later; acquire makes the queued nodes visible.
    const std::uintptr_t previous = state_.exchange(set_state, std::memory_order_acq_rel);
    if (previous == set_state || previous == not_set_state) return;
    // The list is newest-first; reverse it so waiters resume in arrival order.
    awaiter* oldest = nullptr;
    for (auto* node = reinterpret_cast<awaiter*>(previous); node != nullptr;) {
      awaiter* next = node->next_;
      node->next_ = oldest;
      oldest = node;
      node = next;
    }
    while (oldest != nullptr) {
      // Copy everything out first: resuming may destroy the node's frame.
      awaiter* next = oldest->next_;
      const std::coroutine_handle<> handle = oldest->handle_;
      const executor_ref executor = oldest->executor_;
      oldest->queued_ = false;
      detail::resume_on(executor, handle);
      oldest = next;
    }
  }

  // Clears the event if it is set; no effect otherwise.
  void reset() noexcept {
    std::uintptr_t expected = set_state;
    state_.compare_exchange_strong(expected, not_set_state, std::memory_order_relaxed,
                                   std::memory_order_relaxed);
  }

  class awaiter {
   public:
    explicit awaiter(async_event& event) noexcept : event_(&event) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter() {
      // Only reachable if the suspended frame is destroyed: set() would later
      // resume a dead coroutine through this node.
      if (queued_) detail::fatal("a coroutine waiting on an async_event was destroyed before set()");
    }

    bool await_ready() const noexcept { return event_->is_set(); }

    // False when the event got set meanwhile (continue without suspending).
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      handle_ = h;
      executor_ = current_executor();
      queued_ = true;
      std::uintptr_t state = event_->state_.load(std::memory_order_acquire);
      for (;;) {
        if (state == set_state) {
          queued_ = false;
          return false;
        }
        next_ = state == not_set_state ? nullptr : reinterpret_cast<awaiter*>(state);
        // Release publishes handle_/executor_/next_ to set(). After success
        // this node may be resumed and gone at any moment: touch nothing.
        if (event_->state_.compare_exchange_weak(state, reinterpret_cast<std::uintptr_t>(this),
                                                 std::memory_order_release,
                                                 std::memory_order_acquire)) {
          return true;
        }
      }
    }
    void await_resume() const noexcept {}

   private:
    friend class async_event;
    async_event* event_;
    awaiter* next_ = nullptr;
    std::coroutine_handle<> handle_;
    executor_ref executor_;
    bool queued_ = false;
  };

  // `co_await ev;` and `co_await ev.wait();` are the same.
  awaiter wait() noexcept { return awaiter(*this); }
  awaiter operator co_await() noexcept { return awaiter(*this); }

 private:
  // Node addresses are aligned, so neither value can be a node.
  static constexpr std::uintptr_t not_set_state = 0;
  static constexpr std::uintptr_t set_state = 1;

  std::atomic<std::uintptr_t> state_;
};

}  // namespace fastrt
