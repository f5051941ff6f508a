// fastrt/async_scope.hpp — async_scope: owns detached ("fire and forget")
// coroutines so that none of them can outlive the data they use.
//
//   fastrt::async_scope scope;
//   for (auto& c : clients) scope.spawn(serve(c));   // runs until first suspension
//   co_await scope.join();                            // every spawned task finished
//
// spawn() starts the task at once on the calling thread; it continues
// wherever its own awaits take it. join() resumes the joining coroutine when
// the last task has finished, on the executor that was current when it
// called join (inline on the finishing thread if it had none). Spawned tasks
// see the scope's stop token through this_task::stop_token(); request_stop()
// asks all of them to wind down.
//
// Rules, enforced with a fatal message rather than left as undefined
// behaviour: a scope that spawned anything must be joined before it is
// destroyed (even if the tasks happen to have finished: the rule must not
// depend on timing); spawn() after join() completed and a second join() are
// errors.
//
// Thread-safety: spawn() and request_stop() may be called from any thread,
// also from inside spawned tasks (spawning while a join is pending is fine).
// join() is awaited by one coroutine, once.
// Cost: spawn = one frame-allocator block for the wrapper frame (no global
// allocation in steady state) + one atomic increment; task completion = one
// atomic decrement. The stop_source is allocated once per scope.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <stop_token>
#include <utility>

#include "detail/frame_allocator.hpp"
#include "executor.hpp"
#include "task.hpp"

namespace fastrt {

class async_scope;

namespace detail {

// The coroutine that owns one spawned task: it awaits the task (so the task
// gets a continuation and runs with symmetric transfer), then destroys its own
// frame, and only then tells the scope that the task is done. Reporting after
// the frame is gone means a joiner never observes a half-destroyed task.
class scope_runner {
 public:
  struct promise_type {
    async_scope* scope = nullptr;

    static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
    static void operator delete(void* ptr, std::size_t size) noexcept {
      frame_allocator::deallocate(ptr, size);
    }

    scope_runner get_return_object() noexcept {
      return scope_runner(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }

    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> self) noexcept;
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept {
      fatal("an exception escaped a task spawned on an async_scope");
    }
  };

  explicit scope_runner(std::coroutine_handle<promise_type> h) noexcept : handle(h) {}
  std::coroutine_handle<promise_type> handle;
};

inline scope_runner run_in_scope(coro_task<void> task) { co_await std::move(task); }

}  // namespace detail

class async_scope {
 public:
  async_scope() : stop_token_(stop_source_.get_token()) {}
  async_scope(const async_scope&) = delete;
  async_scope& operator=(const async_scope&) = delete;

  ~async_scope() {
    const std::size_t count = count_.load(std::memory_order_acquire);
    if (count == 0) return;  // joined
    const bool untouched = count == 1 && !spawned_.load(std::memory_order_relaxed) &&
                           !joining_.load(std::memory_order_relaxed);
    if (untouched) return;
    detail::fatal(
        "async_scope destroyed before join() completed: spawned work would outlive its scope "
        "(co_await scope.join() before destroying the scope)");
  }

  // Starts `task` now, on this thread, until its first suspension.
  void spawn(coro_task<void> task) {
    if (!task.valid()) detail::fatal("async_scope::spawn of an empty coro_task");
    // Relaxed is enough: the task's own decrement is ordered after this
    // increment by the resume below (and by whatever moves it to other threads).
    if (count_.fetch_add(1, std::memory_order_relaxed) == 0) {
      detail::fatal("async_scope::spawn after join() completed");
    }
    if (!spawned_.load(std::memory_order_relaxed)) spawned_.store(true, std::memory_order_relaxed);
    // The scope outlives its tasks (enforced above), so a pointer suffices.
    detail::install_stop_token(task.handle().promise(), &stop_token_);
    detail::scope_runner runner = detail::run_in_scope(std::move(task));
    runner.handle.promise().scope = this;
    runner.handle.resume();
  }

  class join_awaiter {
   public:
    explicit join_awaiter(async_scope* scope) noexcept : scope_(scope) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) noexcept { return scope_->start_join(h); }
    void await_resume() const noexcept {}

   private:
    async_scope* scope_;
  };

  // `co_await scope.join();` completes when every spawned task has finished.
  [[nodiscard]] join_awaiter join() noexcept { return join_awaiter(this); }

  bool request_stop() noexcept { return stop_source_.request_stop(); }
  std::stop_token get_stop_token() const noexcept { return stop_token_; }

 private:
  friend struct detail::scope_runner::promise_type::final_awaiter;

  // Returns false when nothing is outstanding (the joiner continues at once).
  bool start_join(std::coroutine_handle<> h) noexcept {
    if (joining_.exchange(true, std::memory_order_relaxed)) detail::fatal("async_scope::join called twice");
    // Stored before the decrement that publishes them (release); the last
    // finisher reads them after its acquiring decrement.
    joiner_ = h;
    joiner_executor_ = current_executor();
    return count_.fetch_sub(1, std::memory_order_acq_rel) != 1;
  }

  void task_finished() noexcept {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Copy out before resuming: the joiner may destroy the scope.
      const executor_ref executor = joiner_executor_;
      const std::coroutine_handle<> joiner = joiner_;
      detail::resume_on(executor, joiner);
    }
    // Not the last one: the scope may already be gone, touch nothing.
  }

  std::stop_source stop_source_;
  std::stop_token stop_token_;
  // Outstanding tasks + 1 while join() has not been called yet.
  std::atomic<std::size_t> count_{1};
  std::atomic<bool> spawned_{false};
  std::atomic<bool> joining_{false};
  std::coroutine_handle<> joiner_;
  executor_ref joiner_executor_;
};

namespace detail {
inline void scope_runner::promise_type::final_awaiter::await_suspend(
    std::coroutine_handle<promise_type> self) noexcept {
  async_scope* scope = self.promise().scope;
  // Frees this awaiter as well: nothing of the frame is touched afterwards.
  self.destroy();
  scope->task_finished();
}
}  // namespace detail

}  // namespace fastrt
