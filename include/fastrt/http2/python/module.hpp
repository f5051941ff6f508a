// module.hpp — the `fastrt` module built into every interpreter that runs
// a Python app (registered with runtime_options::builtins):
//
//   import fastrt
//   fastrt.Request   the request app(request) receives (request_object.hpp)
//   fastrt.Headers   request.headers (request_object.hpp)
//   fastrt.Response  what app may return, also for streamed bodies (response_object.hpp)
//
// Multi-phase init (PEP 489) with Py_mod_multiple_interpreters =
// Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: every interpreter that imports it
// runs module_exec on its own module object, which creates its own heap
// types (PyType_FromModuleAndSpec) and keeps them in the module state. There
// is no static PyObject*, so nothing is shared between interpreters whose
// GILs run in parallel. Py_mod_gil is not declared: the Request's lazy
// fields rely on a GIL (see request_object.hpp), so a free-threaded build keeps
// one while this module is imported.
//
// The server finds the types through the "fastrt:Request" handler, which the
// executor resolves in each interpreter at start (request_state()).
//
// Thread-safety: module_exec and request_state run with the GIL of the
// interpreter concerned; nothing here is shared between interpreters. Cost:
// three heap types per interpreter, made once at import.
//
// Why fastrt/http2/python/ and namespace fastrt::http2::python: the bridge
// turns fastrt::http2's request/response into Python objects and runs them
// on fastrt::python's executor, so it needs both layers; putting it under
// fastrt/python/ would make the Python layer depend on HTTP, and putting it
// directly in fastrt/http2/ would make the HTTP layer depend on Python. As a
// subfolder of http2 it reads as "HTTP/2's Python handler" and the header
// check keeps every other fastrt/http2/ header free of Python.h. A program
// using it links both fastrt::http2 and fastrt::python.
#pragma once

#include <Python.h>

#include <fastrt/http2/python/body_input.hpp>
#include <fastrt/http2/python/common.hpp>
#include <fastrt/http2/python/request_object.hpp>
#include <fastrt/http2/python/response_object.hpp>
#include <fastrt/http2/python/wsgi_body.hpp>
#include <fastrt/http2/python/wsgi_environ.hpp>

namespace fastrt::http2::python {

inline module_state* module_state_of(PyObject* module) noexcept {
  return static_cast<module_state*>(PyModule_GetState(module));
}

inline int module_exec(PyObject* module) {
  module_state* st = module_state_of(module);
  auto add = [module](PyType_Spec& spec, PyTypeObject*& slot) {
    slot = reinterpret_cast<PyTypeObject*>(PyType_FromModuleAndSpec(module, &spec, nullptr));
    return slot && PyModule_AddType(module, slot) == 0;  // AddType takes its own reference
  };
  if (!add(headers_spec, st->headers_type) || !add(request_spec, st->request_type) ||
      !add(response_spec, st->response_type)) {
    return -1;  // the module is discarded; module_clear drops what was made
  }
  // For WSGI apps (wsgi.hpp): looked up once per interpreter, not per request.
  PyObject* io = PyImport_ImportModule("io");
  if (!io) return -1;
  st->bytes_io = PyObject_GetAttrString(io, "BytesIO");
  Py_DECREF(io);
  if (!st->bytes_io || !wsgi::make_environ_constants(*st)) return -1;
  st->wsgi_body = wsgi::load_body_function();
  if (!st->wsgi_body) return -1;
  st->body_input = load_body_input_class();
  return st->body_input ? 0 : -1;
}

inline int module_traverse(PyObject* module, visitproc visit, void* arg) {
  if (module_state* st = module_state_of(module)) {
    Py_VISIT(st->request_type);
    Py_VISIT(st->headers_type);
    Py_VISIT(st->response_type);
    Py_VISIT(st->bytes_io);
    Py_VISIT(st->wsgi_body);
    Py_VISIT(st->asgi_glue);
    Py_VISIT(st->asgi_channel);
    Py_VISIT(st->asgi_begin);
    Py_VISIT(st->asgi_scope_keys);
    Py_VISIT(st->asgi_scope_constants);
    Py_VISIT(st->asgi_versions);
    Py_VISIT(st->body_input);
    Py_VISIT(st->wsgi_keys);
    Py_VISIT(st->wsgi_constants);
  }
  return 0;
}

inline int module_clear(PyObject* module) {
  if (module_state* st = module_state_of(module)) {
    Py_CLEAR(st->request_type);
    Py_CLEAR(st->headers_type);
    Py_CLEAR(st->response_type);
    Py_CLEAR(st->bytes_io);
    Py_CLEAR(st->wsgi_body);
    Py_CLEAR(st->asgi_glue);
    Py_CLEAR(st->asgi_channel);
    Py_CLEAR(st->asgi_begin);
    Py_CLEAR(st->asgi_scope_keys);
    Py_CLEAR(st->asgi_scope_constants);
    Py_CLEAR(st->asgi_versions);
    Py_CLEAR(st->body_input);
    Py_CLEAR(st->wsgi_keys);
    Py_CLEAR(st->wsgi_constants);
  }
  return 0;
}

inline void module_free(void* module) { module_clear(static_cast<PyObject*>(module)); }

inline PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, reinterpret_cast<void*>(&module_exec)},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, nullptr},
};

inline PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "fastrt",
    "fastrt's HTTP request and response types: Request, Headers, Response.",
    sizeof(module_state),
    nullptr,
    module_slots,
    &module_traverse,
    &module_clear,
    &module_free,
};

// For runtime_options::builtins: {"fastrt", &fastrt::http2::python::init}.
inline PyObject* init() { return PyModuleDef_Init(&module_def); }

// With the GIL held: the state of this interpreter's fastrt module when
// `object` is its Request type (what the "fastrt:Request" handler resolves
// to), else null (no exception left set).
inline module_state* request_state(PyObject* object) {
  if (!PyType_Check(object)) return nullptr;
  PyObject* module = PyType_GetModuleByDef(reinterpret_cast<PyTypeObject*>(object), &module_def);  // borrowed
  if (!module) {
    PyErr_Clear();
    return nullptr;
  }
  module_state* st = module_state_of(module);
  return st && reinterpret_cast<PyObject*>(st->request_type) == object ? st : nullptr;
}

}  // namespace fastrt::http2::python
