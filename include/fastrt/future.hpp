// fastrt/future.hpp — promise<T> / awaitable_future<T>: one-shot values
// handed from any thread to a coroutine.
//
//   fastrt::promise<int> p;
//   auto f = p.get_future();
//   std::thread([p = std::move(p)]() mutable { p.set_value(42); }).detach();
//   fastrt::result<int> v = co_await std::move(f);
//
// Awaiting yields result<T> (or T itself when T already is a result): a
// promise destroyed without a value delivers errc::broken_promise instead of
// leaving the awaiter hanging.
//
// Where the coroutine resumes: on the executor that was current when it
// awaited (see executor.hpp), through that executor's post(). It resumes on
// the completing thread only when asked (`co_await f.resume_inline()`) or when
// it awaited on a thread that runs no executor. No thread is ever created.
//
// Cancellation: when the awaiting coroutine has a stop token (when_any,
// with_timeout, async_scope, io_threads give it one) and resumes through an
// executor, a stop request ends the await with errc::canceled at once: the
// coroutine is posted to its executor from the thread that requested the
// stop, and the producer is not told — its value, when it comes, is dropped
// with the shared state. A stop already requested at co_await time cancels
// without suspending, except when the value is already there: then the value
// wins (it costs nothing to deliver, and an await that could have completed
// is not turned into a failure). resume_inline() awaits and awaits on a
// thread without an executor are not cancellable: their stop callback would
// have to resume the coroutine inline, and when the stop was requested before
// the await, that would happen inside await_suspend, while the callback is
// being registered (re-entering the coroutine before it has suspended).
//
// Synchronisation: a single atomic word holds "empty", "ready", "stop
// requested before the waiter was published" or the waiting awaiter;
// completing, awaiting and stopping race on it with exchanges / compare-
// exchanges and no lock. The shared state comes from the thread-local frame
// allocator.
//
// Thread-safety: the promise and the future may live on different threads;
// each of them is used by one thread at a time.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "detail/frame_allocator.hpp"
#include "executor.hpp"
#include "result.hpp"
#include "task.hpp"

namespace fastrt {

// What co_await on an awaitable_future<T> gives.
template <class T>
using future_result_t = ensure_result_t<T>;

namespace detail {

struct future_waiter {
  std::coroutine_handle<> handle;
  executor_ref executor;
};

template <class T>
class future_state {
 public:
  using value_type = future_result_t<T>;

  static future_state* create() {
    return ::new (frame_allocator::allocate(sizeof(future_state))) future_state();
  }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~future_state();
      frame_allocator::deallocate(this, sizeof(future_state));
    }
  }
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }

  template <class... Args>
  void complete(Args&&... args) {
    value_.emplace(std::forward<Args>(args)...);
    const std::uintptr_t previous = state_.exchange(ready, std::memory_order_acq_rel);
    if (previous > stop_mark) {  // a waiter, not empty / ready / stop_mark
      // Copy out before resuming: the waiter lives in the awaiting frame.
      const future_waiter waiter = *reinterpret_cast<future_waiter*>(previous);
      resume_on(waiter.executor, waiter.handle);
    }
  }

  bool is_ready() const noexcept { return state_.load(std::memory_order_acquire) == ready; }

  // False when the value is already there, or a stop request came first
  // (see take_stop_mark); either way the awaiter does not suspend.
  bool try_wait(future_waiter* waiter) noexcept {
    std::uintptr_t expected = empty;
    return state_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(waiter),
                                          std::memory_order_acq_rel, std::memory_order_acquire);
  }

  // Stop pointing at the waiter (its frame is going away, or its await is
  // being canceled). False when the value won the race: the completer has
  // taken the waiter and resumes it.
  bool abandon_wait(future_waiter* waiter) noexcept {
    std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(waiter);
    return state_.compare_exchange_strong(expected, empty, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }

  enum class stop_result { took_waiter, marked, too_late };

  // A stop request for the await of `waiter` (the awaiter's stop callback,
  // on any thread). took_waiter: the waiter was suspended and is now ours to
  // resume. marked: it has not been published yet, so the state records the
  // stop and the awaiter's try_wait fails and sees it (take_stop_mark) — the
  // stop cannot fall between "register the callback" and "publish the
  // waiter". too_late: the value is there.
  stop_result request_stop(future_waiter* waiter) noexcept {
    const auto self = reinterpret_cast<std::uintptr_t>(waiter);
    std::uintptr_t current = state_.load(std::memory_order_acquire);
    for (;;) {
      if (current == self) {
        if (state_.compare_exchange_strong(current, empty, std::memory_order_acq_rel, std::memory_order_acquire))
          return stop_result::took_waiter;
      } else if (current == empty) {
        if (state_.compare_exchange_strong(current, stop_mark, std::memory_order_acq_rel, std::memory_order_acquire))
          return stop_result::marked;
      } else {
        return stop_result::too_late;
      }
      // The CAS failed and reloaded `current`: a completion or the publish raced us.
    }
  }

  // After a failed try_wait: true when it failed because of a stop request
  // (the mark is cleared, the future can be awaited again), false when the
  // value is there (also when it arrived after the mark).
  bool take_stop_mark() noexcept {
    std::uintptr_t expected = stop_mark;
    return state_.compare_exchange_strong(expected, empty, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }
  bool is_waiting(const future_waiter* waiter) const noexcept {
    return state_.load(std::memory_order_acquire) == reinterpret_cast<std::uintptr_t>(waiter);
  }

  value_type take() { return std::move(*value_); }

 private:
  static constexpr std::uintptr_t empty = 0;
  static constexpr std::uintptr_t ready = 1;
  static constexpr std::uintptr_t stop_mark = 2;  // waiters are aligned: never 2

  future_state() = default;
  std::atomic<std::uintptr_t> state_{empty};
  std::atomic<std::uint32_t> refs_{1};
  std::optional<value_type> value_;
};

}  // namespace detail

