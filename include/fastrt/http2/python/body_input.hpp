// body_input.hpp — a streamed request body as a Python file-like object,
// read blocking on the app's worker thread: WSGI's `wsgi.input` (PEP 3333:
// read(size), readline(size), readlines(hint), iteration by lines) and what
// fastrt.Request.read() / .chunks() / .body use (request_object.hpp).
//
// The object is an instance of a small class written in Python (the source
// below, made once per interpreter in module_exec) over one C function,
// pull(), which takes the next piece from the request's body_channel
// (body_channel.hpp) with the GIL released while it waits: b"" at the end;
// OSError when the body failed (the client reset the stream or went away,
// --body-timeout, --max-body-size, or the server gave up on the request).
//
// Why Python source: the buffering rules of read/readline/readlines are
// plain bytes slicing; in C they would be a new type with the same logic and
// more ways to get it wrong. The blocking wait is the only part that needs C.
//
// Thread-safety: with the GIL of the app's interpreter; pull() releases it
// while it waits. Cost: one capsule, one builtin function and one instance
// per request; per piece one bytes object and a bytearray append.
#pragma once

#include <Python.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <fastrt/http2/python/body_channel.hpp>
#include <fastrt/http2/python/common.hpp>

namespace fastrt::http2::python {

inline constexpr const char* body_input_source = R"PY(
class BodyInput:
    """A request body read as it arrives (blocking): read, readline, readlines, iteration."""

    def __init__(self, pull):
        self._pull = pull
        self._buffer = bytearray()
        self._eof = False

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

    def close(self):
        pass
)PY";

// This interpreter's BodyInput class (a new reference), or null with an
// exception set.
inline PyObject* load_body_input_class() { return defined_by(body_input_source, "BodyInput"); }

namespace detail {

inline constexpr const char* channel_capsule_name = "fastrt.body_channel";

inline void free_channel(PyObject* capsule) {
  delete static_cast<std::shared_ptr<body_channel>*>(PyCapsule_GetPointer(capsule, channel_capsule_name));
}

// pull(): the next piece (bytes), b"" at the end; OSError on a failed body.
inline PyObject* pull_piece(PyObject* capsule, PyObject*) {
  auto* channel = static_cast<std::shared_ptr<body_channel>*>(PyCapsule_GetPointer(capsule, channel_capsule_name));
  if (!channel) return nullptr;
  fastrt::result<std::optional<std::string>> piece = std::optional<std::string>();
  Py_BEGIN_ALLOW_THREADS  // the io thread fills the channel; other threads of this interpreter may run
  piece = (*channel)->take();
  Py_END_ALLOW_THREADS
  if (!piece) {
    const std::string why = "the request body could not be read: " + std::string(piece.error().message());
    PyErr_SetString(PyExc_OSError, why.c_str());
    return nullptr;
  }
  if (!*piece) return PyBytes_FromStringAndSize(nullptr, 0);
  return PyBytes_FromStringAndSize((*piece)->data(), static_cast<Py_ssize_t>((*piece)->size()));
}

inline PyMethodDef pull_method = {"pull", &pull_piece, METH_NOARGS, "The request body's next piece (b'' at the end)."};

}  // namespace detail

// A BodyInput (`input_class`: this interpreter's) reading `channel`; null
// with an exception set on failure.
inline PyObject* new_body_input(PyObject* input_class, std::shared_ptr<body_channel> channel) {
  auto* held = new std::shared_ptr<body_channel>(std::move(channel));
  PyObject* capsule = PyCapsule_New(held, detail::channel_capsule_name, &detail::free_channel);
  if (!capsule) {
    delete held;
    return nullptr;
  }
  PyObject* pull = PyCFunction_New(&detail::pull_method, capsule);
  Py_DECREF(capsule);  // the function holds it
  if (!pull) return nullptr;
  PyObject* input = PyObject_CallOneArg(input_class, pull);
  Py_DECREF(pull);
  return input;
}

}  // namespace fastrt::http2::python
