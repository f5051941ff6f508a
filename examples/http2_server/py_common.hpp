// py_common.hpp — what the `fastrt` module's types (py_request.hpp,
// py_response.hpp) and python_app.hpp share: the per-module state holding the
// heap types, and the rules every response header must follow.
//
// Thread-safety: everything here runs with the GIL of the interpreter that
// owns the objects held.
#pragma once

#include <Python.h>

#include <string_view>

namespace fastrt_h2::pymod {

// Per module object, so per interpreter: each interpreter that imports
// `fastrt` creates its own heap types (an object of one interpreter must
// never be used by another). CPython allocates it zero-filled.
struct module_state {
  PyTypeObject* request_type;
  PyTypeObject* headers_type;
  PyTypeObject* response_type;
};

// The state of the module that created `type` (a type of this module).
inline module_state* state_of(PyTypeObject* type) noexcept {
  return static_cast<module_state*>(PyType_GetModuleState(type));
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
// already lower-case (HTTP/2 requires it). Names are RFC 9110 tokens, which
// also keeps out pseudo-headers (":status"); HTTP/2 forbids the
// connection-specific fields (RFC 9113 8.2.2); a value with NUL, CR or LF
// could split the field in an HTTP/1 hop behind a proxy.
inline const char* header_problem(std::string_view name, std::string_view value) noexcept {
  if (name.empty()) return "the header name is empty";
  for (unsigned char c : name) {
    const bool token = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!token) return "the header name has a character that is not allowed in a field name";
  }
  for (std::string_view banned : {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    if (name == banned) return "connection-specific header fields are not allowed in HTTP/2";
  }
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') return "the header value contains NUL, CR or LF";
  }
  return nullptr;
}

// ASCII lower-case copy of a header name (names outside ASCII are rejected
// by header_problem anyway).
inline void lower_ascii(std::string& s) noexcept {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

}  // namespace fastrt_h2::pymod
