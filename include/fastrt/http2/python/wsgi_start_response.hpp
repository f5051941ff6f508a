// wsgi_start_response.hpp — the start_response(status, headers,
// exc_info=None) callable a WSGI app receives, and the write(data) callable
// it returns (PEP 3333), over one C++ state per request that wsgi.hpp reads.
//
//   start_response("200 OK", [("Content-Type", "text/plain")])  → write
//   status     str "NNN reason": NNN in 200..599 (HTTP/2 sends no reason)
//   headers    a sequence of (name, value) str pairs; values latin-1 (PEP
//              3333's "native strings"); names are lower-cased and checked
//              like every response field (header_problem, common.hpp): a bad
//              one is a ValueError in the app. HTTP/1 hop-by-hop fields
//              (connection, keep-alive, transfer-encoding, upgrade, ...)
//              are dropped: HTTP/2 forbids them and a WSGI app may well
//              set them for HTTP/1.
//   exc_info   None: a second call is an error. A (type, value, traceback)
//              tuple: before the headers went out, the status and headers
//              are replaced; after, the exception is re-raised.
//   write(b)   bytes-like, before the headers went out: sent before what the
//              iterable yields. After (from inside a streamed iterable) it
//              raises RuntimeError: not supported in this increment.
//
// The state lives in a capsule shared by both callables (no PyObject
// inside it, so no reference cycle can keep it alive: exc_info is not kept).
//
// Thread-safety: with the GIL of the app's interpreter. Cost per request:
// the capsule, the start_response function object and, when called, the
// write function object.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <fastrt/http2/field_rules.hpp>
#include <fastrt/http2/python/common.hpp>
#include <fastrt/http2/request.hpp>

