// fastrt/python/job.hpp — one submission: fn(call_context&) and the promise
// its future waits on, type-erased into two pointers for the inboxes.
//
//   auto [j, future] = detail::make_job<job_result_t<F>>(std::move(fn));
//   j.run(ctx);                       // on a worker: fn(ctx) completes the future
//   j.fail(error(errc::canceled));    // or: the future gets this error
//
// A job is run or failed exactly once, and either frees it; a job that is
// neither leaks (an inbox is drained or failed before it goes away). fn's
// return value R completes an awaitable_future<result<R>> (R may be a
// result itself, or void; never a pointer: no PyObject* may outlive the
// call). An exception escaping fn (when built with exceptions) fails the
// future with state_not_recoverable and clears any Python error fn left set.
//
// make_awaitable_job(start, finish, token): a job whose Python result may be
// awaitable (an `async def` handler's coroutine); then it finishes later, in
// the worker's event loop (event_loop.hpp), and frees itself there.
//
// Thread-safety: make_job anywhere; run on a worker (GIL held), fail on any
// thread. Cost: one allocation from the thread-local frame allocator plus
// the promise's shared state; run/fail = one indirect call.
#pragma once

#include <Python.h>

#include <exception>
#include <functional>
#include <new>
#include <stop_token>
#include <string>
#include <type_traits>
#include <utility>

#include "../detail/frame_allocator.hpp"
#include "../error.hpp"
#include "../future.hpp"
#include "../result.hpp"
#include "call_context.hpp"

namespace fastrt::python {

// What the future of a submission of fn yields.
template <class F>
using job_result_t = ensure_result_t<std::invoke_result_t<std::decay_t<F>&, call_context&>>;

namespace detail {

// invoke(self, ctx, nullptr) runs it; invoke(self, nullptr, &err) fails it.
struct job {
  void (*invoke)(void* self, call_context* ctx, const error* failure) = nullptr;
  void* self = nullptr;

  void run(call_context& ctx) const { invoke(self, &ctx, nullptr); }
  void fail(const error& failure) const { invoke(self, nullptr, &failure); }
};

template <class F, class R>
struct job_payload {
  F fn;
  promise<R> done;

  static void invoke(void* self, call_context* ctx, const error* failure) {
    auto* p = static_cast<job_payload*>(self);
    if (ctx) {
#if __cpp_exceptions
      // An exception escaping fn must not end the worker (std::terminate):
      // it fails this future instead, and any Python exception fn left set
      // is cleared so the next job starts clean.
      try {
        run(p, *ctx);
      } catch (const std::exception& e) {
        if (PyErr_Occurred()) PyErr_Clear();
        ctx->job_finished();
        p->done.set_error(error(std::errc::state_not_recoverable,
                                std::string("fastrt::python: fn threw an exception: ") + e.what()));
      } catch (...) {
        if (PyErr_Occurred()) PyErr_Clear();
        ctx->job_finished();
        p->done.set_error(error(std::errc::state_not_recoverable,
                                "fastrt::python: fn threw an exception (not derived from std::exception)"));
      }
#else
      run(p, *ctx);
#endif
    } else {
      p->done.set_error(*failure);
    }
    p->~job_payload();
    ::fastrt::detail::frame_allocator::deallocate(p, sizeof(job_payload));
  }

