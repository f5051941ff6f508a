// request_object.hpp — fastrt.Request and fastrt.Headers, the request object a
// Python `app(request)` receives.
//
//   request.method, .path, .query  str (latin-1: one code point per octet)
//   request.headers                fastrt.Headers: (name, value) str pairs in
//                                  arrival order, names lower-case; len(),
//                                  iteration, indexing, get(name, default=None)
//                                  and getall(name), both case-insensitive
//   request.body                   bytes (a copy, see call_context::call); on
//                                  a streamed route the first access reads
//                                  the rest of the body (blocking)
//   request.read(size=-1)          bytes: up to `size` more of the body (all
//                                  of the rest by default), b"" at the end;
//                                  blocks until they arrive on a streamed
//                                  route (OSError if the body fails: reset,
//                                  client gone, --body-timeout)
//   request.chunks()               an iterator over the body's pieces as
//                                  they arrive (blocking the same way)
//   request.stream()               for an async def app: `async for piece in
//                                  request.stream()`, waiting for the pieces
//                                  without blocking the event loop
//   request.raw_path               bytes: the path as sent, without the query
//   request.scheme                 str: "http", or "https" over TLS
//   request.authority, .host       str: :authority, else the host field ("")
//   request.client, .server        (host str, port int), or None when the
//                                  connection has no address (a socketpair)
//
// Laziness and lifetime. The server creates a Request (new_request) over the
// C++ `request`, which lives in the io thread's coroutine frame only while the
// app runs. The Request holds a pointer to it and makes each attribute's
// Python object the first time the app reads it: an app that never touches
// .headers costs no Python object per header. When the app returns,
// release_request() looks at the reference count: 1 means only the server
// holds the Request and it is simply dropped; more means it escaped (stored
// in a global, captured by a generator, referenced from a traceback, ...),
// so every attribute not made yet is made then, while the C++ request is
// still alive, and the pointer is cleared. After that the Request never
// looks at C++ memory again. The refcount is a sound escape test because
// Request supports no weak references: anything that can still reach it
// holds a strong one. All of this runs with the interpreter's GIL held (the
// module does not declare Py_mod_gil, so a free-threaded build keeps a GIL
// while it is imported).
//
// Neither type can be instantiated from Python nor subclassed.
//
// Thread-safety: with the GIL of the interpreter that owns the objects; the
// C++ request is read only while the app call that borrowed it runs. Cost:
// one object per request, attribute objects only when read.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string_view>

#include <fastrt/http2/python/common.hpp>
#include <fastrt/http2/request.hpp>

namespace fastrt::http2::python {

// ---- Headers ---------------------------------------------------------------

struct headers_object {
  PyObject_HEAD
  PyObject* items;  // tuple of (name, value) str tuples
};

inline PyObject* latin1(std::string_view s) {
  // Field octets map one to one onto code points (as WSGI does).
  return PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr);
}

inline PyObject* new_headers(PyTypeObject* type, const header_list& list) {
  PyObject* items = PyTuple_New(static_cast<Py_ssize_t>(list.size()));
  if (!items) return nullptr;
  for (std::size_t i = 0; i < list.size(); ++i) {
    PyObject* pair = Py_BuildValue("(NN)", latin1(list[i].first), latin1(list[i].second));  // N: steals, also on failure
    if (!pair) {
      Py_DECREF(items);
      return nullptr;
    }
    PyTuple_SET_ITEM(items, static_cast<Py_ssize_t>(i), pair);  // steals
  }
  auto* self = reinterpret_cast<headers_object*>(type->tp_alloc(type, 0));
  if (!self) {
    Py_DECREF(items);
    return nullptr;
  }
  self->items = items;
  return reinterpret_cast<PyObject*>(self);
}

inline headers_object* as_headers(PyObject* self) noexcept { return reinterpret_cast<headers_object*>(self); }

inline Py_ssize_t headers_length(PyObject* self) { return PyTuple_GET_SIZE(as_headers(self)->items); }

inline PyObject* headers_item(PyObject* self, Py_ssize_t i) {
  // Negative indexes are already adjusted by CPython (sq_length exists).
  PyObject* items = as_headers(self)->items;
  if (i < 0 || i >= PyTuple_GET_SIZE(items)) {
    PyErr_SetString(PyExc_IndexError, "headers index out of range");
    return nullptr;
  }
  return Py_NewRef(PyTuple_GET_ITEM(items, i));
}

