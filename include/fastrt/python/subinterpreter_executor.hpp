// fastrt/python/subinterpreter_executor.hpp — run C++ callables inside Python
// interpreters on dedicated worker threads, and await their results.
//
//   fastrt::python::executor_options options;           // pinned workers: one per core
//   options.handlers = {"app.views:index"};              // imported in every interpreter
//   auto exec = fastrt::python::subinterpreter_executor::start(std::move(options));
//   auto index = (*exec)->handler("app.views:index").value();
//   fastrt::result<std::string> body = co_await (*exec)->submit(
//       [&](fastrt::python::call_context& py) { return py.call(index, request_body); });
//
// Three kinds of workers:
//   pinned — one thread owns one own-GIL subinterpreter: CPU-bound handlers
//            run in parallel on every core. Inbox: spsc_queue when
//            producers::one is promised, mpsc_queue otherwise.
//   pooled — W threads share K own-GIL subinterpreters (thread t attaches
//            interpreter t % K), for handlers that release the GIL while they
//            wait. Inbox: an mpsc_queue per thread.
//   main   — threads on the main interpreter (sharing its GIL; in parallel on
//            a free-threaded build), for extension modules that refuse
//            subinterpreters (numpy and other single-phase-init modules).
// submit(fn) gives fn to a free worker of any kind; submit_to(kind) to a
// free worker of that kind, submit_to(kind, index) to that worker;
// try_submit / try_submit_to(kind) never wait for room (see "Cost" below).
// Dispatch: every worker counts its jobs in flight (queued or running) and
// notes when its current job began; a job goes to the first idle worker
// (kinds in the order pinned, pooled, main; within a kind from a rotating
// position), else to the lowest score: jobs in flight + milliseconds the
// current job has run. So a worker stuck in a long call gets no new work
// while another is free, nor while the others have only a few quick jobs
// queued. Inboxes are per worker and nothing is moved between them: a job
// queued before its worker got stuck waits for it. fn(call_context&) runs with the GIL of
// the worker's interpreter held and its return value R completes an
// awaitable_future<result<R>>. Idle workers sleep on a wait_strategy (spin,
// yield, futex) — no CPU burnt without work — and wake in microseconds.
//
// Handlers ("module:function", the function may be dotted "module:Class.method")
// are imported and resolved in every interpreter of the kinds they are loaded
// for; start() fails with the Python error text when one cannot be loaded, and
// for "does not support loading in subinterpreters" it says to load the handler
// on main workers (executor_options::main_handlers) instead.
//
// Isolation: nothing from one interpreter crosses into another. fn must not
// let a PyObject* escape (R may not be PyObject*); a handler receives the
// request body as a `bytes` copy (call_context::call), which it may keep: no
// Python object ever refers to the caller's memory.
// A Python exception becomes an error (exception_code) with type, message and
// traceback; the worker keeps serving.
//
// shutdown(grace): stops accepting (later submits fail with
// errc::canceled), lets the workers finish what is queued, fails with
// errc::timed_out whatever has not started when `grace` has passed (a running
// handler is not interrupted), joins the threads, ends the subinterpreters on
// the calling thread or their own, and releases every thread state. The
// runtime may then be finalized.
//
// Thread-safety: submit/submit_to/try_submit/try_submit_to/load may be called from any thread, except
// that with pinned_producers == producers::one every submission to pinned
// workers (and load) must come from one thread at a time with a
// happens-before hand-over; load is not for the executor's own workers
// (errc::resource_deadlock_would_occur) and releases the caller's GIL while
// it waits. start/shutdown/destruction: from a thread that is attached to no
// interpreter; shutdown may race other shutdowns, submissions and loads
// (those then fail with errc::canceled). An exception escaping fn (when
// built with exceptions) fails that future with state_not_recoverable; the
// worker keeps serving. A coroutine that awaits a future from a thread
// without an executor (current_executor() empty) resumes inline on the worker,
// with the worker's GIL held: await from an executor (thread_pool, io thread,
// sync_wait).
//
// Cost per call: one job allocation (the thread-local frame allocator) plus
// the promise's state, the choice of a worker (an atomic load per worker
// looked at — one when a worker is idle, two per worker of the kinds and a
// clock read when none is — plus a shared rotating counter), an atomic add
// and subtract on the chosen worker's count and a clock read on the worker,
// a queue push (lock-free), a wake-up syscall only when
// the worker sleeps, GIL re-acquisition once per batch of up to
// `batch` jobs, a copy of the request body (call), and fn itself. A full
// inbox makes submit wait until there is room (back-pressure): it yields,
// then sleeps with a capped backoff, and releases the GIL meanwhile when the
// submitting thread holds one; a worker submitting to its own full inbox
// fails that submission with resource_unavailable_try_again instead.
// try_submit does not wait: it tries each worker of the kind once and, if
// every inbox is full, fails with resource_unavailable_try_again at once.
#pragma once

#include <Python.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/frame_allocator.hpp"
#include "../error.hpp"
#include "../future.hpp"
#include "../mpsc_queue.hpp"
#include "../result.hpp"
#include "../spsc_queue.hpp"
#include "../waitable_queue.hpp"
#include "exception.hpp"
#include "interpreter.hpp"
#include "runtime.hpp"

