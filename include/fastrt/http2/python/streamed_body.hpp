// streamed_body.hpp — a response body streamed from a Python iterator (a
// generator, an iterator, a list's iterator ...) as a body_stream.
//
// Each pull submits one job to the worker that ran the app (submit_to with
// its kind and index: the same interpreter, which owns the iterator) and
// calls next(it) there with the GIL held. StopIteration ends the body ("");
// an empty piece is skipped, since "" means the end to the server; str is
// sent UTF-8 encoded, bytes / bytearray as they are; anything else, or an
// exception, is an error (the server resets the stream and logs it). After
// the end or an error the iterator is released at once, in that job.
//
// The server pulls one piece at a time per stream, so the iterator is never
// resumed concurrently (a generator would raise "already executing").
//
// Lifetime: the iterator reference lives in a shared_ptr'd state held by the
// body_stream and by each pull in flight. Whoever drops the last reference —
// usually the io thread, when the server drops the stream (finished or reset
// by the client) — must not touch the object: if that thread is not attached
// to the iterator's interpreter, the release is a fire-and-forget job on the
// same worker (a generator then runs its finally blocks there). If the
// executor is already shutting down that job is refused and the reference is
// left to the interpreter's finalization. So the executor must outlive every
// body_stream (fastrt-h2 stops its io threads before the executor).
//
// Thread-safety: the body_stream is pulled from one thread (the connection's
// io thread), one piece at a time; the iterator is touched only on its
// worker. Cost: one executor job per piece, one shared state per body.
#pragma once

#include <Python.h>

#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <memory>
#include <string>
#include <utility>

#include <fastrt/http2/response.hpp>

namespace fastrt::http2::python {

namespace py = fastrt::python;

// Drops `object` (owned), from any thread: at once when this thread is
// attached to `interp` (its interpreter), else in a fire-and-forget job on
// worker `index` of `kind` — refused once the executor shuts down, which
// leaves it to the interpreter's finalization. `release` is what dropping
// it means (null: Py_DECREF).
inline void release_on_worker(PyObject* object, PyInterpreterState* interp, py::subinterpreter_executor& executor,
                              py::worker_kind kind, std::size_t index, void (*release)(PyObject*) = nullptr) {
  if (!object) return;
  auto drop = [object, release] { release ? release(object) : Py_DECREF(object); };
  PyThreadState* attached = py::detail::attached_thread_state();
  if (attached && PyThreadState_GetInterpreter(attached) == interp) return drop();  // e.g. a job's last reference
  (void)executor.submit_to(kind, index, [drop](py::call_context&) { drop(); });
}

class python_stream_state {
 public:
  python_stream_state(PyObject* iterator, py::subinterpreter_executor* executor, const py::call_context& ctx) noexcept
      : iterator_(iterator), interp_(PyInterpreterState_Get()), executor_(executor), kind_(ctx.kind()),
        worker_(ctx.worker_index()) {}
  python_stream_state(const python_stream_state&) = delete;
  python_stream_state& operator=(const python_stream_state&) = delete;

  ~python_stream_state() { release_on_worker(std::exchange(iterator_, nullptr), interp_, *executor_, kind_, worker_); }

  // On the worker, with the GIL held: the next non-empty piece, "" at the end.
  fastrt::result<std::string> next() {
    while (iterator_) {
      PyObject* piece = PyIter_Next(iterator_);
      if (!piece) {
        fastrt::result<std::string> end = std::string();
        if (PyErr_Occurred()) end = py::take_exception("the response body iterator raised");
        release();
        return end;
      }
      fastrt::result<std::string> bytes = octets(piece);
      Py_DECREF(piece);
      if (!bytes) {
        release();
        return bytes;
      }
      if (!bytes->empty()) return bytes;
    }
    return std::string();
  }

  static fastrt::coro_task<fastrt::result<std::string>> pull(std::shared_ptr<python_stream_state> self) {
    // The job holds the state too: a pull queued when the stream is dropped
    // still finds it, and the release job is queued after it.
    // Named locals, not one `co_return co_await submit_to(..., [self] {...})`:
    // g++ 12 miscompiled that form here (a piece went missing, then the
    // process crashed releasing a shared_ptr in this frame).
    auto job = [self](py::call_context&) { return self->next(); };
    auto piece = self->executor_->submit_to(self->kind_, self->worker_, std::move(job));
    fastrt::result<std::string> out = co_await std::move(piece);
    co_return out;
  }

 private:
  void release() noexcept { Py_CLEAR(iterator_); }

  static fastrt::result<std::string> octets(PyObject* piece) {
    if (PyBytes_Check(piece) || PyByteArray_Check(piece) || PyUnicode_Check(piece)) {
      return py::call_context::to_bytes(piece);
    }
    return fastrt::error(std::errc::invalid_argument, std::string("the response body yielded a piece of type ") +
                                                          Py_TYPE(piece)->tp_name + "; pieces must be bytes or str");
  }

  PyObject* iterator_;             // owned; touched only with interp_'s GIL held
  PyInterpreterState* interp_;
  py::subinterpreter_executor* executor_;
  py::worker_kind kind_;
  std::size_t worker_;
};

// With the GIL held, on the worker `ctx` describes: a body_stream pulling
// from `iterator` (a new reference, which this takes over).
inline body_stream python_body_stream(PyObject* iterator, py::subinterpreter_executor* executor,
                                      const py::call_context& ctx) {
  auto state = std::make_shared<python_stream_state>(iterator, executor, ctx);
  return [state] { return python_stream_state::pull(state); };
}

}  // namespace fastrt::http2::python
