// fastrt/thread_pool.hpp — a small fixed-size executor for tests, examples
// and CPU work.
//
// N threads share one FIFO of coroutine handles. `post(h)` enqueues,
// `co_await pool.schedule()` moves the awaiting coroutine onto the pool.
// Idle workers wait with wait_strategy (a short spin, a few yields, then a
// futex sleep); `post` pays the wake-up syscall only when a worker sleeps.
//
// Destruction lets queued work run to the end (including work that running
// coroutines post meanwhile), then joins the threads. Posting once the
// threads are gone is a bug (the handle would be lost): it terminates with a
// message.
//
// Thread-safety: post and schedule may be called from any thread.
// Cost: post = one uncontended lock + a store into a ring that only grows
// (no allocation in steady state) + one RMW; waking a sleeping worker = one
// futex syscall.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "executor.hpp"
#include "task.hpp"
#include "wait_strategy.hpp"

namespace fastrt {

class thread_pool {
 public:
  explicit thread_pool(std::size_t threads = std::thread::hardware_concurrency()) : ring_(initial_capacity) {
    if (threads == 0) threads = 1;
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    idle_.close();  // workers finish what is queued, then return
    for (auto& t : workers_) t.join();
    std::lock_guard lock(mutex_);
    joined_ = true;
    if (count_ != 0) detail::fatal("thread_pool destroyed with work still queued");
  }

  std::size_t size() const noexcept { return workers_.size(); }

  void post(std::coroutine_handle<> h) {
    {
      std::lock_guard lock(mutex_);
      if (joined_) detail::fatal("thread_pool::post after the pool stopped");
      if (count_ == ring_.size()) grow();
      ring_[(head_ + count_) & (ring_.size() - 1)] = h;
      ++count_;
      queued_.store(count_, std::memory_order_release);
    }
    idle_.notify();
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
  static constexpr std::size_t initial_capacity = 256;  // a power of two
  // A short spin (a pool worker that spins long starves the thread it waits
  // for when the machine is oversubscribed), then yields, which cost little
  // and let a thread sharing this core run, before the futex sleep.
  static constexpr wait_options idle_options{.spin_rounds = 256, .yield_rounds = 64};

  std::coroutine_handle<> try_pop() {
    if (queued_.load(std::memory_order_acquire) == 0) return {};
    std::lock_guard lock(mutex_);
    if (count_ == 0) return {};
    auto h = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    --count_;
    queued_.store(count_, std::memory_order_relaxed);
    return h;
  }

  // Doubles the ring, keeping FIFO order. Called with the lock held.
  void grow() {
    std::vector<std::coroutine_handle<>> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_.swap(bigger);
    head_ = 0;
  }

  void work() {
    executor_scope scope(*this);
    for (;;) {
      if (auto h = try_pop()) {
        h.resume();
        continue;
      }
      // false: the pool is closing and nothing is queued.
      if (!idle_.wait_until([this] { return queued_.load(std::memory_order_acquire) != 0; })) return;
    }
  }

  std::mutex mutex_;
  std::vector<std::coroutine_handle<>> ring_;  // guarded by mutex_
  std::size_t head_ = 0;                       // guarded by mutex_
  std::size_t count_ = 0;                      // guarded by mutex_
  bool joined_ = false;                        // guarded by mutex_
  // count_ mirrored for lock-free polling by idle workers.
  alignas(64) std::atomic<std::size_t> queued_{0};
  wait_strategy idle_{idle_options};
  std::vector<std::thread> workers_;
};

}  // namespace fastrt
