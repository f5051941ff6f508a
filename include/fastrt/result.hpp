// fastrt/result.hpp — exception-free outcomes: result<T, E = fastrt::error>.
//
// A result holds either a T or an E. It is [[nodiscard]], works with
// -fno-exceptions, and its checked accessors never invoke undefined
// behaviour: value() on an error prints the error and terminates.
//
// Monadic helpers (and_then, transform, or_else, transform_error, value_or)
// compose results without branches. FASTRT_TRY(expr) / FASTRT_CO_TRY(expr)
// unwrap a result or return its error from the enclosing function / coroutine.
//
// Cost: a tagged union; sizeof(result<int>) == 24. No allocation of its own.
// Thread-safety: a value type.
#pragma once

#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "error.hpp"

namespace fastrt {

template <class T, class E = error>
class result;

namespace detail {
template <class R>
struct is_result : std::false_type {};
template <class T, class E>
struct is_result<result<T, E>> : std::true_type {};
template <class R>
inline constexpr bool is_result_v = is_result<std::remove_cvref_t<R>>::value;
}  // namespace detail

// T itself when it already is a result, result<T> otherwise: what an
// operation that may fail on top of producing T yields.
template <class T>
using ensure_result_t = std::conditional_t<detail::is_result_v<T>, T, result<T>>;

namespace detail {

template <class E>
[[noreturn]] void bad_result_access(const E& err, const char* what) noexcept {
  if constexpr (requires { err.print(stderr, what); }) {
    err.print(stderr, what);
  } else {
    std::fprintf(stderr, "%s\n", what);
  }
  std::fflush(stderr);
  std::abort();
}

// Storage for the value side; void stores nothing.
template <class T>
struct value_box {
  T value;
};
template <>
struct value_box<void> {};
}  // namespace detail

// Tag for constructing the error side explicitly when T and E could be
// confused (result<error> or a T constructible from E).
struct error_tag_t {
  explicit error_tag_t() = default;
};
inline constexpr error_tag_t error_tag{};

template <class T, class E>
class [[nodiscard]] result {
  static_assert(!std::is_reference_v<T>, "result<T&> is not supported; use result<T*> or std::reference_wrapper");
  static_assert(!detail::is_result_v<T>, "result<result<...>> is almost certainly a mistake");
  using box = detail::value_box<T>;

 public:
  using value_type = T;
  using error_type = E;

  // result<void> defaults to success; other results have no default.
  result() noexcept
    requires std::is_void_v<T>
      : ok_(true) {
    std::construct_at(&box_);
  }

  template <class U = T>
    requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, result> &&
             !std::is_same_v<std::remove_cvref_t<U>, E> &&
             !std::is_same_v<std::remove_cvref_t<U>, error_tag_t>)
  result(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) : ok_(true) {
    std::construct_at(&box_, box{T(std::forward<U>(value))});
  }

  result(const E& err) : ok_(false) { std::construct_at(&error_, err); }
  result(E&& err) noexcept : ok_(false) { std::construct_at(&error_, std::move(err)); }
  template <class... Args>
  explicit result(error_tag_t, Args&&... args) : ok_(false) {
    std::construct_at(&error_, std::forward<Args>(args)...);
  }

