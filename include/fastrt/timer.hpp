// fastrt/timer.hpp — timers on an io_context: sleep_for, sleep_until,
// with_timeout.
//
//   co_await fastrt::sleep_for(ctx, 10ms);                       // result<void>
//   auto r = co_await fastrt::with_timeout(ctx, fetch(), 2s);    // result<T>
//
//   auto v = co_await fastrt::with_timeout(ctx, std::move(future), 2s);  // any awaitable
//
// A sleep is one IORING_OP_TIMEOUT: no timer thread, no timer wheel of ours.
// It ends early with errc::canceled when the awaiting coroutine's stop token
// is triggered (with_stop_token.hpp sets one for a single await). with_timeout
// runs the awaitable and a timer side by side (when_any): whichever finishes
// first asks the other to stop, and both are awaited to the end, so a
// timed-out operation has really stopped (its io cancelled, its future await
// abandoned) when with_timeout returns errc::timed_out.
//
// Thread-safety: await on the context's loop thread.
// Cost: one frame-allocator block per sleep; with_timeout adds when_any's
// stop_source, and one block to carry an awaitable that is not a coro_task.
#pragma once

#include <chrono>
#include <variant>

#include "detail/as_task.hpp"
#include "detail/awaitable_traits.hpp"
#include "detail/io_awaiter.hpp"
#include "io_context.hpp"
#include "result.hpp"
#include "task.hpp"
#include "when_any.hpp"

namespace fastrt {

namespace detail {

// duration_cast to nanoseconds overflows past ~292 years (hours::max() would
// fire at once): clamp instead.
template <class Rep, class Period>
std::chrono::nanoseconds saturating_nanoseconds(std::chrono::duration<Rep, Period> d) {
  using limit = std::chrono::nanoseconds;
  if (std::chrono::duration<double, std::nano>(d).count() >= static_cast<double>(limit::max().count()))
    return limit::max();
  return std::chrono::duration_cast<limit>(d);
}

class timeout_operation : public io_operation {
 public:
  timeout_operation(io_context& ctx, std::chrono::nanoseconds duration, bool absolute) noexcept
      : io_operation(ctx), absolute_(absolute) {
    const auto ns = duration.count() < 0 ? 0 : duration.count();
    spec_.tv_sec = ns / 1'000'000'000;
    spec_.tv_nsec = ns % 1'000'000'000;
  }
  void prepare(io_uring_sqe* entry) noexcept {
    io_uring_prep_timeout(entry, &spec_, 0, absolute_ ? IORING_TIMEOUT_ABS : 0);
  }
  result<void> outcome() const {
    if (res() == -ETIME) return {};
    if (res() == -ECANCELED) return error(errc::canceled, "sleep cancelled");
    return error(-res(), "io_uring timeout failed");
  }

 private:
  __kernel_timespec spec_{};  // read by the kernel until the completion
  bool absolute_;
};

class sleep_awaitable {
 public:
  sleep_awaitable(io_context& ctx, std::chrono::nanoseconds duration, bool absolute)
      : awaiter_(ctx, duration, absolute) {}
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    awaiter_.await_suspend(h);
  }
  result<void> await_resume() { return awaiter_.await_resume().outcome(); }

 private:
  io_awaiter<timeout_operation> awaiter_;
};

}  // namespace detail

// Completes after `duration` (relative to now). errc::canceled if stopped.
template <class Rep, class Period>
detail::sleep_awaitable sleep_for(io_context& ctx, std::chrono::duration<Rep, Period> duration) {
  return {ctx, detail::saturating_nanoseconds(duration), false};
}

// Completes at `deadline` (steady_clock is CLOCK_MONOTONIC, as the kernel uses).
inline detail::sleep_awaitable sleep_until(io_context& ctx, std::chrono::steady_clock::time_point deadline) {
  return {ctx, deadline.time_since_epoch(), true};
}

namespace detail {
inline coro_task<result<void>> timer_task(io_context& ctx, std::chrono::nanoseconds duration) {
  co_return co_await sleep_for(ctx, duration);
}

template <class T>
coro_task<ensure_result_t<T>> race_timer(io_context& ctx, coro_task<T> task, std::chrono::nanoseconds limit) {
  auto outcome = co_await when_any(std::move(task), timer_task(ctx, limit));
  if (outcome.index() == 1) {
    // The timer finished first: it fired (a timeout), or it was stopped with
    // everything else because our own caller was stopped (pass that on).
    result<void>& timer = std::get<1>(outcome);
    if (timer) co_return error(errc::timed_out, "operation timed out");
    co_return std::move(timer).error();
  }
  if constexpr (std::is_void_v<T>) {
    co_return ensure_result_t<T>{};
  } else {
    co_return std::move(std::get<0>(outcome));
  }
}
}  // namespace detail

// Awaits `awaitable` (a coro_task, an awaitable_future, anything co_await
// accepts, see detail/as_task.hpp); if it has not finished after `limit`,
// asks it to stop (its stop token), waits for it to wind down and returns
// errc::timed_out. If the caller itself is stopped first, returns
// errc::canceled. An awaitable that ignores its stop token (a future awaited
// with resume_inline(), a task that never checks) delays the timeout until
// it finishes, and then its value is dropped for errc::timed_out.
template <class A, class Rep, class Period>
  requires detail::awaitable<A>
coro_task<ensure_result_t<detail::await_result_t<A>>> with_timeout(io_context& ctx, A&& awaitable,
                                                                    std::chrono::duration<Rep, Period> limit) {
  return detail::race_timer(ctx, detail::as_task(std::forward<A>(awaitable)), detail::saturating_nanoseconds(limit));
}

}  // namespace fastrt
