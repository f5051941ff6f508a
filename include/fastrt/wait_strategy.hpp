// fastrt/wait_strategy.hpp — block a thread until a condition holds, without
// making the threads that establish the condition pay a syscall.
//
// A waiter calls wait_until(ready): it polls ready() while spinning, then
// while yielding, then sleeps on a futex (std::atomic<uint32_t>::wait) until
// a notifier wakes it. A notifier makes ready() true (e.g. pushes onto a
// queue) and then calls notify(), which issues the wake syscall only when a
// waiter has announced that it sleeps. close() wakes every waiter for good,
// for shutdown. waitable_queue.hpp pairs this with a queue.
//
// Thread-safety: every member may be called from any thread, concurrently;
// several threads may wait at once. ready() runs on the waiting thread.
//
// Cost: notify() with nobody asleep = one read-modify-write on the waiter's
// cache line (no syscall); with a sleeper, + one futex wake. A waiter burns
// CPU only for the bounded spin and yield phases, then sleeps.
//
// Why no wake can be lost. A waiter does
//     W1 seen = epoch (acquire)   W2 RMW sleepers += 1 (acq_rel)   W3 ready()?
//     W4 futex-wait while epoch == seen
// and a notifier, after making ready() true with some store S, does
//     N1 RMW sleepers += 0 (acq_rel), reading s   N2 if s > 0: epoch += 1, wake.
// W2 and N1 are read-modify-writes of the same word, so one comes first in
// its modification order. If N1 is first, W2 reads N1's value (or a later
// RMW's, which continues N1's release sequence), so S happens-before W3 and
// ready() sees it. If W2 is first, N1 reads a count that includes this
// waiter (it only leaves after waking), so N2 runs; since W2 happens-before
// N1, W1 cannot have read N2's increment, epoch differs from `seen`, and the
// futex wait returns at once or is woken. Only acquire/release on the atomics
// themselves: no standalone fences (ThreadSanitizer does not model them), and
// ready() may read its state with any memory order.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "detail/spin_wait.hpp"

namespace fastrt {

struct wait_options {
  // Polls with a pause instruction before yielding (on x86 a few ns each).
  std::uint32_t spin_rounds = 2000;
  // Polls with std::this_thread::yield before sleeping.
  std::uint32_t yield_rounds = 20;
};

class wait_strategy {
 public:
  wait_strategy() noexcept = default;
  explicit wait_strategy(wait_options options) noexcept : options_(options) {}
  wait_strategy(const wait_strategy&) = delete;
  wait_strategy& operator=(const wait_strategy&) = delete;

  // Returns true as soon as ready() returns true; false once close() has
  // been called and ready() is still false. ready() is called repeatedly on
  // this thread and must be cheap; it is always checked before "closed", so a
  // closed waiter still sees data that arrived first.
  template <class Ready>
  bool wait_until(Ready&& ready) {
    if (ready()) return true;
    if (closed_.load(std::memory_order_acquire)) return false;
    for (std::uint32_t i = 0; i < options_.spin_rounds; ++i) {
      detail::cpu_relax();
      if (ready()) return true;
    }
    for (std::uint32_t i = 0; i < options_.yield_rounds; ++i) {
      std::this_thread::yield();
      if (ready()) return true;
    }
    for (;;) {
      const std::uint32_t seen = epoch_.load(std::memory_order_acquire);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      if (ready()) {
        sleepers_.fetch_sub(1, std::memory_order_acq_rel);
        return true;
      }
      if (closed_.load(std::memory_order_acquire)) {
        sleepers_.fetch_sub(1, std::memory_order_acq_rel);
        return false;
      }
      epoch_.wait(seen, std::memory_order_acquire);
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      if (ready()) return true;
      // Woken by another notify or spuriously: announce and check again.
    }
  }

  // Call after making a waiter's ready() true. Wakes sleeping waiters; costs
  // no syscall when none sleeps.
  void notify() noexcept {
    // An RMW, not a load: see "Why no wake can be lost" above.
    if (sleepers_.fetch_add(0, std::memory_order_acq_rel) != 0) wake();
  }

  // Wakes every waiter; from now on wait_until returns false whenever
  // ready() is false. Irreversible: meant for shutdown.
  void close() noexcept {
    closed_.store(true, std::memory_order_release);
    wake();  // unconditional: a waiter that already read `closed` as false has not slept yet
  }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // Observability, for tests and metrics.
  // True while some thread is in (or about to enter) the sleeping phase.
  bool has_sleepers() const noexcept { return sleepers_.load(std::memory_order_acquire) != 0; }
  // How many wake-ups (futex notifies) notify() and close() have issued.
  std::uint32_t wake_count() const noexcept { return epoch_.load(std::memory_order_acquire); }

 private:
  void wake() noexcept {
    // The bump makes a waiter that read the old epoch but has not reached
    // the futex yet return from it at once; release pairs with the waiter's
    // acquire of epoch (that is how close() publishes closed_).
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    epoch_.notify_all();
  }

  wait_options options_{};
  // One line for the words notifiers and sleepers share, away from whatever
  // the owner places next to this object. 64 and not
  // std::hardware_destructive_interference_size, for the reason given in
  // detail/ring_storage.hpp (GCC: -Winterference-size, ABI varies with -mtune).
  alignas(64) std::atomic<std::uint32_t> sleepers_{0};
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace fastrt