  // The worker's load counts the job done before its future completes.
  static void run(job_payload* p, call_context& ctx) {
    using returned = std::invoke_result_t<F&, call_context&>;
    if constexpr (std::is_void_v<returned>) {
      std::invoke(p->fn, ctx);
      ctx.job_finished();
      p->done.set_value();
    } else if constexpr (::fastrt::detail::is_result_v<returned>) {
      // Value and error travel separately: g++-12 -O3 -fno-exceptions
      // otherwise reports a (false) -Wfree-nonheap-object on the
      // moved-from error inside the temporary result.
      returned r = std::invoke(p->fn, ctx);
      ctx.job_finished();
      if (!r.has_value()) {
        p->done.set_error(std::move(r).error());
      } else if constexpr (std::is_void_v<typename returned::value_type>) {
        p->done.set_value();
      } else {
        p->done.set_value(std::move(r).value());
      }
    } else {
      auto value = std::invoke(p->fn, ctx);  // a copy when fn returns a reference
      ctx.job_finished();
      p->done.set_value(std::move(value));
    }
  }
};

// Whether a Python result is to be awaited in the worker's loop: a
// coroutine, or any object with __await__ (an asyncio.Future ...).
inline bool is_awaitable(PyObject* obj) noexcept {
  if (PyCoro_CheckExact(obj)) return true;
  const PyAsyncMethods* methods = Py_TYPE(obj)->tp_as_async;
  return methods != nullptr && methods->am_await != nullptr;
}

// A job in two halves: start(ctx) -> result<PyObject*> (a new reference)
// calls into Python; finish(ctx, value) -> R converts the value (borrowed),
// at once when it is not awaitable, else once the worker's event loop has
// awaited it (as a Task; `token` stopping cancels it, and the job fails with
// errc::canceled). start and finish must not throw.
template <class Start, class Finish, class R>
struct awaitable_job_payload {
  Start start;
  Finish finish;
  std::stop_token token;
  promise<R> done;

  static void invoke(void* self, call_context* ctx, const error* failure) {
    auto* p = static_cast<awaitable_job_payload*>(self);
    if (!ctx) return end(p, *failure);
    result<PyObject*> out = p->start(*ctx);
    if (!out) {
      ctx->job_finished();
      return end(p, out.error());
    }
    PyObject* value = *out;
    if (!is_awaitable(value)) {
      complete(p, *ctx, value);
      Py_DECREF(value);
      return;
    }
    auto entered = ctx->await_in_loop(value, awaited_call{&resume, p}, p->token);  // takes value over
    if (entered) return;  // resume() completes it
    ctx->job_finished();
    end(p, entered.error());
  }

  static void resume(void* self, call_context& ctx, PyObject* value, const error* failure) {
    auto* p = static_cast<awaitable_job_payload*>(self);
    if (failure) return end(p, *failure);
    complete(p, ctx, value);
  }

 private:
  static void complete(awaitable_job_payload* p, call_context& ctx, PyObject* value) {
    auto r = p->finish(ctx, value);
    ctx.job_finished();  // no-op after a task: the loop counted it done
    if constexpr (::fastrt::detail::is_result_v<decltype(r)>) {
      if (!r.has_value()) return end(p, r.error());
      if constexpr (std::is_void_v<typename decltype(r)::value_type>) p->done.set_value();
      else p->done.set_value(std::move(r).value());
    } else {
      p->done.set_value(std::move(r));
    }
    destroy(p);
  }
  static void end(awaitable_job_payload* p, const error& failure) {
    p->done.set_error(failure);
    destroy(p);
  }
  static void destroy(awaitable_job_payload* p) {
    p->~awaitable_job_payload();
    ::fastrt::detail::frame_allocator::deallocate(p, sizeof(awaitable_job_payload));
  }
};

template <class T, class Start, class Finish>
std::pair<job, awaitable_future<T>> make_awaitable_job(Start&& start, Finish&& finish, std::stop_token token) {
  using payload = awaitable_job_payload<std::decay_t<Start>, std::decay_t<Finish>, T>;
  void* memory = ::fastrt::detail::frame_allocator::allocate(sizeof(payload));
  auto* p = ::new (memory)
      payload{std::forward<Start>(start), std::forward<Finish>(finish), std::move(token), promise<T>()};
  awaitable_future<T> future = p->done.get_future();
  return {job{&payload::invoke, p}, std::move(future)};
}

template <class T, class F>
std::pair<job, awaitable_future<T>> make_job(F&& fn) {
  using R = std::invoke_result_t<std::decay_t<F>&, call_context&>;
  static_assert(!std::is_pointer_v<std::remove_cvref_t<R>>,
                "fn must not return a pointer: no PyObject* (or other interpreter-owned memory) may outlive the call");
  using payload = job_payload<std::decay_t<F>, T>;
  void* memory = ::fastrt::detail::frame_allocator::allocate(sizeof(payload));
  auto* p = ::new (memory) payload{std::forward<F>(fn), promise<T>()};
  awaitable_future<T> future = p->done.get_future();
  return {job{&payload::invoke, p}, std::move(future)};
}

}  // namespace detail
}  // namespace fastrt::python
