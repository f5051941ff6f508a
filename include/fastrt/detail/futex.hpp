// fastrt/detail/futex.hpp — the Linux futex on a 32-bit atomic word, without
// a library's bookkeeping around it.
//
// futex_wait(word, expected) sleeps while *word == expected (it returns at
// once when it differs, and may return spuriously: callers re-check).
// futex_wake(word) wakes one sleeper. Unlike std::atomic::notify_one,
// futex_wake touches no memory of the word's object: the kernel uses the
// address only as a key, so it may be called after the object is gone (a
// sleeper that never was there is not woken; a new object at that address
// gets at most a spurious wake-up, which every futex user tolerates). That
// lets a waker publish with one atomic operation and then wake, while the
// woken thread is free to destroy the word at once (see sync_wait.hpp).
//
// Thread-safety: any thread. Cost: one syscall each.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace fastrt::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t), "a futex is a plain 32-bit word");

inline void futex_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected) noexcept {
  (void)::syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

inline void futex_wake(const std::atomic<std::uint32_t>* word) noexcept {
  (void)::syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace fastrt::detail
