// fastrt/thread_pool.hpp — a small fixed-size executor for tests, examples
// and CPU work.
//
// N threads share one FIFO of coroutine handles. `post(h)` enqueues,
// `co_await pool.schedule()` moves the awaiting coroutine onto the pool.
// Idle workers spin briefly, then yield, then sleep on a futex
// (std::atomic::wait); `post` pays the notify only when someone sleeps.
//
// Destruction lets queued work run to the end (including work that running
// coroutines post meanwhile), then joins the threads. Posting once the
// threads are gone is a bug (the handle would be lost): it terminates with a
// message.
//
// Thread-safety: post and schedule may be called from any thread.
// Cost: post = one uncontended lock + push; wake-up of a sleeping worker =
// one futex syscall.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "executor.hpp"
#include "task.hpp"

namespace fastrt {

class thread_pool {
 public:
  explicit thread_pool(std::size_t threads = std::thread::hardware_concurrency()) {
    if (threads == 0) threads = 1;
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    stopping_.store(true, std::memory_order_release);
    wake_all();
    for (auto& t : workers_) t.join();
    std::lock_guard lock(mutex_);
    closed_ = true;
    if (!queue_.empty()) detail::fatal("thread_pool destroyed with work still queued");
  }

  std::size_t size() const noexcept { return workers_.size(); }

  void post(std::coroutine_handle<> h) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) detail::fatal("thread_pool::post after the pool stopped");
      queue_.push_back(h);
    }
    // seq_cst pairs with the sleeper's seq_cst increment: either it sees this
    // item, or we see it asleep and notify.
    queued_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      epoch_.fetch_add(1, std::memory_order_release);
      epoch_.notify_one();
    }
  }

  struct schedule_awaiter {
    thread_pool* pool;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { pool->post(h); }
    void await_resume() const noexcept {}
  };
  // `co_await pool.schedule();` continues on one of the pool's threads.
  schedule_awaiter schedule() noexcept { return {this}; }

  // True on a thread of this pool.
  bool running_in_this_thread() noexcept { return current_executor() == executor_ref(*this); }

 private:
  static constexpr int spin_rounds = 2000;
  static constexpr int yield_rounds = 20;

  std::coroutine_handle<> try_pop() {
    if (queued_.load(std::memory_order_acquire) == 0) return {};
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return {};
    auto h = queue_.front();
    queue_.pop_front();
    queued_.fetch_sub(1, std::memory_order_relaxed);
    return h;
  }

  void work() {
    executor_scope scope(*this);
    for (;;) {
      if (auto h = try_pop()) {
        h.resume();
        continue;
      }
      if (idle_wait()) return;
    }
  }

  // Spin, yield, then sleep until something is queued. Returns true when the
  // pool is stopping and nothing is left to run.
  bool idle_wait() {
    for (int i = 0; i < spin_rounds; ++i) {
      if (queued_.load(std::memory_order_acquire) != 0) return false;
      cpu_relax();
    }
    for (int i = 0; i < yield_rounds; ++i) {
      if (queued_.load(std::memory_order_acquire) != 0) return false;
      std::this_thread::yield();
    }
    const std::uint32_t seen = epoch_.load(std::memory_order_acquire);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (queued_.load(std::memory_order_seq_cst) != 0) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    if (stopping_.load(std::memory_order_acquire)) {
      // A worker still running may post more; it then runs that itself.
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    epoch_.wait(seen, std::memory_order_acquire);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }

  void wake_all() {
    epoch_.fetch_add(1, std::memory_order_release);
    epoch_.notify_all();
  }

  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  std::mutex mutex_;
  std::deque<std::coroutine_handle<>> queue_;
  bool closed_ = false;
  alignas(64) std::atomic<std::size_t> queued_{0};
  alignas(64) std::atomic<std::uint32_t> epoch_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace fastrt