namespace fastrt::python {

enum class worker_kind : std::uint8_t { pinned, pooled, main };

inline const char* to_string(worker_kind kind) noexcept {
  switch (kind) {
    case worker_kind::pinned: return "pinned";
    case worker_kind::pooled: return "pooled";
    case worker_kind::main: return "main";
  }
  return "?";
}

// Who submits to pinned workers: one thread (spsc inboxes) or many (mpsc).
enum class producers : std::uint8_t { one, many };

struct executor_options {
  std::size_t pinned_workers = std::max(1u, std::thread::hardware_concurrency());
  std::size_t pooled_threads = 0;
  std::size_t pooled_interpreters = 1;  // used when pooled_threads > 0
  std::size_t main_workers = 0;
  producers pinned_producers = producers::many;
  std::size_t queue_capacity = 4096;  // per worker
  std::size_t batch = 64;             // jobs per GIL acquisition
  // Loaded at start in every interpreter (pinned, pooled and main).
  std::vector<std::string> handlers;
  // Loaded at start on main workers only (modules refusing subinterpreters).
  std::vector<std::string> main_handlers;
};

// A loaded handler, usable on every worker whose interpreter loaded it.
struct handler {
  std::uint32_t index = 0;
};

inline constexpr std::size_t max_handlers = 64;

namespace detail {

// One interpreter and the handlers resolved in it. The table is written by a
// load job (GIL held) and read by calls on any worker of the interpreter.
struct interpreter_slot {
  std::unique_ptr<interpreter> owned;  // pinned / pooled; null for main
  interpreter* interp = nullptr;
  worker_kind kind = worker_kind::pinned;
  std::size_t index = 0;
  std::array<std::atomic<PyObject*>, max_handlers> handlers{};

  // With the GIL held: drops the handler references.
  void clear_handlers() noexcept {
    for (auto& h : handlers) Py_XDECREF(h.exchange(nullptr, std::memory_order_acq_rel));
  }
};

// How busy a worker is, for dispatch (subinterpreter_executor::pick):
// producers add to in_flight when they queue a job, the worker subtracts
// when the job is done; running_since is when its current job began
// (steady_clock ns; 0 between jobs). Its own cache line, apart from what
// producers only read.
struct alignas(64) worker_load {
  std::atomic<std::int64_t> in_flight{0};  // queued or running
  std::atomic<std::int64_t> running_since{0};
};

inline std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <class F, class R>
struct job_payload;  // below: it counts its job finished (call_context::job_finished)

}  // namespace detail

// What fn sees: where it runs and how to call handlers. Valid during the call.
class call_context {
 public:
  worker_kind kind() const noexcept { return slot_->kind; }
  // Index of the worker thread within its kind.
  std::size_t worker_index() const noexcept { return worker_index_; }
  // Index of the interpreter within its kind (pooled: worker_index % K).
  std::size_t interpreter_index() const noexcept { return slot_->index; }
  interpreter& interp() const noexcept { return *slot_->interp; }

  // Borrowed reference to the handler's callable in this interpreter, or null
  // when it was not loaded here. Do not keep it beyond the call.
  PyObject* object(handler h) const noexcept {
    return h.index < max_handlers ? slot_->handlers[h.index].load(std::memory_order_acquire) : nullptr;
  }

  // handler(bytes(body)) -> str | bytes | bytearray | None, as bytes.
  //
  // The body is handed in as a `bytes` copy owned by the interpreter, never
  // as a view of the caller's memory: a memoryview over borrowed C++ memory
  // cannot be made safe (body[:], memoryview(body), body.cast('B') make new
  // views on the same buffer that survive release(), and Python would later
  // read freed memory). The copy costs one memcpy of the body; a handler may
  // keep it (or views of it) as long as it likes.
  result<std::string> call(handler h, std::string_view body) const {
    PyObject* fn = object(h);
    if (!fn) return not_loaded(h);
    PyObject* request = PyBytes_FromStringAndSize(body.data(), static_cast<Py_ssize_t>(body.size()));
    if (!request) return take_exception("copying the request body");
    Py_INCREF(fn);  // a load() on another worker of this interpreter may replace it meanwhile
    PyObject* out = PyObject_CallOneArg(fn, request);
    Py_DECREF(fn);
    Py_DECREF(request);
    if (!out) return take_exception();
    result<std::string> text = to_bytes(out);
    Py_DECREF(out);
    return text;
  }

  // handler(*args) for integer arguments -> int.
  template <std::integral... Args>
  result<long long> call_int(handler h, Args... args) const {
    PyObject* fn = object(h);
    if (!fn) return not_loaded(h);
    PyObject* tuple = PyTuple_New(sizeof...(Args));
    if (!tuple) return take_exception();
    Py_ssize_t i = 0;
    bool ok = true;
    ((ok = ok && set_item(tuple, i++, PyLong_FromLongLong(static_cast<long long>(args)))), ...);
    if (!ok) {
      Py_DECREF(tuple);
      return take_exception();
    }
    Py_INCREF(fn);  // see call()
    PyObject* out = PyObject_Call(fn, tuple, nullptr);
    Py_DECREF(fn);
    Py_DECREF(tuple);
    if (!out) return take_exception();
    const long long value = PyLong_AsLongLong(out);
    Py_DECREF(out);
    if (value == -1 && PyErr_Occurred()) return take_exception("the handler did not return an int");
    return value;
  }

