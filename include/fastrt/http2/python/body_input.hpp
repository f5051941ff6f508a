// body_input.hpp — a streamed request body as a Python file-like object,
// read blocking on the app's worker thread: WSGI's `wsgi.input` (PEP 3333:
// read(size), readline(size), readlines(hint), iteration by lines) and what
// fastrt.Request.read() / .chunks() / .stream() / .body use
// (request_object.hpp).
//
// The object is an instance of a small class written in Python (the source
// below, made once per interpreter in module_exec) over three C functions on
// the request's body_channel (body_channel.hpp): pull() takes the next piece
// with the GIL released while it waits; for `async for piece in
// body.stream()` (an `async def app`, whose event loop must not block)
// poll() takes one only if it is there, and arm(future) has the io thread
// resolve an asyncio future on the app's worker (a job in its loop) once
// something arrives. b"" is the end; OSError says the body failed (the
// client reset the stream or went away, --body-timeout, --max-body-size, or
// the server gave up on the request).
//
// Why Python source: the buffering rules of read/readline/readlines are
// plain bytes slicing; in C they would be a new type with the same logic and
// more ways to get it wrong. The blocking wait is the only part that needs C.
//
// Thread-safety: with the GIL of the app's interpreter; pull() releases it
// while it waits. Cost: one capsule, three builtin functions and one
// instance per request; per piece one bytes object and a bytearray append
// (an async wait: one future and one job).
#pragma once

#include <Python.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <fastrt/python/subinterpreter_executor.hpp>

#include <fastrt/http2/python/body_channel.hpp>
#include <fastrt/http2/python/common.hpp>

namespace fastrt::http2::python {

namespace py = fastrt::python;

inline constexpr const char* body_input_source = R"PY(
class BodyInput:
    """A request body read as it arrives (blocking): read, readline, readlines, iteration;
    stream() for async def apps."""

    def __init__(self, pull, poll=None, arm=None):
        self._pull, self._poll, self._arm = pull, poll, arm
        self._buffer = bytearray()
        self._eof = False

    @classmethod
    def whole(cls, data):
        """A body that is all here already."""
        self = cls(None)
        self._buffer += data
        self._eof = True
        return self

    def _fill(self):
        if self._eof:
            return False
        piece = self._pull()
        if not piece:
            self._eof = True
            return False
        self._buffer += piece
        return True

    def _take(self, n):
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def readable(self):
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) < size and self._fill():
            pass
        return self._take(size)

    def read1(self, size=-1):
        if not self._buffer:
            self._fill()
        return self._take(len(self._buffer) if size is None or size < 0 else size)

    def readline(self, size=-1):
        limited = size is not None and size >= 0
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end >= 0:
                end += 1
                break
            if limited and len(self._buffer) >= size:
                end = size
                break
            start = len(self._buffer)
            if not self._fill():
                end = len(self._buffer)
                break
        return self._take(min(end, size) if limited else end)

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def chunks(self):
        """The body piece by piece, as it arrives."""
        if self._buffer:
            yield self._take(len(self._buffer))
        while self._fill():
            yield self._take(len(self._buffer))

    def stream(self):
        """An async iterator over the body's pieces as they arrive: waits without blocking the event loop."""
        return _AsyncPieces(self)

    def close(self):
        pass


class _AsyncPieces:
    def __init__(self, body):
        self._body = body

    def __aiter__(self):
        return self

    async def __anext__(self):
        body = self._body
        if body._buffer:
            return body._take(len(body._buffer))
        if body._eof:
            raise StopAsyncIteration
        if body._poll is None:
            raise RuntimeError("this request body cannot be read asynchronously")
        while True:
            piece = body._poll()  # bytes, b"" at the end, None when nothing is there yet
            if piece is None:
                import asyncio
                arrived = asyncio.get_running_loop().create_future()
                if body._arm(arrived):
                    await arrived
                continue
            if not piece:
                body._eof = True
                raise StopAsyncIteration
            return piece
)PY";

// This interpreter's BodyInput class (a new reference), or null with an
// exception set.
inline PyObject* load_body_input_class() { return defined_by(body_input_source, "BodyInput"); }

