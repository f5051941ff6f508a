// fastrt/when_all.hpp — await several coro_tasks concurrently, get every result.
//
//   auto [a, b] = co_await fastrt::when_all(fetch_a(), fetch_b());
//   std::vector<int> v = co_await fastrt::when_all(std::move(tasks));
//
// The variadic form yields std::tuple<non_void_t<Ts>...> (void children give
// detail::void_value), the range form std::vector<non_void_t<T>>, both in
// input order whatever the completion order. An empty range completes
// without suspending.
//
// Children are started one after the other on the awaiting thread; each runs
// until its first suspension, so they overlap only where they suspend (e.g.
// `co_await pool.schedule()`). The parent resumes when the last child
// finishes, on that child's thread, by symmetric transfer. Children see the
// parent's stop token (inherited by pointer, as with a plain co_await).
//
// Thread-safety: children may complete concurrently on any threads; the only
// shared write is one atomic decrement each (see detail/join.hpp). The
// when_all object itself is used by one thread, like a coro_task.
// Cost: one helper frame per child from the frame allocator, plus result
// slots inside the awaiting frame (the range form allocates its slot, helper
// and result vectors instead). No lock, no post.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/awaitable_traits.hpp"
#include "detail/join.hpp"
#include "task.hpp"

namespace fastrt {

namespace detail {

// Awaits one child and stores its value in the parent's slot. The child's
// frame is freed as soon as its value is out, not when the parent resumes.
template <class T>
join_child when_all_child(coro_task<T> task, std::optional<non_void_t<T>>& slot) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    slot.emplace();
  } else {
    slot.emplace(co_await std::move(task));
  }
  task = coro_task<T>();  // free the child's frame now
}

template <class... Ts>
class when_all_awaiter {
 public:
  explicit when_all_awaiter(std::tuple<coro_task<Ts>...>&& tasks) noexcept : tasks_(std::move(tasks)) {}
  when_all_awaiter(const when_all_awaiter&) = delete;
  when_all_awaiter& operator=(const when_all_awaiter&) = delete;

  bool await_ready() const noexcept { return sizeof...(Ts) == 0; }

  template <class P>
  bool await_suspend(std::coroutine_handle<P> parent) noexcept {
    const std::stop_token* token = stop_token_of(parent);
    counter_.arm(sizeof...(Ts) + 1, parent);
    start_all(token, std::index_sequence_for<Ts...>{});
    // Our own reference: if it is the last, every child finished during
    // start and we simply do not suspend.
    return !counter_.release_is_last();
  }

  std::tuple<non_void_t<Ts>...> await_resume() {
    return take(std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  void start_all([[maybe_unused]] const std::stop_token* token, std::index_sequence<I...>) noexcept {
    ((children_[I] = when_all_child(std::move(std::get<I>(tasks_)), std::get<I>(slots_)),
      children_[I].start(counter_, token)),
     ...);
  }
  template <std::size_t... I>
  std::tuple<non_void_t<Ts>...> take(std::index_sequence<I...>) {
    return std::tuple<non_void_t<Ts>...>(std::move(*std::get<I>(slots_))...);
  }

  std::tuple<coro_task<Ts>...> tasks_;
  std::tuple<std::optional<non_void_t<Ts>>...> slots_;
  std::array<join_child, sizeof...(Ts)> children_;
  join_counter counter_;
};

template <class T>
class when_all_range_awaiter {
 public:
  explicit when_all_range_awaiter(std::vector<coro_task<T>>&& tasks) noexcept : tasks_(std::move(tasks)) {}
  when_all_range_awaiter(const when_all_range_awaiter&) = delete;
  when_all_range_awaiter& operator=(const when_all_range_awaiter&) = delete;

  bool await_ready() const noexcept { return tasks_.empty(); }

  template <class P>
  bool await_suspend(std::coroutine_handle<P> parent) noexcept {
    const std::stop_token* token = stop_token_of(parent);
    const std::size_t n = tasks_.size();
    // Sized once, before any child runs: children hold references into it.
    slots_.resize(n);
    children_.resize(n);
    counter_.arm(n + 1, parent);
    for (std::size_t i = 0; i < n; ++i) {
      children_[i] = when_all_child(std::move(tasks_[i]), slots_[i]);
      children_[i].start(counter_, token);
    }
    return !counter_.release_is_last();
  }

  std::vector<non_void_t<T>> await_resume() {
    std::vector<non_void_t<T>> values;
    values.reserve(slots_.size());
    for (auto& slot : slots_) values.push_back(std::move(*slot));
    return values;
  }

 private:
  std::vector<coro_task<T>> tasks_;
  std::vector<std::optional<non_void_t<T>>> slots_;
  std::vector<join_child> children_;
  join_counter counter_;
};

}  // namespace detail

// What when_all(tasks...) returns: holds the (not yet started) tasks until it
// is awaited. Dropping it unawaited destroys them.
template <class... Ts>
class [[nodiscard]] when_all_awaitable {
 public:
  explicit when_all_awaitable(coro_task<Ts>&&... tasks) noexcept
      : tasks_(detail::checked_task(std::move(tasks))...) {}

  detail::when_all_awaiter<Ts...> operator co_await() && noexcept {
    return detail::when_all_awaiter<Ts...>(std::move(tasks_));
  }
  detail::when_all_awaiter<Ts...> operator co_await() & noexcept {
    return std::move(*this).operator co_await();
  }

 private:
  std::tuple<coro_task<Ts>...> tasks_;
};

template <class T>
class [[nodiscard]] when_all_range_awaitable {
 public:
  explicit when_all_range_awaitable(std::vector<coro_task<T>>&& tasks) noexcept : tasks_(std::move(tasks)) {
    for (const auto& task : tasks_) {
      if (!task.valid()) detail::fatal("when_all/when_any given an empty coro_task");
    }
  }

  detail::when_all_range_awaiter<T> operator co_await() && noexcept {
    return detail::when_all_range_awaiter<T>(std::move(tasks_));
  }
  detail::when_all_range_awaiter<T> operator co_await() & noexcept {
    return std::move(*this).operator co_await();
  }

 private:
  std::vector<coro_task<T>> tasks_;
};

template <class... Ts>
when_all_awaitable<Ts...> when_all(coro_task<Ts>... tasks) noexcept {
  return when_all_awaitable<Ts...>(std::move(tasks)...);
}

template <class T>
when_all_range_awaitable<T> when_all(std::vector<coro_task<T>> tasks) noexcept {
  return when_all_range_awaitable<T>(std::move(tasks));
}

}  // namespace fastrt
