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
// Synchronisation: a single atomic word holds "empty", "ready" or the
// waiting awaiter; completing and awaiting race on it with one exchange / one
// compare-exchange and no lock. The shared state comes from the thread-local
// frame allocator.
//
// Thread-safety: the promise and the future may live on different threads;
// each of them is used by one thread at a time.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <optional>
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
    if (previous != empty && previous != ready) {
      // Copy out before resuming: the waiter lives in the awaiting frame.
      const future_waiter waiter = *reinterpret_cast<future_waiter*>(previous);
      resume_on(waiter.executor, waiter.handle);
    }
  }

  bool is_ready() const noexcept { return state_.load(std::memory_order_acquire) == ready; }

  // False when the value is already there (resume without suspending).
  bool try_wait(future_waiter* waiter) noexcept {
    std::uintptr_t expected = empty;
    return state_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(waiter),
                                          std::memory_order_acq_rel, std::memory_order_acquire);
  }

  // The awaiting frame is going away without having been resumed: stop
  // pointing at it (if the value has not won the race already).
  void abandon_wait(future_waiter* waiter) noexcept {
    std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(waiter);
    state_.compare_exchange_strong(expected, empty, std::memory_order_acq_rel,
                                   std::memory_order_acquire);
  }
  bool is_waiting(const future_waiter* waiter) const noexcept {
    return state_.load(std::memory_order_acquire) == reinterpret_cast<std::uintptr_t>(waiter);
  }

  value_type take() { return std::move(*value_); }

 private:
  static constexpr std::uintptr_t empty = 0;
  static constexpr std::uintptr_t ready = 1;

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
      // Only reachable while suspended if the awaiting frame is destroyed.
      if (state_->is_waiting(&waiter_)) state_->abandon_wait(&waiter_);
    }
    bool await_ready() const noexcept { return state_->is_ready(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      waiter_.handle = h;
      waiter_.executor = inline_ ? executor_ref{} : current_executor();
      return state_->try_wait(&waiter_);
    }
    value_type await_resume() { return state_->take(); }

   private:
    state* state_;
    bool inline_;
    detail::future_waiter waiter_{};
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