inline PyObject* headers_iter(PyObject* self) { return PyObject_GetIter(as_headers(self)->items); }

// Calls found(value) for every field named `name` (ASCII case-insensitive;
// stored names are lower-case); stops when found returns false. -1 with an
// exception set when `name` is not a str or found fails.
template <class Found>
int headers_find(PyObject* self, PyObject* name, Found&& found) {
  if (!PyUnicode_Check(name)) {
    PyErr_Format(PyExc_TypeError, "header name must be str, not %.100s", Py_TYPE(name)->tp_name);
    return -1;
  }
  Py_ssize_t size = 0;
  const char* wanted = PyUnicode_AsUTF8AndSize(name, &size);
  if (!wanted) return -1;
  PyObject* items = as_headers(self)->items;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); ++i) {
    PyObject* pair = PyTuple_GET_ITEM(items, i);
    Py_ssize_t key_size = 0;
    const char* key = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &key_size);
    if (!key) return -1;
    if (key_size != size) continue;
    bool same = true;
    for (Py_ssize_t k = 0; same && k < size; ++k) {
      char c = wanted[k];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same = c == key[k];
    }
    if (!same) continue;
    const int more = found(PyTuple_GET_ITEM(pair, 1));
    if (more <= 0) return more;
  }
  return 0;
}

inline PyObject* headers_get(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"name", "default", nullptr};
  PyObject* name = nullptr;
  PyObject* fallback = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:get", const_cast<char**>(keywords), &name, &fallback)) {
    return nullptr;
  }
  PyObject* value = nullptr;
  if (headers_find(self, name, [&](PyObject* v) { value = v; return 0; }) < 0) return nullptr;
  return Py_NewRef(value ? value : fallback);
}

inline PyObject* headers_getall(PyObject* self, PyObject* name) {
  PyObject* values = PyList_New(0);
  if (!values) return nullptr;
  if (headers_find(self, name, [&](PyObject* v) { return PyList_Append(values, v) == 0 ? 1 : -1; }) < 0) {
    Py_DECREF(values);
    return nullptr;
  }
  return values;
}

inline PyObject* headers_repr(PyObject* self) { return PyUnicode_FromFormat("fastrt.Headers(%R)", as_headers(self)->items); }

inline int headers_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));  // instances of heap types keep their type alive
  Py_VISIT(as_headers(self)->items);
  return 0;
}

inline int headers_clear(PyObject* self) {
  Py_CLEAR(as_headers(self)->items);
  return 0;
}

inline void headers_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  headers_clear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

inline PyMethodDef headers_methods[] = {
    {"get", as_method(&headers_get), METH_VARARGS | METH_KEYWORDS,
     "get(name, default=None): the first value of the field `name` (case-insensitive), or default."},
    {"getall", &headers_getall, METH_O, "getall(name): every value of the field `name` (case-insensitive), in order."},
    {nullptr, nullptr, 0, nullptr},
};

