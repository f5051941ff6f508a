// fastrt/executor.hpp — what an executor is, and which one this thread runs.
//
// An executor is anything with `post(std::coroutine_handle<>)` that later
// resumes the handle on one of its threads. Awaitables that complete from
// another thread (awaitable_future, async_event, async_mutex) capture the
// executor current at the point of co_await and post the resumption there,
// so a coroutine never silently moves onto the completing thread.
//
// Executors announce themselves to the code they run with
// `executor_scope`; `current_executor()` reads it back. A thread that runs no
// executor has none, and awaitables then resume inline (documented per type).
//
// Cost: executor_ref is two words; current_executor() is one thread_local read.
#pragma once

#include <coroutine>
#include <memory>
#include <type_traits>

namespace fastrt {

template <class E>
concept executor = requires(E& e, std::coroutine_handle<> h) { e.post(h); };

// A non-owning, type-erased reference to an executor.
class executor_ref {
 public:
  executor_ref() noexcept = default;
  template <executor E>
    requires(!std::is_same_v<std::remove_cv_t<E>, executor_ref>)  // copies stay copies
  executor_ref(E& e) noexcept  // NOLINT: implicit by design, like std::function_ref
      : object_(std::addressof(e)), post_([](void* object, std::coroutine_handle<> h) {
          static_cast<E*>(object)->post(h);
        }) {}

  void post(std::coroutine_handle<> h) const { post_(object_, h); }
  explicit operator bool() const noexcept { return object_ != nullptr; }
  friend bool operator==(const executor_ref& a, const executor_ref& b) noexcept {
    return a.object_ == b.object_;
  }

 private:
  void* object_ = nullptr;
  void (*post_)(void*, std::coroutine_handle<>) = nullptr;
};

namespace detail {
inline executor_ref& current_executor_slot() noexcept {
  static thread_local executor_ref current;
  return current;
}
}  // namespace detail

// The executor whose thread this is, or an empty ref.
inline executor_ref current_executor() noexcept { return detail::current_executor_slot(); }

// Marks the current thread as running `e` for the scope's lifetime (nests).
class executor_scope {
 public:
  explicit executor_scope(executor_ref e) noexcept : previous_(detail::current_executor_slot()) {
    detail::current_executor_slot() = e;
  }
  executor_scope(const executor_scope&) = delete;
  executor_scope& operator=(const executor_scope&) = delete;
  ~executor_scope() { detail::current_executor_slot() = previous_; }

 private:
  executor_ref previous_;
};

namespace detail {
// Resume `h` through `e` if there is one, inline otherwise.
inline void resume_on(executor_ref e, std::coroutine_handle<> h) {
  if (e) e.post(h);
  else h.resume();
}
}  // namespace detail

}  // namespace fastrt
