// fastrt/detail/awaitable_traits.hpp — what co_await on an expression yields.
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>

namespace fastrt::detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else if constexpr (requires { operator co_await(std::forward<A>(a)); }) {
    return operator co_await(std::forward<A>(a));
  } else {
    return std::forward<A>(a);
  }
}

// True when A is its own awaiter (no operator co_await of its own).
template <class A>
concept is_awaiter = !requires(A&& a) { std::forward<A>(a).operator co_await(); } &&
                     !requires(A&& a) { operator co_await(std::forward<A>(a)); };

template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

template <class A>
concept awaitable = requires(A&& a) { get_awaiter(std::forward<A>(a)).await_ready(); };

// void becomes an empty type so results can sit in tuples and variants.
struct void_value {
  friend bool operator==(void_value, void_value) = default;
};
template <class T>
using non_void_t = std::conditional_t<std::is_void_v<T>, void_value, T>;

}  // namespace fastrt::detail
