// fastrt/python/call_context.hpp — what a job sees inside its interpreter:
// where it runs, and how to call a loaded handler and convert what it returns.
//
//   exec->submit([&](fastrt::python::call_context& py) {
//     return py.call(h, bytes);           // h(bytes(bytes)) -> str | bytes | bytearray | None, as bytes
//   });
//   py.call_int(add, 40, 2);              // h(40, 2) -> int
//   py.object(h);                         // the callable itself (borrowed), for other calls
//   call_context::to_bytes(obj);          // str (UTF-8) / bytes / bytearray / None as bytes
//
// Isolation: arguments go in as copies owned by the interpreter (`bytes`,
// `int`), never as views of the caller's memory: a memoryview over borrowed
// C++ memory cannot be made safe (memoryview(b), b[:] and b.cast('B') make
// new views on the same buffer that survive release(), and Python would
// later read freed memory). Results come out as C++ values. A Python
// exception becomes an error (exception_code) with type, message and
// traceback.
//
// Thread-safety: valid on its worker's thread, with the GIL of its
// interpreter held, during the job only; no PyObject* may outlive the job.
// Cost: call = one bytes copy of the argument, the call, one copy of the
// result; call_int = a tuple of ints and the call.
#pragma once

#include <Python.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"
#include "exception.hpp"
#include "handler_registry.hpp"
#include "interpreter.hpp"
#include "worker_load.hpp"

namespace fastrt::python {

// pinned: one thread owns one own-GIL subinterpreter; pooled: threads share
// own-GIL subinterpreters; main: threads on the main interpreter.
enum class worker_kind : std::uint8_t { pinned, pooled, main };

inline const char* to_string(worker_kind kind) noexcept {
  switch (kind) {
    case worker_kind::pinned: return "pinned";
    case worker_kind::pooled: return "pooled";
    case worker_kind::main: return "main";
  }
  return "?";
}

class subinterpreter_executor;
class call_context;
namespace detail {
class worker;
class worker_loop;
template <class F, class R>
struct job_payload;
template <class Start, class Finish, class R>
struct awaitable_job_payload;

// The rest of a job whose Python result was awaitable: the worker's event
// loop calls resume once, on the worker's thread with the GIL held, with
// the awaitable's value (borrowed) or why it failed (value null).
struct awaited_call {
  void (*resume)(void* self, call_context& ctx, PyObject* value, const error* failure) = nullptr;
  void* self = nullptr;
};

// How a call_context hands an awaitable to its worker's event loop (the
// worker supplies it; event_loop.hpp).
struct loop_entry {
  result<void> (*spawn)(void* host, PyObject* awaitable, awaited_call then, std::stop_token token) = nullptr;
  void* host = nullptr;
};
}  // namespace detail

class call_context {
 public:
  worker_kind kind() const noexcept { return kind_; }
  // Index of the worker thread within its kind.
  std::size_t worker_index() const noexcept { return worker_index_; }
  // Index of the interpreter within its kind (pooled: worker_index % K).
  std::size_t interpreter_index() const noexcept { return interpreter_index_; }
  interpreter& interp() const noexcept { return *interp_; }

  // Borrowed reference to the handler's callable in this interpreter, or null
  // when it was not loaded here. Do not keep it beyond the call.
  PyObject* object(handler h) const noexcept { return handlers_->find(h); }

  // handler(bytes) -> str | bytes | bytearray | None, as bytes. The argument
  // is a `bytes` copy the handler may keep (see "Isolation").
  result<std::string> call(handler h, std::string_view bytes) const {
    PyObject* fn = object(h);
    if (!fn) return not_loaded(h);
    PyObject* argument = PyBytes_FromStringAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size()));
    if (!argument) return take_exception("copying the argument");
    Py_INCREF(fn);  // a load() on another worker of this interpreter may replace it meanwhile
    PyObject* out = PyObject_CallOneArg(fn, argument);
    Py_DECREF(fn);
    Py_DECREF(argument);
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
  friend class detail::worker;
  template <class F, class R>
  friend struct detail::job_payload;
  template <class Start, class Finish, class R>
  friend struct detail::awaitable_job_payload;
  friend class detail::worker_loop;

  call_context(worker_kind kind, std::size_t worker_index, std::size_t interpreter_index, interpreter* interp,
               detail::handler_table* handlers, detail::worker_load* load) noexcept
      : kind_(kind),
        worker_index_(worker_index),
        interpreter_index_(interpreter_index),
        interp_(interp),
        handlers_(handlers),
        load_(load) {}

  detail::handler_table& handlers() const noexcept { return *handlers_; }

  // The worker's load counts the current job as done once: job_payload calls
  // job_finished() before completing the future; the worker calls it again
  // after the job, for jobs that were failed or threw instead.
  void job_begins() noexcept {
    job_open_ = true;
    load_->job_begins(detail::steady_now_ns());
  }
  void job_finished() noexcept {
    if (std::exchange(job_open_, false)) load_->job_done();
  }

  // Runs `awaitable` (a new reference, taken over even on failure) as a
  // Task in this worker's event loop; then.resume completes the job later.
  // The job stays in the worker's load as a task until then; `token`
  // stopping cancels the Task. Fails when this worker has no loop.
  result<void> await_in_loop(PyObject* awaitable, detail::awaited_call then, std::stop_token token) {
    if (!loop_.spawn) {
      Py_DECREF(awaitable);
      return error(std::errc::operation_not_supported, "this worker runs no event loop");
    }
    // A task before it starts: an eager one may finish (and resume the
    // job, counting it done) inside spawn.
    if (std::exchange(job_open_, false)) load_->job_became_task();
    auto spawned = loop_.spawn(loop_.host, awaitable, then, std::move(token));
    if (!spawned) load_->task_done();  // no task after all: the job fails
    return spawned;
  }
  // The loop, when a task it ran for a job is done (before resuming it).
  void task_finished() noexcept { load_->task_done(); }

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

  worker_kind kind_;
  std::size_t worker_index_;
  std::size_t interpreter_index_;
  interpreter* interp_;
  detail::handler_table* handlers_;
  detail::worker_load* load_;  // the worker's
  detail::loop_entry loop_;    // set by the worker
  bool job_open_ = false;
};

}  // namespace fastrt::python