inline PyType_Slot headers_slots[] = {
    {Py_tp_doc, const_cast<char*>("The request's header fields: a sequence of (name, value) str pairs in arrival order "
                                  "(names lower-case) with case-insensitive get() and getall().")},
    {Py_tp_dealloc, reinterpret_cast<void*>(&headers_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(&headers_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(&headers_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(&headers_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(&headers_iter)},
    {Py_tp_methods, headers_methods},
    {Py_sq_length, reinterpret_cast<void*>(&headers_length)},
    {Py_sq_item, reinterpret_cast<void*>(&headers_item)},
    {0, nullptr},
};

inline PyType_Spec headers_spec = {
    "fastrt.Headers", sizeof(headers_object), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    headers_slots};

// ---- Request ---------------------------------------------------------------

enum request_field : int {
  field_method,
  field_path,
  field_query,
  field_headers,
  field_body,
  field_raw_path,
  field_scheme,
  field_authority,
  field_client,
  field_server,
  field_count
};

// (host, port), or None for an endpoint without an address.
inline PyObject* endpoint_tuple(const endpoint& e) {
  if (e.host.empty()) return Py_NewRef(Py_None);
  // (No "s#": CPython 3.12 wants PY_SSIZE_T_CLEAN for '#' formats.)
  PyObject* host = PyUnicode_FromStringAndSize(e.host.data(), static_cast<Py_ssize_t>(e.host.size()));
  if (!host) return nullptr;
  return Py_BuildValue("(Ni)", host, static_cast<int>(e.port));  // N: the tuple takes `host`
}

// :authority; an HTTP/1.1-style host field when there is none (RFC 9113
// §8.3.1 lets a client send either).
inline std::string_view authority_of(const request& r) {
  if (!r.authority.empty()) return r.authority;
  for (const auto& [name, value] : r.headers)
    if (name == "host") return value;
  return {};
}

struct request_object {
  PyObject_HEAD
  const request* source;            // the C++ request while the app call runs, then null
  PyObject* fields[field_count];    // made on first read (or when the object escapes)
  PyObject* input;                  // the body as a file (body_input.hpp): streamed, or made on first read()
};

inline request_object* as_request(PyObject* self) noexcept { return reinterpret_cast<request_object*>(self); }

inline PyObject* make_field(request_object* self, int field) {
  if (field == field_body && self->input) return PyObject_CallMethod(self->input, "read", nullptr);  // the rest
  const request& r = *self->source;
  switch (field) {
    case field_method: return latin1(r.method);
    case field_path: return latin1(r.path);
    case field_query: return latin1(r.query);
    case field_headers: return new_headers(state_of(Py_TYPE(self))->headers_type, r.headers);
    case field_raw_path: return PyBytes_FromStringAndSize(r.path.data(), static_cast<Py_ssize_t>(r.path.size()));
    case field_scheme: return latin1(r.scheme);
    case field_authority: return latin1(authority_of(r));
    case field_client: return endpoint_tuple(r.client);
    case field_server: return endpoint_tuple(r.server);
    default: return PyBytes_FromStringAndSize(r.body.data(), static_cast<Py_ssize_t>(r.body.size()));
  }
}

// The field's object (a borrowed reference), made now if needed.
inline PyObject* request_field_of(request_object* self, int field) {
  if (!self->fields[field]) {
    if (!self->source && !(field == field_body && self->input)) {
      // Only after making the fields failed when the object escaped.
      PyErr_SetString(PyExc_RuntimeError, "this request's data is no longer available");
      return nullptr;
    }
    PyObject* made = make_field(self, field);
    if (!made) return nullptr;
    // Making it may have run Python code (a garbage collection running
    // finalizers) that read the same field meanwhile: keep the first.
    if (self->fields[field]) Py_DECREF(made);
    else self->fields[field] = made;
  }
  return self->fields[field];
}

inline PyObject* request_get(PyObject* self, void* closure) {
  PyObject* field = request_field_of(as_request(self), static_cast<int>(reinterpret_cast<std::intptr_t>(closure)));
  return field ? Py_NewRef(field) : nullptr;
}

inline PyObject* request_repr(PyObject* self) {
  PyObject* method = request_field_of(as_request(self), field_method);
  PyObject* path = method ? request_field_of(as_request(self), field_path) : nullptr;
  PyObject* query = path ? request_field_of(as_request(self), field_query) : nullptr;
  if (!query) return nullptr;
  if (PyUnicode_GET_LENGTH(query) == 0) return PyUnicode_FromFormat("<fastrt.Request %U %U>", method, path);
  return PyUnicode_FromFormat("<fastrt.Request %U %U?%U>", method, path, query);
}

inline int request_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  for (PyObject* field : as_request(self)->fields) Py_VISIT(field);
  Py_VISIT(as_request(self)->input);
  return 0;
}

inline int request_clear(PyObject* self) {
  for (PyObject*& field : as_request(self)->fields) Py_CLEAR(field);
  Py_CLEAR(as_request(self)->input);
  return 0;
}

// The body as a file: the streamed one, else a BodyInput over the whole
// body (made on first use). Borrowed; null with an exception set.
inline PyObject* request_input(request_object* self) {
  if (!self->input) {
    PyObject* body = request_field_of(self, field_body);
    if (!body) return nullptr;
    PyObject* made = PyObject_CallMethod(state_of(Py_TYPE(self))->body_input, "whole", "O", body);
    if (!made) return nullptr;
    if (self->input) Py_DECREF(made);  // (made meanwhile by code the call ran)
    else self->input = made;
  }
  return self->input;
}

inline PyObject* request_read(PyObject* self, PyObject* args) {
  Py_ssize_t size = -1;
  if (!PyArg_ParseTuple(args, "|n:read", &size)) return nullptr;
  PyObject* input = request_input(as_request(self));
  return input ? PyObject_CallMethod(input, "read", "n", size) : nullptr;
}

inline PyObject* request_chunks(PyObject* self, PyObject*) {
  PyObject* input = request_input(as_request(self));
  return input ? PyObject_CallMethod(input, "chunks", nullptr) : nullptr;
}

inline PyObject* request_stream(PyObject* self, PyObject*) {
  PyObject* input = request_input(as_request(self));
  return input ? PyObject_CallMethod(input, "stream", nullptr) : nullptr;
}

inline PyMethodDef request_methods[] = {
    {"read", &request_read, METH_VARARGS,
     "read(size=-1): up to size more bytes of the body (all the rest by default), b'' at the end; on a streamed "
     "route it waits for them to arrive."},
    {"chunks", &request_chunks, METH_NOARGS, "chunks(): an iterator over the body's pieces as they arrive."},
    {"stream", &request_stream, METH_NOARGS,
     "stream(): an async iterator over the body's pieces as they arrive (async for; does not block the event loop)."},
    {nullptr, nullptr, 0, nullptr},
};

inline void request_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  request_clear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

inline void* field_closure(int field) noexcept { return reinterpret_cast<void*>(static_cast<std::intptr_t>(field)); }

inline PyGetSetDef request_getset[] = {
    {"method", &request_get, nullptr, "The request method (str).", field_closure(field_method)},
    {"path", &request_get, nullptr, "The path without the query (str).", field_closure(field_path)},
    {"query", &request_get, nullptr, "The query after '?' (str, empty when there is none).", field_closure(field_query)},
    {"headers", &request_get, nullptr, "The header fields (fastrt.Headers).", field_closure(field_headers)},
    {"body", &request_get, nullptr, "The request body (bytes).", field_closure(field_body)},
    {"raw_path", &request_get, nullptr, "The path as sent, without the query (bytes).", field_closure(field_raw_path)},
    {"scheme", &request_get, nullptr, "The URL scheme (str): 'http', or 'https' over TLS.", field_closure(field_scheme)},
    {"authority", &request_get, nullptr, "The :authority (or host field) the client asked for (str, may be empty).",
     field_closure(field_authority)},
    {"host", &request_get, nullptr, "The same as authority (str).", field_closure(field_authority)},
    {"client", &request_get, nullptr, "The client's (address, port), or None when unknown.", field_closure(field_client)},
    {"server", &request_get, nullptr, "The server's (address, port) the client reached, or None when unknown.",
     field_closure(field_server)},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

inline PyType_Slot request_slots[] = {
    {Py_tp_doc, const_cast<char*>("An HTTP request, created by the server for app(request).")},
    {Py_tp_dealloc, reinterpret_cast<void*>(&request_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(&request_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(&request_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(&request_repr)},
    {Py_tp_getset, request_getset},
    {Py_tp_methods, request_methods},
    {0, nullptr},
};

inline PyType_Spec request_spec = {
    "fastrt.Request", sizeof(request_object), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    request_slots};

// A Request over `req`, which must stay alive until release_request().
// `type` is this interpreter's fastrt.Request. `streamed_body`: a streamed
// body's BodyInput (body_input.hpp; a new reference, taken over), or null.
// Null with an exception set on failure.
inline PyObject* new_request(PyTypeObject* type, const request& req, PyObject* streamed_body = nullptr) {
  auto* self = reinterpret_cast<request_object*>(type->tp_alloc(type, 0));  // zero-filled, GC-tracked
  if (!self) {
    Py_XDECREF(streamed_body);
    return nullptr;
  }
  self->source = &req;
  self->input = streamed_body;
  return reinterpret_cast<PyObject*>(self);
}

// Drops the server's reference once the app call is over. If anything else
// still refers to the Request, its fields are made first and it stops
// pointing at the C++ request. false, with an exception set, when making
// them failed (the Request then raises RuntimeError on those fields).
inline bool release_request(PyObject* object) {
  request_object* self = as_request(object);
  bool ok = true;
  if (Py_REFCNT(object) > 1) {
    for (int field = 0; ok && field < field_count; ++field) {
      // A streamed body stays readable without the C++ request (its input
      // holds the channel): not read here.
      if (field == field_body && self->input) continue;
      ok = request_field_of(self, field) != nullptr;
    }
  }
  self->source = nullptr;
  Py_DECREF(object);
  return ok;
}

}  // namespace fastrt::http2::python