template <class T>
class awaitable_future;

template <class T>
class promise {
  using state = detail::future_state<T>;

 public:
  promise() : state_(state::create()) {}
  promise(promise&& other) noexcept : state_(std::exchange(other.state_, nullptr)),
                                      future_taken_(other.future_taken_) {}
  promise& operator=(promise&& other) noexcept {
    if (this != &other) {
      abandon();
      state_ = std::exchange(other.state_, nullptr);
      future_taken_ = other.future_taken_;
    }
    return *this;
  }
  promise(const promise&) = delete;
  promise& operator=(const promise&) = delete;
  ~promise() { abandon(); }

  // Once per promise.
  awaitable_future<T> get_future() {
    if (!state_ || future_taken_) detail::fatal("promise::get_future called twice or on a moved-from promise");
    future_taken_ = true;
    state_->add_ref();
    return awaitable_future<T>(state_);
  }

  // Completes the future; the promise is spent afterwards.
  template <class... Args>
  void set_value(Args&&... args) {
    if (!state_) detail::fatal("promise completed twice or after being moved from");
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(Args) == 0, "promise<void>::set_value takes no arguments");
      state_->complete();
    } else {
      state_->complete(T(std::forward<Args>(args)...));
    }
    std::exchange(state_, nullptr)->release();
  }
  void set_error(error err) {
    if (!state_) detail::fatal("promise completed twice or after being moved from");
    state_->complete(error_tag, std::move(err));
    std::exchange(state_, nullptr)->release();
  }

  bool valid() const noexcept { return state_ != nullptr; }

 private:
  void abandon() noexcept {
    if (state_) set_error(error(errc::broken_promise, "broken promise: destroyed without a value"));
  }
  state* state_;
  bool future_taken_ = false;
};

template <class T>
class [[nodiscard]] awaitable_future {
  using state = detail::future_state<T>;

 public:
  using value_type = future_result_t<T>;

  awaitable_future() noexcept = default;
  awaitable_future(awaitable_future&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  awaitable_future& operator=(awaitable_future&& other) noexcept {
    if (this != &other) {
      reset();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  awaitable_future(const awaitable_future&) = delete;
  awaitable_future& operator=(const awaitable_future&) = delete;
  ~awaitable_future() { reset(); }

  bool valid() const noexcept { return state_ != nullptr; }
  bool is_ready() const noexcept { return state_ && state_->is_ready(); }

  class awaiter {
   public:
    awaiter(state* s, bool inline_resume) noexcept : state_(s), inline_(inline_resume) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter() {
      stop_.reset();  // a stop callback running on another thread finishes first
      // Only reachable while suspended if the awaiting frame is destroyed.
      if (state_->is_waiting(&waiter_)) (void)state_->abandon_wait(&waiter_);
    }
    bool await_ready() const noexcept { return state_->is_ready(); }

    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) noexcept {
      waiter_.handle = h;
      waiter_.executor = inline_ ? executor_ref{} : current_executor();
      // Cancellable only when resuming through an executor (see the header
      // comment). Registered before the waiter is published: a stop that was
      // already requested runs the callback right here, and it leaves the
      // stop mark for try_wait.
      if constexpr (requires { h.promise().stop_token_ptr(); }) {
        const std::stop_token* token = h.promise().stop_token_ptr();
        if (waiter_.executor && token && token->stop_possible()) stop_.emplace(*token, on_stop{this});
      }
      // Published: from here the completer or the stop callback may resume
      // the coroutine on another thread, which may destroy this awaiter, so
      // nothing after a successful try_wait touches a member.
      if (state_->try_wait(&waiter_)) return true;
      canceled_ = state_->take_stop_mark();  // else the value is there
      return false;
    }

    value_type await_resume() {
      // Unregister first: the destructor waits for a callback that is still
      // running on another thread (it may have lost to the completer).
      stop_.reset();
      if (canceled_) return error(errc::canceled, "fastrt: awaiting a future was canceled");
      return state_->take();
    }

   private:
    struct on_stop {
      awaiter* self;
      void operator()() const noexcept {
        if (self->state_->request_stop(&self->waiter_) != state::stop_result::took_waiter) return;
        // We took the waiter, so nobody else resumes it; await_resume's
        // stop_.reset() waits for this call to return before the awaiter can go.
        self->canceled_ = true;
        detail::resume_on(self->waiter_.executor, self->waiter_.handle);  // always a post: executor is set
      }
    };

    state* state_;
    bool inline_;
    bool canceled_ = false;  // written before the resumption is posted, read after it
    detail::future_waiter waiter_{};
    std::optional<std::stop_callback<on_stop>> stop_;
  };

  awaiter operator co_await() && noexcept { return awaiter(checked(), false); }
  awaiter operator co_await() & noexcept { return awaiter(checked(), false); }

  // Resume on whichever thread completes the promise (saves one post).
  struct inline_awaitable {
    state* s;
    awaiter operator co_await() && noexcept { return awaiter(s, true); }
  };
  inline_awaitable resume_inline() noexcept { return {checked()}; }

 private:
  template <class>
  friend class promise;
  explicit awaitable_future(state* s) noexcept : state_(s) {}
  state* checked() const noexcept {
    if (!state_) detail::fatal("co_await on an empty awaitable_future");
    return state_;
  }
  void reset() noexcept {
    if (state_) std::exchange(state_, nullptr)->release();
  }
  state* state_ = nullptr;
};

}  // namespace fastrt
