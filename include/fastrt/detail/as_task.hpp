// fastrt/detail/as_task.hpp — any awaitable as a coro_task.
//
// The library's cancellation reads the stop token from the promise of the
// coroutine that awaits (see task.hpp); a bare awaitable (an
// awaitable_future, a sleep) has no promise of its own. as_task gives it
// one: a small coroutine that awaits it, which combinators (when_any,
// with_timeout) can start and hand a token like any other task. A coro_task
// passed as an rvalue is returned as it is.
//
// An rvalue awaitable is moved into the coroutine's frame; an lvalue one is
// awaited in place and must outlive the returned task (as with any reference
// a coroutine keeps).
//
// Cost: one frame-allocator block (none for a coro_task).
#pragma once

#include <type_traits>
#include <utility>

#include "../task.hpp"
#include "awaitable_traits.hpp"

namespace fastrt::detail {

template <class A>
struct is_coro_task : std::false_type {};
template <class T>
struct is_coro_task<coro_task<T>> : std::true_type {};

// A is a forwarding-reference deduction: X& (awaited in place) or X (owned).
// An awaiter is awaited by name: g++-12 copies the operand of
// `co_await std::forward<A>(x)` when x is itself the awaiter, which a
// non-copyable one (tcp_stream's send) forbids.
template <class A>
coro_task<await_result_t<A>> await_in_task(A awaitable) {
  if constexpr (std::is_lvalue_reference_v<A> || is_awaiter<A>) {
    co_return co_await awaitable;
  } else {
    co_return co_await std::move(awaitable);
  }
}

template <class A>
  requires awaitable<A>
coro_task<await_result_t<A>> as_task(A&& awaitable) {
  static_assert(!std::is_reference_v<await_result_t<A>>,
                "fastrt: this awaitable yields a reference, which a coro_task cannot carry");
  static_assert(std::is_lvalue_reference_v<A> || std::is_move_constructible_v<std::remove_cvref_t<A>>,
                "fastrt: this awaitable cannot be moved; name it (`auto op = ...;`) to have it awaited in place");
  if constexpr (is_coro_task<std::remove_cvref_t<A>>::value && !std::is_lvalue_reference_v<A>) {
    return std::move(awaitable);
  } else {
    return await_in_task<A>(std::forward<A>(awaitable));
  }
}

}  // namespace fastrt::detail