  result(const result& other) : ok_(other.ok_) {
    if (ok_) std::construct_at(&box_, other.box_);
    else std::construct_at(&error_, other.error_);
  }
  result(result&& other) noexcept : ok_(other.ok_) {
    if (ok_) std::construct_at(&box_, std::move(other.box_));
    else std::construct_at(&error_, std::move(other.error_));
  }
  result& operator=(const result& other) {
    if (this != &other) {
      destroy();
      ok_ = other.ok_;
      if (ok_) std::construct_at(&box_, other.box_);
      else std::construct_at(&error_, other.error_);
    }
    return *this;
  }
  result& operator=(result&& other) noexcept {
    if (this != &other) {
      destroy();
      ok_ = other.ok_;
      if (ok_) std::construct_at(&box_, std::move(other.box_));
      else std::construct_at(&error_, std::move(other.error_));
    }
    return *this;
  }
  ~result() { destroy(); }

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }

  // Checked access: on the wrong side, print the error and terminate.
  decltype(auto) value() & noexcept {
    check_value();
    if constexpr (!std::is_void_v<T>) return (box_.value);
  }
  decltype(auto) value() const& noexcept {
    check_value();
    if constexpr (!std::is_void_v<T>) return (box_.value);
  }
  decltype(auto) value() && noexcept {
    check_value();
    if constexpr (!std::is_void_v<T>) return std::move(box_.value);
  }
  E& error() & noexcept {
    check_error();
    return error_;
  }
  const E& error() const& noexcept {
    check_error();
    return error_;
  }
  E&& error() && noexcept {
    check_error();
    return std::move(error_);
  }

  template <class U = T>
    requires(!std::is_void_v<T>)
  decltype(auto) operator*() & noexcept { return value(); }
  template <class U = T>
    requires(!std::is_void_v<T>)
  decltype(auto) operator*() const& noexcept { return value(); }
  template <class U = T>
    requires(!std::is_void_v<T>)
  decltype(auto) operator*() && noexcept { return std::move(*this).value(); }
  template <class U = T>
    requires(!std::is_void_v<T>)
  auto* operator->() noexcept { return &value(); }
  template <class U = T>
    requires(!std::is_void_v<T>)
  const auto* operator->() const noexcept { return &value(); }

  template <class U>
    requires(!std::is_void_v<T>)
  T value_or(U&& fallback) const& {
    return ok_ ? box_.value : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
    requires(!std::is_void_v<T>)
  T value_or(U&& fallback) && {
    return ok_ ? std::move(box_.value) : static_cast<T>(std::forward<U>(fallback));
  }

  // f(value) -> result<U, E>; an error passes through untouched.
  template <class F>
  auto and_then(F&& f) const& {
    return and_then_impl(*this, std::forward<F>(f));
  }
  template <class F>
  auto and_then(F&& f) && {
    return and_then_impl(std::move(*this), std::forward<F>(f));
  }
  // f(value) -> U; wrapped into result<U, E>.
  template <class F>
  auto transform(F&& f) const& {
    return transform_impl(*this, std::forward<F>(f));
  }
  template <class F>
  auto transform(F&& f) && {
    return transform_impl(std::move(*this), std::forward<F>(f));
  }
  // f(error) -> result<T, E2>; a value passes through.
  template <class F>
  auto or_else(F&& f) const& {
    return or_else_impl(*this, std::forward<F>(f));
  }
  template <class F>
  auto or_else(F&& f) && {
    return or_else_impl(std::move(*this), std::forward<F>(f));
  }
  // f(error) -> E2; gives result<T, E2>.
  template <class F>
  auto transform_error(F&& f) const& {
    return transform_error_impl(*this, std::forward<F>(f));
  }
  template <class F>
  auto transform_error(F&& f) && {
    return transform_error_impl(std::move(*this), std::forward<F>(f));
  }

 private:
  template <class Self, class F>
  static decltype(auto) call_with_value(Self&& self, F&& f) {
    if constexpr (std::is_void_v<T>) return std::invoke(std::forward<F>(f));
    else return std::invoke(std::forward<F>(f), std::forward<Self>(self).box_.value);
  }
  template <class Self>
  static decltype(auto) forward_error(Self&& self) {
    return (std::forward<Self>(self).error_);
  }
  template <class Self, class F>
  static auto and_then_impl(Self&& self, F&& f) {
    using R = std::remove_cvref_t<decltype(call_with_value(std::forward<Self>(self), std::forward<F>(f)))>;
    static_assert(detail::is_result_v<R>, "and_then: the function must return a result");
    if (self.ok_) return call_with_value(std::forward<Self>(self), std::forward<F>(f));
    return R(error_tag, forward_error(std::forward<Self>(self)));
  }
  template <class Self, class F>
  static auto transform_impl(Self&& self, F&& f) {
    using U = std::remove_cvref_t<decltype(call_with_value(std::forward<Self>(self), std::forward<F>(f)))>;
    using R = result<U, E>;
    if (!self.ok_) return R(error_tag, forward_error(std::forward<Self>(self)));
    if constexpr (std::is_void_v<U>) {
      call_with_value(std::forward<Self>(self), std::forward<F>(f));
      return R();
    } else {
      return R(call_with_value(std::forward<Self>(self), std::forward<F>(f)));
    }
  }
  template <class Self, class F>
  static auto or_else_impl(Self&& self, F&& f) {
    using R = std::remove_cvref_t<decltype(std::invoke(std::forward<F>(f), forward_error(std::forward<Self>(self))))>;
    static_assert(detail::is_result_v<R>, "or_else: the function must return a result");
    static_assert(std::is_same_v<typename R::value_type, T>, "or_else: the function must return result<T, E2>");
    if (!self.ok_) return std::invoke(std::forward<F>(f), forward_error(std::forward<Self>(self)));
    if constexpr (std::is_void_v<T>) return R();
    else return R(std::forward<Self>(self).box_.value);
  }
  template <class Self, class F>
  static auto transform_error_impl(Self&& self, F&& f) {
    using E2 = std::remove_cvref_t<decltype(std::invoke(std::forward<F>(f), forward_error(std::forward<Self>(self))))>;
    using R = result<T, E2>;
    if (!self.ok_) return R(error_tag, std::invoke(std::forward<F>(f), forward_error(std::forward<Self>(self))));
    if constexpr (std::is_void_v<T>) return R();
    else return R(std::forward<Self>(self).box_.value);
  }

  void check_value() const noexcept {
    if (!ok_) detail::bad_result_access(error_, "fastrt::result::value() called on an error");
  }
  void check_error() const noexcept {
    if (ok_) {
      std::fputs("fastrt::result::error() called on a value\n", stderr);
      std::abort();
    }
  }
  void destroy() noexcept {
    if (ok_) std::destroy_at(&box_);
    else std::destroy_at(&error_);
  }

  template <class, class>
  friend class result;

  union {
    box box_;
    E error_;
  };
  bool ok_;
};

}  // namespace fastrt

