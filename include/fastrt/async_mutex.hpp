// fastrt/async_mutex.hpp — async_mutex: mutual exclusion for coroutines that
// suspends instead of blocking the thread.
//
//   fastrt::async_mutex m;
//   {
//     fastrt::async_mutex_lock guard = co_await m.scoped_lock();
//     ... critical section, may co_await ...
//   }  // unlocked here
//   // or: co_await m.lock(); ...; m.unlock();   and   if (m.try_lock()) ...
//
// Fairness: waiters acquire the lock in the order they arrived. unlock()
// hands ownership straight to the oldest waiter (the mutex never becomes free
// in between, so nobody can barge in) and resumes it on the executor that was
// current when it awaited (see executor.hpp); inline inside unlock() only if
// it awaited on a thread that runs no executor.
//
// Synchronisation: one atomic word is "unlocked", "locked, no new waiters" or
// the head of a newest-first list of newly arrived waiters. The holder owns a
// second, oldest-first list: when it runs empty, unlock() takes the whole
// atomic list with one exchange and reverses it. Nodes are the awaiters in
// the suspended frames; nothing is allocated and no lock is taken.
//
// Thread-safety: lock/try_lock/scoped_lock from any thread; unlock() by the
// current holder, which may be on another thread than the one that locked.
// Lifetime: destroying the mutex while coroutines wait on it, or a coroutine
// while it waits, terminates with a message instead of corrupting memory.
// Cost: uncontended lock/unlock = one compare-exchange each; a contended
// unlock = at most one exchange + one post.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>  // std::adopt_lock_t
#include <utility>

#include "executor.hpp"
#include "task.hpp"

namespace fastrt {

class async_mutex;

// RAII ownership of a locked async_mutex (from `co_await m.scoped_lock()`).
class [[nodiscard]] async_mutex_lock {
 public:
  async_mutex_lock() noexcept = default;
  // Takes over a mutex the caller has already locked.
  explicit async_mutex_lock(async_mutex& m, std::adopt_lock_t) noexcept : mutex_(&m) {}
  async_mutex_lock(async_mutex_lock&& other) noexcept : mutex_(std::exchange(other.mutex_, nullptr)) {}
  async_mutex_lock& operator=(async_mutex_lock&& other) noexcept {
    if (this != &other) {
      unlock();
      mutex_ = std::exchange(other.mutex_, nullptr);
    }
    return *this;
  }
  async_mutex_lock(const async_mutex_lock&) = delete;
  async_mutex_lock& operator=(const async_mutex_lock&) = delete;
  ~async_mutex_lock() { unlock(); }

  bool owns_lock() const noexcept { return mutex_ != nullptr; }
  explicit operator bool() const noexcept { return owns_lock(); }
  // Unlocks early; the guard is empty afterwards.
  inline void unlock() noexcept;

 private:
  async_mutex* mutex_ = nullptr;
};

class async_mutex {
  class lock_awaiter_base;

 public:
  async_mutex() noexcept = default;
  async_mutex(const async_mutex&) = delete;
  async_mutex& operator=(const async_mutex&) = delete;
  ~async_mutex() {
    const std::uintptr_t state = state_.load(std::memory_order_acquire);
    if (oldest_ != nullptr || (state != unlocked && state != locked_no_waiters)) {
      detail::fatal("async_mutex destroyed while coroutines are waiting for it");
    }
  }