namespace detail {

inline constexpr const char* channel_capsule_name = "fastrt.body_channel";

// What the capsule holds: the channel and, for stream(), the worker whose
// event loop awaits it (executor null: no async reads).
struct body_handle {
  std::shared_ptr<body_channel> channel;
  py::subinterpreter_executor* executor = nullptr;
  py::worker_kind kind = py::worker_kind::pinned;
  std::size_t worker = 0;
};

inline void free_handle(PyObject* capsule) {
  delete static_cast<body_handle*>(PyCapsule_GetPointer(capsule, channel_capsule_name));
}
inline body_handle* handle_of(PyObject* capsule) {
  return static_cast<body_handle*>(PyCapsule_GetPointer(capsule, channel_capsule_name));
}

// A piece as Python sees it: bytes, b"" at the end; OSError on a failure.
inline PyObject* piece_object(const fastrt::result<std::optional<std::string>>& piece) {
  if (!piece) {
    const std::string why = "the request body could not be read: " + std::string(piece.error().message());
    PyErr_SetString(PyExc_OSError, why.c_str());
    return nullptr;
  }
  if (!*piece) return PyBytes_FromStringAndSize(nullptr, 0);
  return PyBytes_FromStringAndSize((*piece)->data(), static_cast<Py_ssize_t>((*piece)->size()));
}

// pull(): the next piece, waiting for it.
inline PyObject* pull_piece(PyObject* capsule, PyObject*) {
  body_handle* handle = handle_of(capsule);
  if (!handle) return nullptr;
  fastrt::result<std::optional<std::string>> piece = std::optional<std::string>();
  Py_BEGIN_ALLOW_THREADS  // the io thread fills the channel; other threads of this interpreter may run
  piece = handle->channel->take();
  Py_END_ALLOW_THREADS
  return piece_object(piece);
}

// poll(): the next piece if there is one, else None.
inline PyObject* poll_piece(PyObject* capsule, PyObject*) {
  body_handle* handle = handle_of(capsule);
  if (!handle) return nullptr;
  bool nothing_yet = false;
  fastrt::result<std::optional<std::string>> piece = handle->channel->try_take(nothing_yet);
  if (nothing_yet) return Py_NewRef(Py_None);
  return piece_object(piece);
}

// arm(future): True when `future` (of this worker's event loop) will get a
// result once something arrives; False when something is there already.
// The wake-up is a job on this worker (its loop thread) that sets the
// result, unless the future is done (the task was cancelled meanwhile).
inline PyObject* arm_wake(PyObject* capsule, PyObject* future) {
  body_handle* handle = handle_of(capsule);
  if (!handle) return nullptr;
  if (!handle->executor) {
    PyErr_SetString(PyExc_RuntimeError, "this request body cannot be read asynchronously");
    return nullptr;
  }
  Py_INCREF(future);  // given back by the job (or left to the interpreter's end if the job is refused)
  auto wake = [executor = handle->executor, kind = handle->kind, worker = handle->worker, future] {
    (void)executor->submit_to(kind, worker, [future](py::call_context&) {
      PyObject* done = PyObject_CallMethod(future, "done", nullptr);
      if (done && !PyObject_IsTrue(done)) Py_XDECREF(PyObject_CallMethod(future, "set_result", "O", Py_None));
      Py_XDECREF(done);
      PyErr_Clear();  // (a future of a closed loop: nobody awaits it any more)
      Py_DECREF(future);
    });
  };
  if (handle->channel->wake_when_ready(std::move(wake))) Py_RETURN_TRUE;
  Py_DECREF(future);
  Py_RETURN_FALSE;
}

inline PyMethodDef pull_method = {"pull", &pull_piece, METH_NOARGS, "The request body's next piece (b'' at the end)."};
inline PyMethodDef poll_method = {"poll", &poll_piece, METH_NOARGS, "The next piece if it is there, else None."};
inline PyMethodDef arm_method = {"arm", &arm_wake, METH_O, "arm(future): its result is set once something arrives."};

}  // namespace detail

// A BodyInput (`input_class`: this interpreter's) reading `channel`; null
// with an exception set on failure. With `executor`, its stream() awaits in
// the event loop of worker `worker` of `kind` (the one calling this).
inline PyObject* new_body_input(PyObject* input_class, std::shared_ptr<body_channel> channel,
                                py::subinterpreter_executor* executor = nullptr,
                                py::worker_kind kind = py::worker_kind::pinned, std::size_t worker = 0) {
  auto* held = new detail::body_handle{std::move(channel), executor, kind, worker};
  PyObject* capsule = PyCapsule_New(held, detail::channel_capsule_name, &detail::free_handle);
  if (!capsule) {
    delete held;
    return nullptr;
  }
  PyObject* pull = PyCFunction_New(&detail::pull_method, capsule);
  PyObject* poll = PyCFunction_New(&detail::poll_method, capsule);
  PyObject* arm = PyCFunction_New(&detail::arm_method, capsule);
  Py_DECREF(capsule);  // the functions hold it
  PyObject* input = pull && poll && arm ? PyObject_CallFunctionObjArgs(input_class, pull, poll, arm, nullptr) : nullptr;
  Py_XDECREF(pull);
  Py_XDECREF(poll);
  Py_XDECREF(arm);
  return input;
}

}  // namespace fastrt::http2::python