namespace fastrt::http2::python::wsgi {

// Where a WSGI response stands.
enum class response_phase : std::uint8_t {
  not_started,   // start_response not called yet
  headers_set,   // called: status and headers may still be replaced (with exc_info)
  headers_sent,  // the first body piece went out with them: nothing can change
};

struct response_state {
  response_phase phase = response_phase::not_started;
  int status = 0;
  header_list headers;
  std::string written;  // write() before the headers went out
};

inline constexpr const char* response_state_name = "fastrt.wsgi.response_state";

inline response_state* state_of_capsule(PyObject* capsule) {
  return static_cast<response_state*>(PyCapsule_GetPointer(capsule, response_state_name));
}

inline void delete_response_state(PyObject* capsule) { delete state_of_capsule(capsule); }

// "200 OK" → 200; -1 with ValueError / TypeError set.
inline int parse_status(PyObject* status) {
  if (!PyUnicode_Check(status)) {
    PyErr_Format(PyExc_TypeError, "status must be str, not %.100s", Py_TYPE(status)->tp_name);
    return -1;
  }
  Py_ssize_t size = 0;
  const char* text = PyUnicode_AsUTF8AndSize(status, &size);
  if (!text) return -1;
  const std::string_view s(text, static_cast<std::size_t>(size));
  int code = 0;
  bool ok = s.size() >= 3 && (s.size() == 3 || s[3] == ' ');
  for (std::size_t i = 0; ok && i < 3; ++i) {
    ok = s[i] >= '0' && s[i] <= '9';
    code = code * 10 + (s[i] - '0');
  }
  if (!ok || code < 200 || code > 599) {
    PyErr_Format(PyExc_ValueError, "status must be 'NNN reason' with NNN in 200..599, got %R", status);
    return -1;
  }
  return code;
}

// A latin-1 str (or bytes) as octets, into `out`; false with an exception set.
inline bool latin1_octets(PyObject* obj, std::string& out, const char* what) {
  if (PyBytes_Check(obj)) {
    out.assign(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
    return true;
  }
  if (!PyUnicode_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(obj)->tp_name);
    return false;
  }
  PyObject* encoded = PyUnicode_AsLatin1String(obj);  // UnicodeEncodeError names the character
  if (!encoded) return false;
  out.assign(PyBytes_AS_STRING(encoded), static_cast<std::size_t>(PyBytes_GET_SIZE(encoded)));
  Py_DECREF(encoded);
  return true;
}

// The checked headers, or false with an exception set.
inline bool read_headers(PyObject* headers, header_list& out) {
  PyObject* items = PySequence_Fast(headers, "headers must be a list of (name, value) tuples");
  if (!items) return false;
  bool ok = true;
  for (Py_ssize_t i = 0; ok && i < PySequence_Fast_GET_SIZE(items); ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(items, i);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
      PyErr_Format(PyExc_TypeError, "headers must be (name, value) tuples, got %R", pair);
      ok = false;
      break;
    }
    std::string name, value;
    ok = latin1_octets(PyTuple_GET_ITEM(pair, 0), name, "a header name") &&
         latin1_octets(PyTuple_GET_ITEM(pair, 1), value, "a header value");
    if (!ok) break;
    lower_ascii(name);
    if (fields::is_connection_specific(name)) continue;  // HTTP/1 hop-by-hop: see the top of this file
    if (const char* problem = header_problem(name, value)) {
      PyErr_Format(PyExc_ValueError, "header %R: %s", PyTuple_GET_ITEM(pair, 0), problem);
      ok = false;
      break;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  Py_DECREF(items);
  return ok;
}

inline PyObject* write_call(PyObject* capsule, PyObject* data) {
  response_state* st = state_of_capsule(capsule);
  if (!st) return nullptr;
  if (st->phase == response_phase::headers_sent) {
    PyErr_SetString(PyExc_RuntimeError,
                    "write() after the response body started streaming is not supported by fastrt-h2 yet");
    return nullptr;
  }
  Py_buffer view;
  if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) != 0) return nullptr;
  st->written.append(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
  PyBuffer_Release(&view);
  Py_RETURN_NONE;
}

inline PyMethodDef write_def = {"write", &write_call, METH_O,
                                "write(data): bytes sent before what the app's iterable yields (PEP 3333)."};

inline PyObject* start_response_call(PyObject* capsule, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"status", "headers", "exc_info", nullptr};
  PyObject* status = nullptr;
  PyObject* headers = nullptr;
  PyObject* exc_info = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response", const_cast<char**>(keywords), &status,
                                   &headers, &exc_info)) {
    return nullptr;
  }
  response_state* st = state_of_capsule(capsule);
  if (!st) return nullptr;
  if (exc_info != Py_None) {
    if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3 ||
        !PyExceptionInstance_Check(PyTuple_GET_ITEM(exc_info, 1))) {
      PyErr_SetString(PyExc_TypeError, "exc_info must be None or a (type, value, traceback) tuple such as sys.exc_info()");
      return nullptr;
    }
    if (st->phase == response_phase::headers_sent) {
      // Too late to change the answer: the app's exception goes on (PEP 3333).
      PyErr_SetRaisedException(Py_NewRef(PyTuple_GET_ITEM(exc_info, 1)));
      return nullptr;
    }
  } else if (st->phase != response_phase::not_started) {
    PyErr_SetString(PyExc_RuntimeError, "start_response() was already called (pass exc_info to replace the headers)");
    return nullptr;
  }
  const int code = parse_status(status);
  if (code < 0) return nullptr;
  header_list checked;
  if (!read_headers(headers, checked)) return nullptr;
  st->status = code;
  st->headers = std::move(checked);
  st->phase = response_phase::headers_set;
  return PyCFunction_New(&write_def, capsule);
}

inline PyMethodDef start_response_def = {
    "start_response", as_method(&start_response_call), METH_VARARGS | METH_KEYWORDS,
    "start_response(status, headers, exc_info=None) -> write (PEP 3333)."};

// A new start_response callable and, in `state`, its state (alive as long as
// the callable or a write callable is).
inline PyObject* new_start_response(response_state*& state) {
  auto* owned = new response_state();
  PyObject* capsule = PyCapsule_New(owned, response_state_name, &delete_response_state);
  if (!capsule) {
    delete owned;
    return nullptr;
  }
  PyObject* callable = PyCFunction_New(&start_response_def, capsule);
  Py_DECREF(capsule);  // the function holds it
  if (callable) state = owned;
  return callable;
}

}  // namespace fastrt::http2::python::wsgi