  bool try_lock() noexcept {
    std::uintptr_t expected = unlocked;
    // Acquire: see what the previous holder wrote before unlocking.
    return state_.compare_exchange_strong(expected, locked_no_waiters, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Releases the lock, handing it to the oldest waiter if there is one.
  void unlock() noexcept {
    lock_awaiter_base* next = oldest_;
    if (next == nullptr) {
      std::uintptr_t expected = locked_no_waiters;
      // Release: the critical section happens-before the next acquisition.
      if (state_.compare_exchange_strong(expected, unlocked, std::memory_order_release,
                                         std::memory_order_relaxed)) {
        return;
      }
      if (expected == unlocked) detail::fatal("async_mutex::unlock of a mutex that is not locked");
      // New waiters arrived. The state cannot become "unlocked" meanwhile (we
      // hold the lock), so taking the list is a plain exchange. Acquire makes
      // the nodes' fields visible.
      const std::uintptr_t list = state_.exchange(locked_no_waiters, std::memory_order_acquire);
      for (auto* node = reinterpret_cast<lock_awaiter_base*>(list); node != nullptr;) {
        lock_awaiter_base* newer = node->next_;
        node->next_ = next;
        next = node;
        node = newer;
      }
    }
    // Ownership passes to `next`: the state stays locked. The holder-owned
    // list travels with the lock; the resumption (a post, or inline) orders
    // our writes before the new holder's reads.
    oldest_ = next->next_;
    const std::coroutine_handle<> handle = next->handle_;
    const executor_ref executor = next->executor_;
    next->queued_ = false;
    detail::resume_on(executor, handle);
  }

 private:
  class lock_awaiter_base {
   public:
    explicit lock_awaiter_base(async_mutex& m) noexcept : mutex_(&m) {}
    lock_awaiter_base(const lock_awaiter_base&) = delete;
    lock_awaiter_base& operator=(const lock_awaiter_base&) = delete;
    ~lock_awaiter_base() {
      // Only reachable if the suspended frame is destroyed: unlock() would
      // later hand the lock to a dead coroutine.
      if (queued_) detail::fatal("a coroutine waiting for an async_mutex was destroyed while queued");
    }

    bool await_ready() noexcept { return mutex_->try_lock(); }

    // False when the lock was acquired meanwhile (continue without suspending).
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      handle_ = h;
      executor_ = current_executor();
      queued_ = true;
      std::uintptr_t state = mutex_->state_.load(std::memory_order_relaxed);
      for (;;) {
        if (state == unlocked) {
          if (mutex_->state_.compare_exchange_weak(state, locked_no_waiters, std::memory_order_acquire,
                                                   std::memory_order_relaxed)) {
            queued_ = false;
            return false;
          }
          continue;
        }
        next_ = state == locked_no_waiters ? nullptr : reinterpret_cast<lock_awaiter_base*>(state);
        // Release publishes handle_/executor_/next_ to unlock(). After success
        // the lock may be handed to us and this frame resumed at any moment.
        if (mutex_->state_.compare_exchange_weak(state, reinterpret_cast<std::uintptr_t>(this),
                                                 std::memory_order_release, std::memory_order_relaxed)) {
          return true;
        }
      }
    }

   protected:
    async_mutex* mutex_;

   private:
    friend class async_mutex;
    lock_awaiter_base* next_ = nullptr;
    std::coroutine_handle<> handle_;
    executor_ref executor_;
    bool queued_ = false;
  };

 public:
  class lock_awaiter : public lock_awaiter_base {
   public:
    using lock_awaiter_base::lock_awaiter_base;
    void await_resume() const noexcept {}
  };
  class scoped_lock_awaiter : public lock_awaiter_base {
   public:
    using lock_awaiter_base::lock_awaiter_base;
    async_mutex_lock await_resume() const noexcept { return async_mutex_lock(*mutex_, std::adopt_lock); }
  };

  // `co_await m.lock();` returns once the mutex is owned; call unlock() later.
  [[nodiscard]] lock_awaiter lock() noexcept { return lock_awaiter(*this); }
  // `auto guard = co_await m.scoped_lock();` unlocks when the guard dies.
  [[nodiscard]] scoped_lock_awaiter scoped_lock() noexcept { return scoped_lock_awaiter(*this); }

 private:
  // Node addresses are aligned, so neither value can be a node.
  static constexpr std::uintptr_t locked_no_waiters = 0;
  static constexpr std::uintptr_t unlocked = 1;

  std::atomic<std::uintptr_t> state_{unlocked};
  // Waiters already taken from state_, oldest first; owned by the holder.
  lock_awaiter_base* oldest_ = nullptr;
};

inline void async_mutex_lock::unlock() noexcept {
  if (mutex_) std::exchange(mutex_, nullptr)->unlock();
}

}  // namespace fastrt
