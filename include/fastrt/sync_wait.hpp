// fastrt/sync_wait.hpp — block the calling thread until an awaitable
// (usually a coro_task) finishes, and return its value.
//
// The calling thread becomes an executor for the duration: anything that
// resumes "on the executor it awaited from" (awaitable_future, async_event,
// async_mutex, ...) comes back to this thread through a small run loop, so
// sync_wait never resumes code on foreign threads.
//
// Waiting for the next step: by default the thread polls with sched_yield
// for up to 20 us, then sleeps on a futex (sync_wait_options says how long
// and how). Why yield and not pause: on the test VM the scheduler woke the
// thread that completes the step (an executor worker) on this very CPU; a
// pause-spinning waiter kept it waiting there until the spin ended, a
// yielding one lets it run at once and picks up its completion without
// either side paying a futex wake (measured in bench/README.md, issue 15).
//
// Use it at the edges (main, tests); inside coroutines, co_await instead.
// Cost: one mutex per post; at most the spin budget of CPU per step; a
// futex wake per post only once this thread sleeps.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/awaitable_traits.hpp"
#include "detail/futex.hpp"
#include "detail/spin_wait.hpp"
#include "executor.hpp"
#include "task.hpp"

namespace fastrt {

// How sync_wait waits for the awaitable's next step (a completion posted
// from another thread): it polls for `spin` (a pause phase, then a yield
// phase, each bounded by time; see detail/spin_wait.hpp), then sleeps on a
// futex. A completion that comes back while it polls costs the completing
// thread no syscall and this thread no wake-up latency. An empty budget
// sleeps at once.
using spin_budget = detail::spin_budget;
struct sync_wait_options {
  spin_budget spin{.pause = std::chrono::nanoseconds(0), .yield = std::chrono::microseconds(20)};
};

namespace detail {

// Runs posted handles on the thread that calls run(), until finish().
//
// Waiting for work: the run() thread first polls for the `spin` budget,
// then sleeps on a futex. A poster wakes it only when it has announced that
// it sleeps.
//
// Why no wake is lost and nobody touches a dead loop. signal_ is quiet /
// posted / sleeping. Posters push and exchange signal_ to posted under the
// mutex; run() stores quiet under the mutex when it finds nothing to do, and
// outside it only reads signal_ or moves it quiet -> sleeping by
// compare-exchange, so a post either makes that CAS fail or sees sleeping
// and wakes. run() returns (and the loop may be destroyed) only after it has
// taken the mutex and seen finished_, so every poster has then finished its
// critical section; after it a poster only finishes unlocking the mutex
// (glibc lets a mutex be destroyed right after another thread's unlock, as
// the previous condvar version relied on) and issues the futex wake, which
// touches no memory (futex.hpp).
class run_loop {
 public:
  explicit run_loop(spin_budget spin) noexcept : spin_(spin) {}

  void post(std::coroutine_handle<> h) {
    std::unique_lock lock(mutex_);
    queue_.push_back(h);
    signal(lock);
  }
  void finish() {
    std::unique_lock lock(mutex_);
    finished_ = true;
    signal(lock);
  }
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (!queue_.empty()) {
        auto h = queue_.front();
        queue_.pop_front();
        lock.unlock();
        h.resume();
        lock.lock();
        continue;
      }
      if (finished_) return;  // finished and drained
      signal_.store(quiet, std::memory_order_relaxed);
      lock.unlock();
      wait_for_signal();
      lock.lock();
    }
  }

 private:
  // The states of signal_ (a plain 32-bit word: the futex sleeps on it).
  enum wake_state : std::uint32_t { quiet, posted, sleeping };

  // Under the mutex; wakes the run() thread after unlocking if it sleeps.
  void signal(std::unique_lock<std::mutex>& lock) {
    const bool asleep = signal_.exchange(posted, std::memory_order_acq_rel) == sleeping;
    lock.unlock();
    if (asleep) futex_wake(&signal_);
  }

  void wait_for_signal() {
    if (spin_until([this] { return signal_.load(std::memory_order_acquire) != quiet; }, spin_)) return;
    std::uint32_t expected = quiet;
    if (signal_.compare_exchange_strong(expected, sleeping, std::memory_order_acq_rel, std::memory_order_acquire))
      futex_wait(&signal_, sleeping);  // returns at once if a post came in between; may return spuriously
  }

  const spin_budget spin_;
  std::mutex mutex_;
  std::deque<std::coroutine_handle<>> queue_;
  bool finished_ = false;
  std::atomic<std::uint32_t> signal_{quiet};
};

// The coroutine that sync_wait drives: awaits the user's awaitable, stores
// its value and tells the loop it is done.
class sync_wait_task {
 public:
  struct promise_type {
    run_loop* loop = nullptr;
    sync_wait_task get_return_object() noexcept {
      return sync_wait_task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        // The frame may be destroyed as soon as finish() returns.
        self.promise().loop->finish();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept { fatal("an exception escaped sync_wait"); }
  };

  explicit sync_wait_task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  sync_wait_task(sync_wait_task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  sync_wait_task(const sync_wait_task&) = delete;
  ~sync_wait_task() {
    if (handle_) handle_.destroy();
  }
  void run(run_loop& loop) {
    handle_.promise().loop = &loop;
    handle_.resume();
    loop.run();
  }

 private:
  std::coroutine_handle<promise_type> handle_;
};

template <class A, class Slot>
sync_wait_task make_sync_wait_task(A&& awaitable, Slot& slot) {
  if constexpr (std::is_void_v<await_result_t<A>>) {
    co_await std::forward<A>(awaitable);
  } else {
    slot.emplace(co_await std::forward<A>(awaitable));
  }
}

}  // namespace detail

// Runs `awaitable` to completion on this thread and returns its value.
template <detail::awaitable A>
auto sync_wait(A&& awaitable, sync_wait_options options = {}) -> detail::await_result_t<A> {
  using value_type = detail::await_result_t<A>;
  std::optional<detail::non_void_t<value_type>> slot;
  detail::run_loop loop(options.spin);
  executor_scope scope(loop);
  detail::make_sync_wait_task(std::forward<A>(awaitable), slot).run(loop);
  if constexpr (!std::is_void_v<value_type>) return std::move(*slot);
}

}  // namespace fastrt