  // str / bytes / bytearray / None as bytes (UTF-8 for str).
  static result<std::string> to_bytes(PyObject* obj) {
    if (obj == Py_None) return std::string();
    if (PyUnicode_Check(obj)) {
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(obj, &size);
      if (!data) return take_exception();
      return std::string(data, static_cast<std::size_t>(size));
    }
    if (PyBytes_Check(obj)) return std::string(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
    if (PyByteArray_Check(obj)) {
      return std::string(PyByteArray_AS_STRING(obj), static_cast<std::size_t>(PyByteArray_GET_SIZE(obj)));
    }
    std::string text = "handler returned ";
    text += Py_TYPE(obj)->tp_name;
    text += ", expected str, bytes, bytearray or None";
    return error(std::errc::invalid_argument, text);
  }

 private:
  friend class subinterpreter_executor;
  template <class F, class R>
  friend struct detail::job_payload;
  call_context(detail::interpreter_slot* slot, std::size_t worker_index, detail::worker_load* load) noexcept
      : slot_(slot), worker_index_(worker_index), load_(load) {}

  // The worker counts the current job as done (once per job): called before
  // its future completes, so that a caller who submits again as soon as it
  // has the result finds this worker free.
  void job_begins() noexcept {
    job_open_ = true;
    load_->running_since.store(detail::steady_now_ns(), std::memory_order_release);
  }
  void job_finished() noexcept {
    if (!std::exchange(job_open_, false)) return;
    load_->running_since.store(0, std::memory_order_release);
    load_->in_flight.fetch_sub(1, std::memory_order_acq_rel);
  }

  static bool set_item(PyObject* tuple, Py_ssize_t i, PyObject* item) noexcept {
    if (!item) return false;
    PyTuple_SET_ITEM(tuple, i, item);  // steals
    return true;
  }
  error not_loaded(handler h) const {
    std::string text = "handler #" + std::to_string(h.index) + " is not loaded in " + to_string(kind()) +
                       " interpreter " + std::to_string(interpreter_index());
    return error(std::errc::invalid_argument, text);
  }

  detail::interpreter_slot* slot_;
  std::size_t worker_index_;
  detail::worker_load* load_;  // the worker's; see subinterpreter_executor::pick
  bool job_open_ = false;
};

namespace detail {

// A type-erased submission. invoke(self, ctx, nullptr) runs it;
// invoke(self, nullptr, &err) fails it. Either way it frees itself.
struct job {
  void (*invoke)(void* self, call_context* ctx, const error* failure) = nullptr;
  void* self = nullptr;
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

  static void run(job_payload* p, call_context& ctx) {
    {
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
        auto value = std::invoke(p->fn, ctx);  // a copy when fn returns a reference, as before
        ctx.job_finished();
        p->done.set_value(std::move(value));
      }
    }
  }
};

// A worker's inbox: spsc or mpsc, with a sleeping consumer.
class inbox {
 public:
  inbox(bool single_producer, std::size_t capacity) {
    if (single_producer) one_ = std::make_unique<waitable_queue<spsc_queue<job>>>(capacity, idle_options);
    else many_ = std::make_unique<waitable_queue<mpsc_queue<job>>>(capacity, idle_options);
  }
  bool try_push(const job& j) { return one_ ? one_->try_push(j) : many_->try_push(j); }
  bool wait_for_data() { return one_ ? one_->wait_for_data() : many_->wait_for_data(); }
  template <class Fn>
  std::size_t drain(Fn&& fn, std::size_t limit) {
    return one_ ? one_->queue().drain(fn, limit) : many_->queue().drain(fn, limit);
  }
  void close() noexcept {
    if (one_) one_->close();
    else many_->close();
  }

 private:
  // Short spin: a worker that spins long steals the core of the thread it waits for.
  static constexpr wait_options idle_options{.spin_rounds = 512, .yield_rounds = 8};
  std::unique_ptr<waitable_queue<spsc_queue<job>>> one_;
  std::unique_ptr<waitable_queue<mpsc_queue<job>>> many_;
};

}  // namespace detail

class subinterpreter_executor {
 public:
  static result<std::unique_ptr<subinterpreter_executor>> start(executor_options options) {
    if (!runtime::current()) {
      return error(std::errc::operation_not_permitted, "subinterpreter_executor::start: no fastrt::python::runtime started");
    }
    if (options.pinned_workers + options.pooled_threads + options.main_workers == 0) {
      return error(std::errc::invalid_argument, "subinterpreter_executor::start: no workers configured");
    }
    if (options.pooled_threads > 0 && options.pooled_interpreters == 0) options.pooled_interpreters = 1;
    if (options.pooled_threads == 0) options.pooled_interpreters = 0;
    options.pooled_interpreters = std::min(options.pooled_interpreters, options.pooled_threads);
    if (options.batch == 0) options.batch = 1;

    std::unique_ptr<subinterpreter_executor> exec(new subinterpreter_executor(std::move(options)));
    if (auto started = exec->launch(); !started) {
      (void)exec->shutdown();
      return std::move(started).error();
    }
    for (const std::string& spec : exec->options_.handlers) {
      if (auto loaded = exec->load(spec, true); !loaded) {
        (void)exec->shutdown();
        return std::move(loaded).error();
      }
    }
    for (const std::string& spec : exec->options_.main_handlers) {
      if (auto loaded = exec->load(spec, false); !loaded) {
        (void)exec->shutdown();
        return std::move(loaded).error();
      }
    }
    return exec;
  }

