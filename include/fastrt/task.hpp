// fastrt/task.hpp — coro_task<T>: a lazy, move-only coroutine.
//
// A coro_task does nothing until it is awaited (or handed to sync_wait,
// when_all, async_scope...). Awaiting it transfers control to its frame
// symmetrically and the frame transfers back when it finishes, so an
// unbounded sequence of synchronously completing awaits uses constant stack.
//
// Frames come from detail::frame_allocator (thread-local free lists), so a
// steady state of create/await/destroy performs no global allocation.
//
// Destroying a task that never started, or that is suspended, destroys its
// frame and thereby every task it was awaiting: ownership is the chain.
//
// Cancellation: each task sees the std::stop_token of whoever started it
// (`co_await fastrt::this_task::stop_token()`); when_any and async_scope
// install their own, and with_stop_token.hpp gives one to any await. The
// token is inherited by pointer, so plain awaits cost no reference counting;
// the pointer is the library's business (detail::install_stop_token): users
// never hold a token for a task, they pass one by value to with_stop_token.
//
// Thread-safety: a task may be resumed on any thread, but by one at a time.
// Exceptions: fastrt builds with -fno-exceptions; should an exception escape a
// task anyway, the process terminates with a message (use result<T>).
#pragma once

#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "detail/fatal.hpp"
#include "detail/frame_allocator.hpp"

namespace fastrt {

template <class T = void>
class coro_task;

namespace detail {

// The part of every fastrt promise that does not depend on T.
class task_promise_base {
 public:
  static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
  static void operator delete(void* ptr, std::size_t size) noexcept {
    frame_allocator::deallocate(ptr, size);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
      return self.promise().early_return();
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  [[noreturn]] void unhandled_exception() noexcept {
    fatal("an exception escaped a coro_task (fastrt is exception-free: return a result<T>)");
  }

  void set_continuation(std::coroutine_handle<> c) noexcept { continuation_ = c; }
  // Where control goes when the task ends early (FASTRT_CO_TRY on an error):
  // the awaiting coroutine, exactly as after final_suspend.
  std::coroutine_handle<> early_return() const noexcept { return continuation_; }
  // The token this task sees, or null (then it inherits its awaiter's when
  // first awaited). Read by every cancellable awaiter of the library.
  const std::stop_token* stop_token_ptr() const noexcept { return stop_token_; }

 private:
  // Only the library installs tokens, each pointing to a copy it keeps alive
  // for as long as the task can run (a combinator's state, a scope, the frame
  // of with_stop_token).
  friend void install_stop_token(task_promise_base& promise, const std::stop_token* token) noexcept;

  // Until awaited, the no-op coroutine: a task resumed directly (by a
  // combinator or sync_wait) then hands control back to its resumer.
  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  const std::stop_token* stop_token_ = nullptr;
};

// Internal hook: makes `promise`'s task see `*token`, which must outlive
// every run of the task. Not an API: with_stop_token() is (it owns the token).
inline void install_stop_token(task_promise_base& promise, const std::stop_token* token) noexcept {
  promise.stop_token_ = token;
}

// Copies the caller's stop token into the callee when the caller is a
// fastrt coroutine; foreign coroutines simply pass no token.
template <class Callee, class Caller>
void inherit_stop_token(Callee& callee, std::coroutine_handle<Caller> caller) noexcept {
  if constexpr (requires { caller.promise().stop_token_ptr(); }) {
    if (!callee.stop_token_ptr()) install_stop_token(callee, caller.promise().stop_token_ptr());
  }
}

template <class T>
class task_promise : public task_promise_base {
 public:
  coro_task<T> get_return_object() noexcept;

  template <class U>
    requires std::is_constructible_v<T, U&&>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(value));
  }
  T take() {
    if (!value_) fatal("coro_task finished without a value");
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class task_promise<void> : public task_promise_base {
 public:
  coro_task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() noexcept {}
};

}  // namespace detail

template <class T>
class [[nodiscard]] coro_task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  coro_task() noexcept = default;
  explicit coro_task(handle_type h) noexcept : handle_(h) {}
  coro_task(coro_task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  coro_task& operator=(coro_task&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  coro_task(const coro_task&) = delete;
  coro_task& operator=(const coro_task&) = delete;
  // No reset(): the handle dies with the object, so it is not cleared first.
  ~coro_task() {
    if (handle_) handle_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(handle_); }
  bool done() const noexcept { return handle_ && handle_.done(); }

  struct awaiter {
    handle_type callee;
    bool await_ready() const noexcept { return false; }
    template <class Caller>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Caller> caller) noexcept {
      callee.promise().set_continuation(caller);
      detail::inherit_stop_token(callee.promise(), caller);
      return callee;
    }
    T await_resume() { return callee.promise().take(); }
  };

  // Awaiting consumes the task's value; the frame is freed with the task.
  awaiter operator co_await() && noexcept {
    if (!handle_) detail::fatal("co_await on an empty coro_task");
    return awaiter{handle_};
  }
  awaiter operator co_await() & noexcept { return std::move(*this).operator co_await(); }

  // For combinators: access to the frame without awaiting.
  handle_type handle() const noexcept { return handle_; }
  handle_type release() noexcept { return std::exchange(handle_, {}); }

 private:
  void reset() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }
  handle_type handle_;
};

namespace detail {
template <class T>
coro_task<T> task_promise<T>::get_return_object() noexcept {
  return coro_task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline coro_task<void> task_promise<void>::get_return_object() noexcept {
  return coro_task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

namespace this_task {
// `std::stop_token t = co_await fastrt::this_task::stop_token();` — the token
// of whoever started this task (empty if none). Does not suspend.
struct stop_token_awaiter {
  const std::stop_token* token = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> self) noexcept {
    if constexpr (requires { self.promise().stop_token_ptr(); }) token = self.promise().stop_token_ptr();
    return false;
  }
  std::stop_token await_resume() const noexcept { return token ? *token : std::stop_token{}; }
};
inline stop_token_awaiter stop_token() noexcept { return {}; }
}  // namespace this_task

}  // namespace fastrt
