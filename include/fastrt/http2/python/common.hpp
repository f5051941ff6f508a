// common.hpp — what the `fastrt` module's types (request_object.hpp,
// response_object.hpp) and app.hpp share: the per-module state holding the
// heap types, and the rules every response header must follow.
//
// Thread-safety: everything here runs with the GIL of the interpreter that
// owns the objects held.
#pragma once

#include <Python.h>

#include <string_view>

#include <fastrt/http2/field_rules.hpp>

namespace fastrt::http2::python {

// Per module object, so per interpreter: each interpreter that imports
// `fastrt` creates its own heap types (an object of one interpreter must
// never be used by another). CPython allocates it zero-filled.
struct module_state {
  PyTypeObject* request_type;
  PyTypeObject* headers_type;
  PyTypeObject* response_type;
  PyObject* bytes_io;   // io.BytesIO: a WSGI app's wsgi.input (wsgi_environ.hpp)
  PyObject* wsgi_body;  // the generator function a streamed WSGI body runs in (wsgi_body.hpp)
  PyObject* asgi_glue;  // the ASGI glue's namespace (asgi_glue.hpp), made when first needed; null before
  PyObject* asgi_channel;  // the glue's Channel class and the name "begin" (interned): looked up once
  PyObject* asgi_begin;
  PyObject* asgi_scope_keys;       // the ASGI scope's varying keys, interned (asgi_scope.hpp); null until first used
  PyObject* asgi_scope_constants;  // the entries every scope starts with, and its 'asgi' dict (copied per request)
  PyObject* asgi_versions;
  PyObject* body_input; // the class of a streamed request body read blocking (body_input.hpp)
  PyObject* wsgi_keys;       // the WSGI environ's keys, interned (wsgi_environ.hpp)
  PyObject* wsgi_constants;  // the entries every WSGI environ starts with (wsgi_environ.hpp)
};

// The state of the module that created `type` (a type of this module).
inline module_state* state_of(PyTypeObject* type) noexcept {
  return static_cast<module_state*>(PyType_GetModuleState(type));
}

// Runs `source` (module-level Python that defines `name`) in a fresh
// namespace that has the builtins: what it defined under `name` (a new
// reference), or null with an exception set. For the small helpers the
// bridge writes in Python (wsgi_body.hpp, body_input.hpp), made once per
// interpreter.
inline PyObject* defined_by(const char* source, const char* name) {
  PyObject* globals = PyDict_New();
  if (!globals) return nullptr;
  PyObject* defined = nullptr;
  if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
    if (PyObject* ran = PyRun_String(source, Py_file_input, globals, globals)) {
      Py_DECREF(ran);
      defined = PyDict_GetItemString(globals, name);  // borrowed
      Py_XINCREF(defined);
    }
  }
  Py_DECREF(globals);
  if (!defined && !PyErr_Occurred()) PyErr_Format(PyExc_RuntimeError, "fastrt: %s was not defined", name);
  return defined;
}

// PyMethodDef wants a PyCFunction; going through void(*)() is the cast that
// -Wcast-function-type accepts for the other calling conventions.
template <class F>
PyCFunction as_method(F* f) noexcept {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}

// str as UTF-8, or bytes, viewed without copying (the view lives as long as
// `obj`); false, with TypeError set, for anything else.
inline bool octets_of(PyObject* obj, std::string_view& out, const char* what) {
  if (PyUnicode_Check(obj)) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(obj, &size);
    if (!data) return false;
    out = std::string_view(data, static_cast<std::size_t>(size));
    return true;
  }
  if (PyBytes_Check(obj)) {
    out = std::string_view(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
    return true;
  }
  PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.100s", what, Py_TYPE(obj)->tp_name);
  return false;
}

// Why a response header may not be sent, or null when it may. `name` is
// already lower-case (HTTP/2 requires it). The rules are field_rules.hpp's:
// names are RFC 9110 tokens (which keeps out pseudo-headers such as
// ":status"), values have no control character but HTAB (NUL, CR or LF
// could split the field in an HTTP/1 hop behind a proxy) and no surrounding
// whitespace; HTTP/2 forbids the connection-specific fields (RFC 9113
// §8.2.2); a content-length must be a decimal number (whether it matches
// the body is checked when the response is sent).
inline const char* header_problem(std::string_view name, std::string_view value) noexcept {
  if (const char* problem = fields::sent_name_problem(name)) return problem;
  if (fields::is_connection_specific(name)) return "connection-specific header fields are not allowed in HTTP/2";
  if (const char* problem = fields::sent_value_problem(value)) return problem;
  if (name == "content-length" && !fields::content_length(value)) return "content-length is not a decimal number";
  return nullptr;
}

// ASCII lower-case copy of a header name (names outside ASCII are rejected
// by header_problem anyway).
inline void lower_ascii(std::string& s) noexcept {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

}  // namespace fastrt::http2::python
