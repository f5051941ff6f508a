// fastrt/when_any.hpp — run several coro_tasks concurrently, keep the first
// result, cancel the rest cooperatively.
//
//   std::variant<int, int> r = co_await fastrt::when_any(primary(), backup());
//   // r.index() says which task won, even when the types repeat.
//   when_any_result<int> r = co_await fastrt::when_any(std::move(tasks));
//
// Children start one after the other on the awaiting thread, each with a
// stop token owned by this when_any. The first child to finish wins; its
// completion calls request_stop() so the others can wind down. Losers are
// still awaited to the end and their values dropped: the parent resumes only
// once every child has finished, so no child outlives the frames it borrows
// from. A child that ignores its stop token therefore delays the parent.
// A stop request on the parent's own token is forwarded to the children.
// An empty range is a bug and terminates with a message.
//
// Thread-safety: children may complete concurrently on any threads; exactly
// one wins (an atomic exchange), and the last to finish resumes the parent
// by symmetric transfer on its thread (see detail/join.hpp). If the parent is
// stopped while children run, the thread calling request_stop() on the
// parent's source may end up resuming the parent.
// Cost: as when_all, plus one std::stop_source (one allocation) and, if the
// parent has a stoppable token, one std::stop_callback registration.
#pragma once

#include <array>
#include <atomic>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "detail/awaitable_traits.hpp"
#include "detail/join.hpp"
#include "task.hpp"

namespace fastrt {

// What when_any over a range yields: the winner's position and value.
template <class T>
struct when_any_result {
  std::size_t index;
  detail::non_void_t<T> value;
};

namespace detail {

// Everything when_any shares with its children. Lives in the awaiting frame
// and does not move once started.
template <class Result>
class when_any_state {
 public:
  when_any_state() : token_(source_.get_token()) {}
  when_any_state(const when_any_state&) = delete;
  when_any_state& operator=(const when_any_state&) = delete;

  // Called by each child with its value; only the first is kept.
  template <class... Args>
  void offer(Args&&... args) {
    if (decided_.exchange(true, std::memory_order_acq_rel)) return;  // lost: value dropped
    result_.emplace(std::forward<Args>(args)...);
    // The winner still holds its counter reference here, so the parent
    // cannot resume (and destroy source_) while callbacks run.
    source_.request_stop();
  }

  const std::stop_token* token() const noexcept { return &token_; }

  template <class P>
  void arm(std::size_t children, std::coroutine_handle<P> parent) noexcept {
    counter_.arm(children + 1, parent);
    const std::stop_token* parent_token = stop_token_of(parent);
    // Registered before the children start: a parent that is already stopped
    // runs the forwarder right here and the children start stopped.
    if (parent_token && parent_token->stop_possible()) parent_stop_.emplace(*parent_token, forwarder{this});
  }

  void start(join_child& child) noexcept { child.start(counter_, &token_); }
  bool release_is_last() noexcept { return counter_.release_is_last(); }

  Result take() {
    // Unregister first. If the forwarder is running on another thread it
    // found the count at zero and is returning; the destructor waits for it.
    parent_stop_.reset();
    return std::move(*result_);
  }

 private:
  struct forwarder {
    when_any_state* self;
    void operator()() const noexcept { self->forward_parent_stop(); }
  };

  void forward_parent_stop() noexcept {
    // Hold a reference while stopping the children: their callbacks may
    // finish them inline, and the parent must not resume (destroying
    // source_) inside source_.request_stop(). A count of zero means every
    // child is done already and the parent is resuming: nothing to do.
    if (!counter_.try_acquire()) return;
    source_.request_stop();
    std::coroutine_handle<> next = counter_.release();
    next.resume();  // the parent if we were last, else a no-op
  }

  join_counter counter_;
  std::atomic<bool> decided_{false};
  std::stop_source source_;
  std::stop_token token_;
  std::optional<Result> result_;
  std::optional<std::stop_callback<forwarder>> parent_stop_;  // destroyed first
};

template <std::size_t I, class T, class State>
join_child when_any_child(coro_task<T> task, State& state) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    task = coro_task<T>();  // free the child's frame now
    state.offer(std::in_place_index<I>);
  } else {
    non_void_t<T> value = co_await std::move(task);
    task = coro_task<T>();  // free the child's frame now
    state.offer(std::in_place_index<I>, std::move(value));
  }
}

template <class T, class State>
join_child when_any_range_child(coro_task<T> task, State& state, std::size_t index) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    task = coro_task<T>();  // free the child's frame now
    state.offer(when_any_result<T>{index, void_value{}});
  } else {
    non_void_t<T> value = co_await std::move(task);
    task = coro_task<T>();  // free the child's frame now
    state.offer(when_any_result<T>{index, std::move(value)});
  }
}

