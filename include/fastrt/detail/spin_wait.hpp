// fastrt/detail/spin_wait.hpp — poll a condition for a bounded TIME before a
// thread goes to sleep.
//
// Two phases, each bounded by time, not by a count of polls (one `pause`
// takes from ~10 to ~140 cycles depending on the CPU, so "512 rounds" means
// 5 us on one machine and 25 us on another): first polls separated by a
// `pause` instruction, the quickest to notice a change; then polls separated
// by sched_yield, which costs a syscall (~0.2 us here) but lets the thread
// that is to make ready() true run when it waits for this very CPU (a
// loaded machine: a pause-spinning waiter otherwise delays it until the
// spin ends). The clock is steady_clock (vDSO, no syscall), read every 8th
// pause and after every yield.
//
// Thread-safety: stateless. Cost: at most the two budgets, in CPU time of
// the calling thread; nothing when ready() is true on the first poll.
#pragma once

#include <sched.h>

#include <chrono>
#include <cstdint>

namespace fastrt::detail {

struct spin_budget {
  std::chrono::nanoseconds pause{0};  // polls with cpu_relax() for this long
  std::chrono::nanoseconds yield{0};  // then with sched_yield() for this long
};

// Tells the CPU this is a spin loop (saves power, frees the sibling hyper-thread).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls ready() until it returns true (then true) or the budget is spent
// (then false). An empty budget polls once.
template <class Ready>
bool spin_until(Ready&& ready, spin_budget budget) {
  if (ready()) return true;
  using clock = std::chrono::steady_clock;
  const clock::time_point start = clock::now();
  if (budget.pause > std::chrono::nanoseconds::zero()) {
    const clock::time_point end = start + budget.pause;
    for (std::uint32_t polls = 1;; ++polls) {
      cpu_relax();
      if (ready()) return true;
      if (polls % 8 == 0 && clock::now() >= end) break;
    }
  }
  if (budget.yield > std::chrono::nanoseconds::zero()) {
    const clock::time_point end = start + budget.pause + budget.yield;
    do {
      ::sched_yield();
      if (ready()) return true;
    } while (clock::now() < end);
  }
  return false;
}

// Spins for about `duration` with cpu_relax(), reading only the clock: a
// wait that causes no cache-line traffic with other threads (spin_until's
// pause phase with nothing to poll).
inline void pause_for(std::chrono::nanoseconds duration) noexcept {
  (void)spin_until([] { return false; }, spin_budget{.pause = duration});
}

}  // namespace fastrt::detail
