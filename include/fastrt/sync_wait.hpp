// fastrt/sync_wait.hpp — block the calling thread until an awaitable
// (usually a coro_task) finishes, and return its value.
//
// The calling thread becomes an executor for the duration: anything that
// resumes "on the executor it awaited from" (awaitable_future, async_event,
// async_mutex, ...) comes back to this thread through a small run loop, so
// sync_wait never busy-waits and never resumes code on foreign threads.
//
// Use it at the edges (main, tests); inside coroutines, co_await instead.
// Cost: one mutex + condition variable per call; a futex wake per post from
// another thread.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/awaitable_traits.hpp"
#include "executor.hpp"
#include "task.hpp"

namespace fastrt {

namespace detail {

// Runs posted handles on the thread that calls run(), until finish().
class run_loop {
 public:
  void post(std::coroutine_handle<> h) {
    std::lock_guard lock(mutex_);
    queue_.push_back(h);
    ready_.notify_one();
  }
  void finish() {
    std::lock_guard lock(mutex_);
    finished_ = true;
    ready_.notify_one();
  }
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_.wait(lock, [&] { return finished_ || !queue_.empty(); });
      if (queue_.empty()) return;  // finished and drained
      auto h = queue_.front();
      queue_.pop_front();
      lock.unlock();
      h.resume();
      lock.lock();
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::coroutine_handle<>> queue_;
  bool finished_ = false;
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
auto sync_wait(A&& awaitable) -> detail::await_result_t<A> {
  using value_type = detail::await_result_t<A>;
  std::optional<detail::non_void_t<value_type>> slot;
  detail::run_loop loop;
  executor_scope scope(loop);
  detail::make_sync_wait_task(std::forward<A>(awaitable), slot).run(loop);
  if constexpr (!std::is_void_v<value_type>) return std::move(*slot);
}

}  // namespace fastrt