// Unwraps a result: evaluates to its value, or returns its error from the
// enclosing function (whose return type must accept E). Uses a statement
// expression (GCC and Clang), the only way to both yield a value and return.
#define FASTRT_TRY(...)                                                  \
  ({                                                                     \
    auto&& fastrt_try_result_ = (__VA_ARGS__);                           \
    if (!fastrt_try_result_.has_value())                                 \
      return std::move(fastrt_try_result_).error();                      \
    std::move(fastrt_try_result_).value();                               \
  })

namespace fastrt::detail {

// FASTRT_CO_TRY cannot use a statement expression: g++ 12 crashes on
// co_return inside one. Instead it co_awaits the result. A value makes the
// await complete at once; an error is stored as the coroutine's return value
// and control goes straight to whoever awaits the coroutine, leaving this
// frame suspended for good (its owner destroys it, running every destructor).
// The promise provides that through `early_return()` (coro_task does).
template <class R>
struct try_awaiter {
  R result;
  bool await_ready() const noexcept { return result.has_value(); }
  template <class Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) {
    static_assert(requires { self.promise().early_return(); },
                  "FASTRT_CO_TRY works inside fastrt::coro_task<result<...>> coroutines");
    self.promise().return_value(std::move(result).error());
    return self.promise().early_return();
  }
  decltype(auto) await_resume() { return std::move(result).value(); }
};
template <class R>
try_awaiter<std::remove_cvref_t<R>> try_unwrap(R&& r) {
  static_assert(is_result_v<R>, "FASTRT_CO_TRY needs a fastrt::result");
  return {std::forward<R>(r)};
}

}  // namespace fastrt::detail

// The same for coroutines: evaluates to the value, or co_returns the error.
#define FASTRT_CO_TRY(...) (co_await ::fastrt::detail::try_unwrap(__VA_ARGS__))