  subinterpreter_executor(const subinterpreter_executor&) = delete;
  subinterpreter_executor& operator=(const subinterpreter_executor&) = delete;
  ~subinterpreter_executor() { (void)shutdown(); }

  std::size_t workers(worker_kind kind) const noexcept { return workers_of(kind).size(); }

  // Imports and resolves "module:function" in every interpreter (or, with
  // everywhere == false, on main workers only) and returns its handle; the
  // same spec loaded twice yields the same handle. A failed first load is
  // rolled back: the interpreters where it did resolve drop their reference,
  // handler_of() does not find it and its slot (one of max_handlers) is free
  // again; the error carries the Python text of the first interpreter that
  // failed. (A failed re-load of a handler that loaded before keeps it
  // registered; interpreters where the re-load resolved use the new object.)
  // Loads are serialized. After shutdown() began: errc::canceled. Called from
  // one of this executor's workers: errc::resource_deadlock_would_occur (it
  // would wait for its own inbox).
  result<handler> load(std::string_view spec, bool everywhere = true) {
    const auto colon = spec.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size()) {
      std::string text = "handler '";
      (text += spec) += "' is not of the form 'module:function'";
      return error(std::errc::invalid_argument, text);
    }
    if (this_worker_ != nullptr && this_worker_->owner == this) {
      return error(std::errc::resource_deadlock_would_occur,
                   "subinterpreter_executor::load called from one of its own workers");
    }
    if (shut_down_.load(std::memory_order_acquire)) {
      return error(errc::canceled, "subinterpreter_executor is shut down: cannot load handlers");
    }
    if (!everywhere && main_.empty()) {
      return error(std::errc::invalid_argument, "cannot load a main-worker handler: executor_options::main_workers is 0");
    }
    std::lock_guard serial(load_serial_mutex_);
    handler h;
    bool fresh = false;  // registered by this call: rolled back on failure
    {
      std::lock_guard lock(load_mutex_);
      auto it = std::find_if(handler_names_.begin(), handler_names_.end(),
                             [&](const handler_entry& e) { return e.name == spec; });
      if (it == handler_names_.end()) {
        it = std::find_if(handler_names_.begin(), handler_names_.end(),
                          [](const handler_entry& e) { return e.name.empty(); });  // a freed slot
        if (it == handler_names_.end()) {
          if (handler_names_.size() == max_handlers) {
            return error(std::errc::too_many_files_open, "too many handlers (max_handlers)");
          }
          handler_names_.emplace_back();
          it = handler_names_.end() - 1;
        }
        it->name = std::string(spec);
        it->ready = false;
        fresh = true;
      }
      h.index = static_cast<std::uint32_t>(it - handler_names_.begin());
    }

    const std::string module(spec.substr(0, colon));
    const std::string attribute(spec.substr(colon + 1));
    const std::string full(spec);
    load_outcome outcome = run_everywhere(everywhere, [module, attribute, full, h](call_context& ctx) {
      return resolve(ctx, module, attribute, full, h);
    });
    if (outcome.failure.empty()) {
      std::lock_guard lock(load_mutex_);
      handler_names_[h.index].ready = true;
      return h;
    }
    if (fresh) {
      // Roll back: drop the references where it resolved (not under
      // load_mutex_: a job on a worker may be calling handler_of()). If the
      // executor is shutting down meanwhile, shutdown() drops them instead.
      (void)run_everywhere(everywhere, [h](call_context& ctx) {
        Py_XDECREF(ctx.slot_->handlers[h.index].exchange(nullptr, std::memory_order_acq_rel));
        return std::string();
      });
      std::lock_guard lock(load_mutex_);
      handler_names_[h.index] = handler_entry{};  // the slot is free again
    }
    return error(outcome.canceled ? errc::canceled : std::errc::invalid_argument, outcome.failure);
  }

  // The handle of a handler loaded at start (or by load()).
  result<handler> handler_of(std::string_view spec) const {
    std::lock_guard lock(load_mutex_);
    auto it = std::find_if(handler_names_.begin(), handler_names_.end(),
                           [&](const handler_entry& e) { return e.ready && e.name == spec; });
    if (it == handler_names_.end()) {
      std::string text = "handler '";
      (text += spec) += "' was not loaded";
      return error(std::errc::invalid_argument, text);
    }
    return handler{static_cast<std::uint32_t>(it - handler_names_.begin())};
  }

  // Runs fn(call_context&) on a free worker of any kind (see "Dispatch"):
  // fn's handlers must be loaded in every interpreter (executor_options::
  // handlers, load(spec)); main-only handlers go through submit_to(main).
  template <class F>
  auto submit(F&& fn) {
    return submit_with(true, std::forward<F>(fn), [&](const detail::job& j) { push_to_picked(all_kinds, j); });
  }

  // Like submit, but never waits for room: when the chosen worker's inbox is
  // full, every other worker is tried once, and when every inbox is full the
  // future is already failed with resource_unavailable_try_again — for
  // callers that answer "busy" (HTTP 503) rather than queue up. After
  // shutdown(): canceled.
  template <class F>
  auto try_submit(F&& fn) {
    return try_submit_among(all_kinds, std::forward<F>(fn));
  }

  // try_submit on the workers of `kind`.
  template <class F>
  auto try_submit_to(worker_kind kind, F&& fn) {
    return try_submit_among(std::span<const worker_kind>(&kind, 1), std::forward<F>(fn));
  }

