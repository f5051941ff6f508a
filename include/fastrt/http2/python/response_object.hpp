// response_object.hpp — fastrt.Response, what an app may return instead of
// bytes / str / (status, headers, body):
//
//   fastrt.Response(body=b"", status=200, headers=None, content_type=None)
//
//   body          bytes, str (sent UTF-8 encoded), bytearray or another
//                 buffer (copied), None (empty); or any other iterable of
//                 bytes / str pieces — a list, an iterator, a generator —
//                 which is streamed: the server pulls one piece at a time
//                 when the client can take more.
//   status        int, 200..599
//   headers       None, a mapping or an iterable of (name, value) pairs;
//                 str or bytes each. Names are lower-cased and must be
//                 tokens; values may hold no control character but HTAB
//                 and no leading or trailing whitespace; a content-length
//                 must be a number (header_problem in common.hpp).
//   content_type  str: adds a content-type field (not also in headers).
//
// Everything is checked here, so a mistake raises TypeError / ValueError in
// the app, with the line that made it, rather than a 500 later. The
// attributes .status (int), .headers (tuple of (name, value)) and .body
// (bytes, or the iterable as given) are read-only. Not subclassable: the
// server reads the fields directly.
//
// Thread-safety: with the GIL of the interpreter that made the object. Cost:
// the body is copied once into bytes when made (an iterable is not read).
#pragma once

#include <Python.h>

#include <string>
#include <string_view>

#include <fastrt/http2/python/common.hpp>

namespace fastrt::http2::python {

struct response_object {
  PyObject_HEAD
  PyObject* status;   // int
  PyObject* headers;  // tuple of (str name, str | bytes value)
  PyObject* body;     // bytes, or an iterable to stream
};

inline response_object* as_response(PyObject* self) noexcept { return reinterpret_cast<response_object*>(self); }

// (name, value) with the name lower-cased, after header_problem(); null with
// TypeError / ValueError set otherwise.
inline PyObject* checked_header(PyObject* name, PyObject* value) {
  std::string_view name_octets, value_octets;
  if (!octets_of(name, name_octets, "a header name") || !octets_of(value, value_octets, "a header value")) return nullptr;
  std::string lower(name_octets);
  lower_ascii(lower);
  if (const char* problem = header_problem(lower, value_octets)) {
    PyErr_Format(PyExc_ValueError, "header %R: %s", name, problem);
    return nullptr;
  }
  return Py_BuildValue("(NO)", PyUnicode_FromStringAndSize(lower.data(), static_cast<Py_ssize_t>(lower.size())), value);
}

// The headers argument as a tuple of checked pairs, plus content_type.
inline PyObject* checked_headers(PyObject* headers, PyObject* content_type) {
  PyObject* out = PyList_New(0);
  if (!out) return nullptr;
  auto fail = [&] {
    Py_DECREF(out);
    return nullptr;
  };
  if (headers != Py_None) {
    PyObject* pairs = PyMapping_Check(headers) && !PySequence_Check(headers) ? PyMapping_Items(headers)
                                                                            : PyObject_GetIter(headers);
    if (!pairs) {
      PyErr_Format(PyExc_TypeError, "headers must be a mapping or an iterable of (name, value) pairs, not %.100s",
                   Py_TYPE(headers)->tp_name);
      return fail();
    }
    PyObject* items = PySequence_Fast(pairs, "headers must be iterable");
    Py_DECREF(pairs);
    if (!items) return fail();
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(items); ++i) {
      PyObject* pair = PySequence_Fast_GET_ITEM(items, i);
      if (!(PyTuple_Check(pair) || PyList_Check(pair)) || PySequence_Fast_GET_SIZE(pair) != 2) {
        PyErr_Format(PyExc_TypeError, "headers must be (name, value) pairs, got %R", pair);
        Py_DECREF(items);
        return fail();
      }
      PyObject* checked = checked_header(PySequence_Fast_GET_ITEM(pair, 0), PySequence_Fast_GET_ITEM(pair, 1));
      const bool added = checked && PyList_Append(out, checked) == 0;
      Py_XDECREF(checked);
      if (!added) {
        Py_DECREF(items);
        return fail();
      }
    }
    Py_DECREF(items);
  }
  if (content_type != Py_None) {
    if (!PyUnicode_Check(content_type)) {
      PyErr_Format(PyExc_TypeError, "content_type must be str, not %.100s", Py_TYPE(content_type)->tp_name);
      return fail();
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(out); ++i) {
      if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(PyList_GET_ITEM(out, i), 0), "content-type") == 0) {
        PyErr_SetString(PyExc_ValueError, "content_type is given and headers have a content-type field too");
        return fail();
      }
    }
    PyObject* name = PyUnicode_FromString("content-type");
    PyObject* checked = name ? checked_header(name, content_type) : nullptr;
    Py_XDECREF(name);
    const bool added = checked && PyList_Append(out, checked) == 0;
    Py_XDECREF(checked);
    if (!added) return fail();
  }
  PyObject* tuple = PyList_AsTuple(out);
  Py_DECREF(out);
  return tuple;
}

