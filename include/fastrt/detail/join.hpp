// fastrt/detail/join.hpp — the fork/join machinery shared by when_all and
// when_any: a lock-free countdown that hands control back to the awaiting
// coroutine, and the small helper coroutine that runs one child under it.
//
// Each child of a combinator is awaited by its own join_child coroutine. The
// helper's final suspend point releases one reference of the join_counter;
// the release that brings it to zero returns the parent's handle, so the last
// child to finish resumes the parent by symmetric transfer (no extra stack
// frame, no post). The starter holds one extra reference while it launches
// the children, so none of them can resume the parent before all have
// started (the parent is still inside its await_suspend at that time).
//
// Thread-safety: release() and try_acquire() may race from any threads; the
// counter's acq_rel read-modify-writes order every child's writes (its result
// slot) before the parent's resumption. Everything else is touched only by
// the starter before the children run, or by the parent after they finished.
// Cost: one frame-allocator block per child, one atomic RMW per completion.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <stop_token>
#include <utility>

#include "../task.hpp"

namespace fastrt::detail {

class join_counter {
 public:
  // `references` = number of children + 1 for the starter.
  void arm(std::size_t references, std::coroutine_handle<> parent) noexcept {
    parent_ = parent;
    count_.store(references, std::memory_order_relaxed);
  }

  // Drops one reference. Returns the parent's handle to the caller that
  // dropped the last one, a no-op handle to everyone else. After a release
  // that was not the last, the caller must not touch this object again: the
  // parent may already be running and destroying it.
  std::coroutine_handle<> release() noexcept {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) return parent_;
    return std::noop_coroutine();
  }
  // Same, as a bool for await_suspend: true when this was the last reference.
  bool release_is_last() noexcept { return count_.fetch_sub(1, std::memory_order_acq_rel) == 1; }

  // Takes a reference unless the count already reached zero (the parent is
  // then resuming or gone: the caller must back off). Used by a stop
  // forwarder that must not let the parent resume under its feet.
  bool try_acquire() noexcept {
    std::size_t seen = count_.load(std::memory_order_relaxed);
    while (seen != 0) {
      if (count_.compare_exchange_weak(seen, seen + 1, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

 private:
  std::atomic<std::size_t> count_{0};
  std::coroutine_handle<> parent_;
};

class join_child;

// Derives from task_promise_base for the frame allocator and the stop-token
// slot (the awaited child inherits the token from here); only the final
// suspend differs: it reports to the join_counter instead of a continuation.
class join_child_promise : public task_promise_base {
 public:
  join_child get_return_object() noexcept;
  void return_void() noexcept {}

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<join_child_promise> self) noexcept {
      // Read the counter before releasing: once released, this frame may be
      // destroyed by the resumed parent on another thread.
      join_counter* counter = self.promise().counter_;
      return counter->release();
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void set_counter(join_counter* counter) noexcept { counter_ = counter; }

 private:
  join_counter* counter_ = nullptr;
};

// Owns one helper frame; destroying it destroys the child it awaits.
class join_child {
 public:
  using promise_type = join_child_promise;
  using handle_type = std::coroutine_handle<join_child_promise>;

  join_child() noexcept = default;
  explicit join_child(handle_type h) noexcept : handle_(h) {}
  join_child(join_child&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  join_child& operator=(join_child&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  join_child(const join_child&) = delete;
  join_child& operator=(const join_child&) = delete;
  ~join_child() { reset(); }

  // Runs the child on this thread until it first suspends or finishes.
  void start(join_counter& counter, const std::stop_token* token) noexcept {
    handle_.promise().set_counter(&counter);
    install_stop_token(handle_.promise(), token);
    handle_.resume();
  }

  void reset() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

 private:
  handle_type handle_;
};

inline join_child join_child_promise::get_return_object() noexcept {
  return join_child(join_child::handle_type::from_promise(*this));
}

template <class P>
const std::stop_token* stop_token_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (requires { h.promise().stop_token_ptr(); }) {
    return h.promise().stop_token_ptr();
  } else {
    return nullptr;  // a foreign coroutine (e.g. sync_wait) has no token
  }
}

template <class T>
coro_task<T>&& checked_task(coro_task<T>&& task) noexcept {
  if (!task.valid()) fatal("when_all/when_any given an empty coro_task");
  return std::move(task);
}

}  // namespace fastrt::detail