  // On a free worker of `kind` (see "Dispatch").
  template <class F>
  auto submit_to(worker_kind kind, F&& fn) {
    return submit_with(!workers_of(kind).empty(), std::forward<F>(fn), [&](const detail::job& j) {
      push_to_picked(std::span<const worker_kind>(&kind, 1), j);
    });
  }

  // On worker `index` of `kind` (its interpreter, its order).
  template <class F>
  auto submit_to(worker_kind kind, std::size_t index, F&& fn) {
    const auto& list = workers_of(kind);
    return submit_with(index < list.size(), std::forward<F>(fn), [&](const detail::job& j) { push(*list[index], j); });
  }

  // Stops accepting, runs what is queued (failing with errc::timed_out what
  // has not started after `grace`), joins the workers and ends their
  // interpreters. Returns an error when jobs were failed that way (or the
  // first end() that failed; the rest is cleaned up regardless).
  // Idempotent; concurrent calls are safe (one does the work).
  // Known limitation (CPython 3.12 only, not fixed): with pooled workers,
  // call shutdown() (or destroy the executor) on the thread that called
  // start(): 3.12 hangs in threading._shutdown when a pooled interpreter is
  // ended on another thread than the one that created it.
  result<void> shutdown(std::chrono::nanoseconds grace = std::chrono::nanoseconds::max()) {
    if (shut_down_.exchange(true, std::memory_order_acq_rel)) return {};
    accepting_.store(false, std::memory_order_seq_cst);
    while (submitters_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    const auto limit = grace >= std::chrono::nanoseconds::max() - now ? std::chrono::nanoseconds::max() : now + grace;
    deadline_ns_.store(limit.count(), std::memory_order_release);
    stopping_.store(true, std::memory_order_release);
    for (auto& w : workers_) w->box.close();
    for (auto& w : workers_) {
      if (w->thread.joinable()) w->thread.join();
    }
    // Pooled interpreters and the main slot are cleaned up here: their
    // threads have released their states, so this thread may end them. The
    // calling thread's own main-interpreter state (if it had one before) is
    // left alone: only a state created here is released. A failing end() is
    // reported (the first one) after the rest is cleaned up.
    std::optional<error> first_failure;
    for (auto& slot : slots_) {
      if (slot->kind == worker_kind::pinned || !slot->interp) continue;
      const bool had_state = slot->interp->has_thread_state();
      {
        auto attached = slot->interp->attach();
        slot->clear_handlers();
      }
      if (slot->kind == worker_kind::main) {
        if (!had_state) slot->interp->release_thread();
      } else if (slot->owned) {
        if (auto ended = slot->owned->end(); !ended) {
          if (!first_failure) first_failure.emplace(std::move(ended).error());
          continue;  // still alive: ~interpreter tries again
        }
        slot->owned.reset();
      }
    }
    if (first_failure) return std::move(*first_failure);
    const std::size_t cancelled = cancelled_.load(std::memory_order_acquire);
    if (cancelled != 0) {
      return error(errc::timed_out, std::to_string(cancelled) +
                                        " job(s) failed: the shutdown deadline passed before they started");
    }
    return {};
  }

 private:
  struct worker {
    worker(worker_kind k, std::size_t i, bool single_producer, std::size_t capacity)
        : kind(k), index(i), box(single_producer, capacity) {}
    worker_kind kind;
    std::size_t index;
    const subinterpreter_executor* owner = nullptr;
    detail::interpreter_slot* slot = nullptr;
    detail::inbox box;
    std::thread thread;
    detail::worker_load load;
  };

  static constexpr std::array<worker_kind, 3> all_kinds{worker_kind::pinned, worker_kind::pooled, worker_kind::main};

  // Dispatch: the first idle worker (nothing queued or running), kinds in
  // the order given, each kind scanned from a rotating position so that
  // idle workers share the work. When none is idle, the lowest score: jobs
  // in flight plus one per millisecond that the current job has been
  // running — a job that has run long tends to run longer (a handler
  // blocked on I/O or a lock), so a worker stuck in one is passed over for
  // workers with a few quick jobs queued. Null when there is no worker of
  // those kinds. A snapshot: two producers may pick the same worker at once.
  worker* pick(std::span<const worker_kind> kinds) noexcept {
    worker* best = nullptr;
    std::int64_t best_score = std::numeric_limits<std::int64_t>::max();
    std::int64_t now = 0;  // read once, only when no worker is idle
    for (const worker_kind kind : kinds) {
      const auto& list = workers_of(kind);
      const std::size_t n = list.size();
      if (n == 0) continue;
      const std::size_t first = n == 1 ? 0 : next_[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed) % n;
      for (std::size_t k = 0; k < n; ++k) {
        worker* w = list[(first + k) % n];
        const std::int64_t in_flight = w->load.in_flight.load(std::memory_order_acquire);
        if (in_flight <= 0) return w;
        std::int64_t score = in_flight;
        if (const std::int64_t since = w->load.running_since.load(std::memory_order_acquire); since != 0) {
          if (now == 0) now = detail::steady_now_ns();
          score += std::max<std::int64_t>(0, now - since) / 1'000'000;
        }
        if (score < best_score) {
          best = w;
          best_score = score;
        }
      }
    }
    return best;
  }

  // push() to pick(kinds); submit_with has checked that there is a worker.
  void push_to_picked(std::span<const worker_kind> kinds, const detail::job& j) {
    if (worker* w = pick(kinds)) return push(*w, j);
    static const error none(std::errc::invalid_argument, "subinterpreter_executor: no such worker");
    j.invoke(j.self, nullptr, &none);
  }

  // Queues j on w without waiting; counts it in w's jobs in flight when queued.
  static bool offer(worker& w, const detail::job& j) {
    w.load.in_flight.fetch_add(1, std::memory_order_acq_rel);
    if (w.box.try_push(j)) return true;
    w.load.in_flight.fetch_sub(1, std::memory_order_acq_rel);
    return false;
  }

  template <class F>
  auto try_submit_among(std::span<const worker_kind> kinds, F&& fn) {
    std::size_t total = 0, kinds_with_workers = 0;
    const char* kind_name = "";
    for (const worker_kind kind : kinds) {
      if (workers_of(kind).empty()) continue;
      total += workers_of(kind).size();
      ++kinds_with_workers;
      kind_name = to_string(kind);
    }
    return submit_with(total != 0, std::forward<F>(fn), [&](const detail::job& j) {
      worker* first = pick(kinds);  // not null: total != 0 (g++-12 warns about the null path otherwise)
      if (first != nullptr && offer(*first, j)) return;
      for (const worker_kind kind : kinds) {
        for (worker* w : workers_of(kind)) {
          if (w != first && offer(*w, j)) return;
        }
      }
      std::string text = "subinterpreter_executor::try_submit: all " + std::to_string(total) + " ";
      if (kinds_with_workers == 1) (text += kind_name) += " ";
      text += "workers' queues are full";
      const error full(std::errc::resource_unavailable_try_again, text);
      j.invoke(j.self, nullptr, &full);
    });
  }

  explicit subinterpreter_executor(executor_options options) : options_(std::move(options)) {}

  const std::vector<worker*>& workers_of(worker_kind kind) const noexcept {
    switch (kind) {
      case worker_kind::pinned: return pinned_;
      case worker_kind::pooled: return pooled_;
      case worker_kind::main: break;
    }
    return main_;
  }

  // What submit_to and try_submit_to share: makes the job and its future,
  // fails it with invalid_argument when there is no target worker, else runs
  // place(job) — which queues the job or fails it — inside the handshake with
  // shutdown() (submitters_ / accepting_), or fails it with canceled once
  // shutdown() has begun.
  template <class F, class Place>
  auto submit_with(bool has_target, F&& fn, Place&& place) {
    using R = std::invoke_result_t<std::decay_t<F>&, call_context&>;
    static_assert(!std::is_pointer_v<std::remove_cvref_t<R>>,
                  "fn must not return a pointer: no PyObject* (or other interpreter-owned memory) may outlive the call");
    using T = ensure_result_t<R>;
    auto [j, future] = make_job<T>(std::forward<F>(fn));
    if (!has_target) {
      const error failure(std::errc::invalid_argument, "subinterpreter_executor: no such worker");
      j.invoke(j.self, nullptr, &failure);
      return std::move(future);
    }
    submitters_.fetch_add(1, std::memory_order_seq_cst);
    if (!accepting_.load(std::memory_order_seq_cst)) {
      submitters_.fetch_sub(1, std::memory_order_seq_cst);
      const error failure(errc::canceled, "subinterpreter_executor is shut down: submission rejected");
      j.invoke(j.self, nullptr, &failure);
      return std::move(future);
    }
    place(j);
    submitters_.fetch_sub(1, std::memory_order_seq_cst);
    return std::move(future);
  }

  template <class T, class F>
  static std::pair<detail::job, awaitable_future<T>> make_job(F&& fn) {
    using payload = detail::job_payload<std::decay_t<F>, T>;
    void* memory = ::fastrt::detail::frame_allocator::allocate(sizeof(payload));
    auto* p = ::new (memory) payload{std::forward<F>(fn), promise<T>()};
    awaitable_future<T> future = p->done.get_future();
    return {detail::job{&payload::invoke, p}, std::move(future)};
  }

  // Back-pressure: waits for room in a full inbox. A caller attached to an
  // interpreter (a worker's fn, or any thread holding a GIL) releases it
  // while waiting, so the target — which may need that very GIL, e.g. another
  // main worker — can drain. A worker pushing into its own full inbox would
  // wait forever: that job fails with resource_unavailable_try_again
  // instead. Waiting yields a few times, then sleeps with a backoff capped at
  // 200 us, so a long wait does not burn a core. (Two workers that fill each
  // other's inboxes from inside their fns can still wait for each other:
  // keep cyclic submissions between workers within queue_capacity.)
  void push(worker& w, const detail::job& j) {
    if (offer(w, j)) return;
    if (this_worker_ == &w) {
      static const error full(std::errc::resource_unavailable_try_again,
                              "subinterpreter_executor: a worker submitted to its own full inbox");
      j.invoke(j.self, nullptr, &full);
      return;
    }
    w.load.in_flight.fetch_add(1, std::memory_order_acq_rel);  // counted while it waits for room
    PyThreadState* attached = detail::attached_thread_state();
    if (attached) PyEval_SaveThread();
    std::chrono::microseconds pause{1};
    for (unsigned round = 0; !w.box.try_push(j); ++round) {
      if (round < 16) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds{200});
      }
    }
    if (attached) PyEval_RestoreThread(attached);
  }

  struct load_outcome {
    std::string failure;  // the first interpreter's error text; empty: success
    bool canceled = false;
  };

  // Runs fn(call_context&) -> std::string (error text, empty on success) once
  // per interpreter (everywhere == false: the main interpreter only), on a
  // worker attached to it, and waits for all of them. Submits like
  // submit_to (the accepting_/submitters_ handshake with shutdown()); a job
  // that shutdown() fails instead of running counts as canceled.
  template <class F>
  load_outcome run_everywhere(bool everywhere, F fn) {
    struct state {
      std::mutex mutex;
      std::condition_variable done_cv;
      std::size_t pending = 0;
      load_outcome outcome;
    };
    // One per job: reports when the job ran, or (destroyed unrun) that it
    // was failed by shutdown.
    class ticket {
     public:
      explicit ticket(std::shared_ptr<state> s) noexcept : s_(std::move(s)) {}
      ticket(ticket&& other) noexcept : s_(std::move(other.s_)) {}
      ticket(const ticket&) = delete;
      ticket& operator=(const ticket&) = delete;
      ticket& operator=(ticket&&) = delete;
      ~ticket() {
        if (s_) finish("subinterpreter_executor shut down before a load job ran", true);
      }
      void finish(std::string failure, bool canceled) {
        std::shared_ptr<state> s = std::move(s_);
        std::lock_guard lock(s->mutex);
        if (!failure.empty() && s->outcome.failure.empty()) {
          s->outcome.failure = std::move(failure);
          s->outcome.canceled = canceled;
        }
        if (--s->pending == 0) s->done_cv.notify_all();
      }

     private:
      std::shared_ptr<state> s_;
    };

    std::vector<worker*> targets;
    for (auto& slot : slots_) {
      if (!everywhere && slot->kind != worker_kind::main) continue;
      for (auto& w : workers_) {
        if (w->slot == slot.get()) {
          targets.push_back(w.get());
          break;
        }
      }
    }
    auto st = std::make_shared<state>();
    st->pending = targets.size();
    submitters_.fetch_add(1, std::memory_order_seq_cst);
    if (!accepting_.load(std::memory_order_seq_cst)) {
      submitters_.fetch_sub(1, std::memory_order_seq_cst);
      return {"subinterpreter_executor is shut down: cannot load handlers", true};
    }
    for (worker* w : targets) {
      auto job_fn = [t = ticket(st), fn](call_context& ctx) mutable { t.finish(fn(ctx), false); };
      push(*w, make_job<void>(std::move(job_fn)).first);
    }
    submitters_.fetch_sub(1, std::memory_order_seq_cst);
    PyThreadState* attached = detail::attached_thread_state();  // e.g. main: its workers need the GIL
    if (attached) PyEval_SaveThread();
    {
      std::unique_lock lock(st->mutex);
      st->done_cv.wait(lock, [&] { return st->pending == 0; });
    }
    if (attached) PyEval_RestoreThread(attached);
    return std::move(st->outcome);
  }

  // Creates interpreters and threads; waits until every pinned worker has
  // its interpreter (or one failed).
  result<void> launch() {
    const bool single = options_.pinned_producers == producers::one;
    for (std::size_t i = 0; i < options_.pinned_workers; ++i) {
      auto slot = std::make_unique<detail::interpreter_slot>();
      slot->kind = worker_kind::pinned;
      slot->index = i;
      auto w = std::make_unique<worker>(worker_kind::pinned, i, single, options_.queue_capacity);
      w->slot = slot.get();
      pinned_.push_back(w.get());
      workers_.push_back(std::move(w));
      slots_.push_back(std::move(slot));
    }
    std::vector<detail::interpreter_slot*> pooled_slots;
    for (std::size_t k = 0; k < options_.pooled_interpreters; ++k) {
      auto slot = std::make_unique<detail::interpreter_slot>();
      slot->kind = worker_kind::pooled;
      slot->index = k;
      auto created = interpreter::create();
      if (!created) return std::move(created).error();
      slot->owned = std::move(created).value();
      slot->interp = slot->owned.get();
      pooled_slots.push_back(slot.get());
      slots_.push_back(std::move(slot));
    }
    for (std::size_t t = 0; t < options_.pooled_threads; ++t) {
      auto w = std::make_unique<worker>(worker_kind::pooled, t, false, options_.queue_capacity);
      w->slot = pooled_slots[t % pooled_slots.size()];
      pooled_.push_back(w.get());
      workers_.push_back(std::move(w));
    }
    if (options_.main_workers > 0) {
      auto slot = std::make_unique<detail::interpreter_slot>();
      slot->kind = worker_kind::main;
      slot->interp = &interpreter::main();
      for (std::size_t m = 0; m < options_.main_workers; ++m) {
        auto w = std::make_unique<worker>(worker_kind::main, m, false, options_.queue_capacity);
        w->slot = slot.get();
        main_.push_back(w.get());
        workers_.push_back(std::move(w));
      }
      slots_.push_back(std::move(slot));
    }

    for (auto& w : workers_) {
      worker* self = w.get();
      self->owner = this;
      self->thread = std::thread([this, self] { run(*self); });
    }
    std::unique_lock lock(start_mutex_);
    start_cv_.wait(lock, [&] { return started_ == workers_.size(); });
    if (!start_error_.empty()) return error(std::errc::resource_unavailable_try_again, start_error_);
    accepting_.store(true, std::memory_order_seq_cst);
    return {};
  }

  void report_started(const error* failure) {
    std::lock_guard lock(start_mutex_);
    if (failure && start_error_.empty()) start_error_ = std::string(failure->message());
    ++started_;
    start_cv_.notify_all();
  }

  void run(worker& w) {
    name_thread(w);
    if (w.kind == worker_kind::pinned) {
      auto created = interpreter::create();  // the thread that owns it creates it
      if (!created) {
        report_started(&created.error());
        while (w.box.wait_for_data()) fail_batch(w);  // nothing is queued for it, but stay correct
        return;
      }
      w.slot->owned = std::move(created).value();
      w.slot->interp = w.slot->owned.get();
    }
    report_started(nullptr);

    this_worker_ = &w;
    PyThreadState* state = w.slot->interp->thread_state();  // once per (thread, interpreter)
    call_context ctx(w.slot, w.index, &w.load);
    auto run_one = [&](detail::job&& j) {
      ctx.job_begins();
      if (stopping_.load(std::memory_order_acquire) && past_deadline()) {
        cancelled_.fetch_add(1, std::memory_order_relaxed);
        static const error late(errc::timed_out, "subinterpreter_executor shut down: the deadline passed before this job started");
        j.invoke(j.self, nullptr, &late);
      } else {
        j.invoke(j.self, &ctx, nullptr);  // counts the job finished before completing its future
      }
      ctx.job_finished();  // when it did not (failed, or thrown through)
    };
    while (w.box.wait_for_data()) {
      PyEval_RestoreThread(state);
      w.box.drain(run_one, options_.batch);
      PyEval_SaveThread();
    }

    this_worker_ = nullptr;
    if (w.kind == worker_kind::pinned) {
      {
        PyEval_RestoreThread(state);
        w.slot->clear_handlers();
        PyEval_SaveThread();
      }
      if (auto ended = w.slot->owned->end(); !ended) {
        ended.error().print(stderr, "fastrt: ending a pinned interpreter");
      }
      w.slot->owned.reset();
      w.slot->interp = nullptr;
    } else {
      w.slot->interp->release_thread();
    }
  }

  void fail_batch(worker& w) {
    static const error failure(std::errc::resource_unavailable_try_again, "worker has no interpreter");
    w.box.drain(
        [&w](detail::job&& j) {
          j.invoke(j.self, nullptr, &failure);
          w.load.in_flight.fetch_sub(1, std::memory_order_acq_rel);
        },
        options_.batch);
  }

  // "py-pinned-3", "py-pooled-0", "py-main-1" in top -H, gdb, /proc/PID/task/*/comm
  // (Linux keeps 15 characters).
  static void name_thread(const worker& w) noexcept {
    char name[16];
    std::snprintf(name, sizeof name, "py-%s-%zu", to_string(w.kind), w.index);
    (void)pthread_setname_np(pthread_self(), name);
  }

  bool past_deadline() const noexcept {
    return std::chrono::steady_clock::now().time_since_epoch().count() > deadline_ns_.load(std::memory_order_acquire);
  }

  // Runs in the interpreter: imports the module and finds the attribute.
  // Returns the error text, or empty on success.
  static std::string resolve(call_context& ctx, const std::string& module, const std::string& attribute,
                             const std::string& spec, handler h) {
    std::string where = "loading handler '" + spec + "' in " + to_string(ctx.kind()) + " interpreter " +
                        std::to_string(ctx.interpreter_index());
    PyObject* object = PyImport_ImportModule(module.c_str());
    if (!object) {
      std::string text(take_exception(where).message());
      if (text.find("does not support loading in subinterpreters") != std::string::npos) {
        text += "hint: a module it imports refuses subinterpreters; load '" + spec +
                "' on main workers instead (executor_options::main_handlers, submit_to(worker_kind::main, ...))\n";
      }
      return text;
    }
    std::size_t begin = 0;
    while (begin <= attribute.size()) {
      const std::size_t dot = std::min(attribute.find('.', begin), attribute.size());
      const std::string part = attribute.substr(begin, dot - begin);
      PyObject* next = PyObject_GetAttrString(object, part.c_str());
      Py_DECREF(object);
      if (!next) return std::string(take_exception(where).message());
      object = next;
      begin = dot + 1;
    }
    if (!PyCallable_Check(object)) {
      Py_DECREF(object);
      return where + ": '" + attribute + "' is not callable";
    }
    Py_XDECREF(ctx.slot_->handlers[h.index].exchange(object, std::memory_order_acq_rel));
    return {};
  }

  executor_options options_;
  std::vector<std::unique_ptr<detail::interpreter_slot>> slots_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<worker*> pinned_, pooled_, main_;
  std::array<std::atomic<std::size_t>, 3> next_{};

  std::atomic<bool> accepting_{false};
  std::atomic<std::size_t> submitters_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> deadline_ns_{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::size_t> cancelled_{0};
  std::atomic<bool> shut_down_{false};
  // The worker the calling thread is (null on other threads).
  static inline thread_local worker* this_worker_ = nullptr;

  std::mutex start_mutex_;
  std::condition_variable start_cv_;
  std::size_t started_ = 0;
  std::string start_error_;

  struct handler_entry {
    std::string name;    // empty: a free slot
    bool ready = false;  // loaded; handler_of() finds only these
  };
  std::mutex load_serial_mutex_;  // one load() at a time
  mutable std::mutex load_mutex_;  // handler_names_
  std::vector<handler_entry> handler_names_;
};

}  // namespace fastrt::python