// bytes for str / buffers / None; the object itself when it is an iterable
// to stream; null with TypeError set otherwise.
inline PyObject* checked_body(PyObject* body) {
  if (body == Py_None) return PyBytes_FromStringAndSize(nullptr, 0);
  if (PyBytes_Check(body)) return Py_NewRef(body);
  if (PyUnicode_Check(body)) return PyUnicode_AsUTF8String(body);
  if (PyObject_CheckBuffer(body)) return PyBytes_FromObject(body);  // bytearray, memoryview, ...: a snapshot
  if (Py_TYPE(body)->tp_iter || PySequence_Check(body)) return Py_NewRef(body);
  PyErr_Format(PyExc_TypeError,
               "body must be bytes, str, bytearray or an iterable of bytes/str pieces, not %.100s",
               Py_TYPE(body)->tp_name);
  return nullptr;
}

inline PyObject* response_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"body", "status", "headers", "content_type", nullptr};
  PyObject* body = Py_None;
  PyObject* status = nullptr;
  PyObject* headers = Py_None;
  PyObject* content_type = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOOO:Response", const_cast<char**>(keywords), &body, &status,
                                   &headers, &content_type)) {
    return nullptr;
  }
  long code = 200;
  if (status) {
    if (!PyLong_Check(status) || PyBool_Check(status)) {
      PyErr_Format(PyExc_TypeError, "status must be an int, not %.100s", Py_TYPE(status)->tp_name);
      return nullptr;
    }
    int overflow = 0;
    code = PyLong_AsLongAndOverflow(status, &overflow);
    if (code == -1 && PyErr_Occurred()) return nullptr;
    if (overflow != 0 || code < 200 || code > 599) {
      PyErr_Format(PyExc_ValueError, "status must be in 200..599, got %R", status);
      return nullptr;
    }
  }
  auto* self = reinterpret_cast<response_object*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  self->status = PyLong_FromLong(code);
  self->headers = self->status ? checked_headers(headers, content_type) : nullptr;
  self->body = self->headers ? checked_body(body) : nullptr;
  if (!self->body) {
    Py_DECREF(self);
    return nullptr;
  }
  return reinterpret_cast<PyObject*>(self);
}

inline PyObject* response_repr(PyObject* self) {
  response_object* r = as_response(self);
  if (PyBytes_Check(r->body)) {
    return PyUnicode_FromFormat("<fastrt.Response %S, %zd header(s), %zd bytes>", r->status,
                                PyTuple_GET_SIZE(r->headers), PyBytes_GET_SIZE(r->body));
  }
  return PyUnicode_FromFormat("<fastrt.Response %S, %zd header(s), streamed from %.100s>", r->status,
                              PyTuple_GET_SIZE(r->headers), Py_TYPE(r->body)->tp_name);
}

inline int response_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(as_response(self)->status);
  Py_VISIT(as_response(self)->headers);
  Py_VISIT(as_response(self)->body);  // a generator may refer back to the response
  return 0;
}

inline int response_clear(PyObject* self) {
  Py_CLEAR(as_response(self)->status);
  Py_CLEAR(as_response(self)->headers);
  Py_CLEAR(as_response(self)->body);
  return 0;
}

inline void response_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  response_clear(self);
  type->tp_free(self);
  Py_DECREF(type);
}

inline PyMemberDef response_members[] = {
    {"status", Py_T_OBJECT_EX, offsetof(response_object, status), Py_READONLY, "The status code (int)."},
    {"headers", Py_T_OBJECT_EX, offsetof(response_object, headers), Py_READONLY,
     "The header fields: a tuple of (name, value), names lower-case."},
    {"body", Py_T_OBJECT_EX, offsetof(response_object, body), Py_READONLY,
     "The body: bytes, or the iterable of pieces that is streamed."},
    {nullptr, 0, 0, 0, nullptr},
};

inline PyType_Slot response_slots[] = {
    {Py_tp_doc, const_cast<char*>("Response(body=b'', status=200, headers=None, content_type=None)\n\n"
                                  "What app(request) may return. body: bytes, str, bytearray, or an iterable of "
                                  "bytes/str pieces (streamed). headers: a mapping or (name, value) pairs.")},
    {Py_tp_new, reinterpret_cast<void*>(&response_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(&response_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(&response_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(&response_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(&response_repr)},
    {Py_tp_members, response_members},
    {0, nullptr},
};

inline PyType_Spec response_spec = {"fastrt.Response", sizeof(response_object), 0,
                                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
                                    response_slots};

}  // namespace fastrt::http2::python