template <class... Ts>
class when_any_awaiter {
 public:
  using result_type = std::variant<non_void_t<Ts>...>;

  explicit when_any_awaiter(std::tuple<coro_task<Ts>...>&& tasks) noexcept : tasks_(std::move(tasks)) {}
  when_any_awaiter(const when_any_awaiter&) = delete;
  when_any_awaiter& operator=(const when_any_awaiter&) = delete;

  bool await_ready() const noexcept { return false; }

  template <class P>
  bool await_suspend(std::coroutine_handle<P> parent) noexcept {
    state_.arm(sizeof...(Ts), parent);
    start_all(std::index_sequence_for<Ts...>{});
    return !state_.release_is_last();
  }

  result_type await_resume() { return state_.take(); }

 private:
  template <std::size_t... I>
  void start_all(std::index_sequence<I...>) noexcept {
    ((install_stop_token(std::get<I>(tasks_).handle().promise(), state_.token()),
      children_[I] = when_any_child<I>(std::move(std::get<I>(tasks_)), state_),
      state_.start(children_[I])),
     ...);
  }

  std::tuple<coro_task<Ts>...> tasks_;
  when_any_state<result_type> state_;
  std::array<join_child, sizeof...(Ts)> children_;
};

template <class T>
class when_any_range_awaiter {
 public:
  explicit when_any_range_awaiter(std::vector<coro_task<T>>&& tasks) noexcept : tasks_(std::move(tasks)) {}
  when_any_range_awaiter(const when_any_range_awaiter&) = delete;
  when_any_range_awaiter& operator=(const when_any_range_awaiter&) = delete;

  bool await_ready() const noexcept {
    if (tasks_.empty()) fatal("when_any over an empty range has no result");
    return false;
  }

  template <class P>
  bool await_suspend(std::coroutine_handle<P> parent) noexcept {
    const std::size_t n = tasks_.size();
    children_.resize(n);
    state_.arm(n, parent);
    for (std::size_t i = 0; i < n; ++i) {
      install_stop_token(tasks_[i].handle().promise(), state_.token());
      children_[i] = when_any_range_child(std::move(tasks_[i]), state_, i);
      state_.start(children_[i]);
    }
    return !state_.release_is_last();
  }

  when_any_result<T> await_resume() { return state_.take(); }

 private:
  std::vector<coro_task<T>> tasks_;
  when_any_state<when_any_result<T>> state_;
  std::vector<join_child> children_;
};

}  // namespace detail

// What when_any(tasks...) returns: holds the (not yet started) tasks until it
// is awaited. Dropping it unawaited destroys them.
template <class... Ts>
class [[nodiscard]] when_any_awaitable {
  static_assert(sizeof...(Ts) > 0, "when_any needs at least one task");

 public:
  explicit when_any_awaitable(coro_task<Ts>&&... tasks) noexcept
      : tasks_(detail::checked_task(std::move(tasks))...) {}

  detail::when_any_awaiter<Ts...> operator co_await() && noexcept {
    return detail::when_any_awaiter<Ts...>(std::move(tasks_));
  }
  detail::when_any_awaiter<Ts...> operator co_await() & noexcept {
    return std::move(*this).operator co_await();
  }

 private:
  std::tuple<coro_task<Ts>...> tasks_;
};

template <class T>
class [[nodiscard]] when_any_range_awaitable {
 public:
  explicit when_any_range_awaitable(std::vector<coro_task<T>>&& tasks) noexcept : tasks_(std::move(tasks)) {
    for (const auto& task : tasks_) {
      if (!task.valid()) detail::fatal("when_all/when_any given an empty coro_task");
    }
  }

  detail::when_any_range_awaiter<T> operator co_await() && noexcept {
    return detail::when_any_range_awaiter<T>(std::move(tasks_));
  }
  detail::when_any_range_awaiter<T> operator co_await() & noexcept {
    return std::move(*this).operator co_await();
  }

 private:
  std::vector<coro_task<T>> tasks_;
};

template <class... Ts>
when_any_awaitable<Ts...> when_any(coro_task<Ts>... tasks) noexcept {
  return when_any_awaitable<Ts...>(std::move(tasks)...);
}

template <class T>
when_any_range_awaitable<T> when_any(std::vector<coro_task<T>> tasks) noexcept {
  return when_any_range_awaitable<T>(std::move(tasks));
}

}  // namespace fastrt
