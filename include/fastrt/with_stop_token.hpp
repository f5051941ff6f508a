// fastrt/with_stop_token.hpp — with_stop_token(awaitable, token): await
// something under a std::stop_token of your choosing.
//
//   auto r = co_await fastrt::with_stop_token(fetch(), cut.get_token());
//   auto s = co_await fastrt::with_stop_token(fastrt::sleep_for(ctx, 1s), token);
//   co_await fastrt::with_stop_token(flush(), std::stop_token{});  // never stopped
//
// What: awaits `awaitable` — a coro_task, an awaitable_future, a sleep, tcp
// io, when_any/when_all, anything co_await accepts — with `token` as its stop
// token *instead of* the awaiting coroutine's own. A stop requested on
// `token` reaches every cancellable await inside; a stop of the caller's
// token does not (so an empty token shields work that must finish, and a
// token of another source ties work to another lifetime than the caller's).
// Nested, the innermost token wins for what it wraps.
//
// What a stop yields: the awaitable's own value, unchanged; with_stop_token
// never makes a result up. The library's awaits end with errc::canceled in
// their result<T> (sleep_for/sleep_until, tcp accept/recv/send/connect, an
// awaitable_future awaited through an executor); a coro_task sees the token
// (this_task::stop_token()) and returns what it decides. A token stopped
// before the await does not skip the awaitable: it starts and its first
// cancellable await ends at once (a future whose value is already there
// still delivers it).
//
// Lifetime: the token is held by value, in the frame of the returned task;
// the awaitable and every task it awaits read that copy, which lives until
// they have finished or been destroyed. The caller's stop_source may be
// destroyed at any time: a std::stop_token shares the stop state, and once no
// source is left the token can simply never be stopped. An rvalue awaitable
// is moved into the frame; an lvalue one is awaited in place and must outlive
// the returned task.
//
// Returns a lazy coro_task, so it composes: await it, or hand it to
// when_any/when_all, with_timeout, async_scope::spawn — they set the token
// of the returned task, and the awaitable inside still sees `token`. Dropped
// unawaited, it destroys the awaitable without running it.
//
// Thread-safety: as awaiting the awaitable itself; `token` may be stopped
// from any thread.
// Cost: one frame-allocator block (no global allocation in steady state) and
// one stop_token copy (an atomic increment); no stop_source, no callback.
#pragma once

#include <coroutine>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "detail/awaitable_traits.hpp"
#include "task.hpp"

namespace fastrt {

namespace detail {

// Points the awaiting task at `*token`; does not suspend.
struct use_stop_token {
  const std::stop_token* token;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> self) noexcept {
    install_stop_token(self.promise(), token);
    return false;
  }
  void await_resume() const noexcept {}
};

// A is a forwarding-reference deduction: X& (awaited in place) or X (owned).
// The owned awaitable is moved into a local: locals die before parameters, so
// the token outlives it whatever order the compiler destroys parameters in
// (g++ and clang differ). It is awaited as in detail/as_task.hpp (by name if
// it is an awaiter).
template <class A>
coro_task<await_result_t<A>> await_with_stop_token(std::stop_token token, A awaitable) {
  A operation = static_cast<A&&>(awaitable);
  co_await use_stop_token{&token};
  if constexpr (std::is_lvalue_reference_v<A> || is_awaiter<A>) {
    co_return co_await operation;
  } else {
    co_return co_await std::move(operation);
  }
}

}  // namespace detail

template <class A>
  requires detail::awaitable<A>
coro_task<detail::await_result_t<A>> with_stop_token(A&& awaitable, std::stop_token token) {
  static_assert(!std::is_reference_v<detail::await_result_t<A>>,
                "fastrt::with_stop_token: this awaitable yields a reference, which a coro_task cannot carry");
  static_assert(std::is_lvalue_reference_v<A> || std::is_move_constructible_v<std::remove_cvref_t<A>>,
                "fastrt::with_stop_token: this awaitable cannot be moved; name it "
                "(`auto op = ...; with_stop_token(op, token)`) to have it awaited in place");
  return detail::await_with_stop_token<A>(std::move(token), std::forward<A>(awaitable));
}

}  // namespace fastrt
