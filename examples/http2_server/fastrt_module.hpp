// fastrt_module.hpp — the `fastrt` module built into every interpreter of
// fastrt-h2 (registered with runtime_options::builtins):
//
//   import fastrt
//   fastrt.Request   the request app(request) receives (py_request.hpp)
//   fastrt.Headers   request.headers (py_request.hpp)
//   fastrt.Response  what app may return, also for streamed bodies (py_response.hpp)
//
// Multi-phase init (PEP 489) with Py_mod_multiple_interpreters =
// Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: every interpreter that imports it
// runs module_exec on its own module object, which creates its own heap
// types (PyType_FromModuleAndSpec) and keeps them in the module state. There
// is no static PyObject*, so nothing is shared between interpreters whose
// GILs run in parallel. Py_mod_gil is not declared: the Request's lazy
// fields rely on a GIL (see py_request.hpp), so a free-threaded build keeps
// one while this module is imported.
//
// The server finds the types through the "fastrt:Request" handler, which the
// executor resolves in each interpreter at start (request_state()).
#pragma once

#include <Python.h>

#include "py_common.hpp"
#include "py_request.hpp"
#include "py_response.hpp"

namespace fastrt_h2::pymod {

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
  return 0;
}

inline int module_traverse(PyObject* module, visitproc visit, void* arg) {
  if (module_state* st = module_state_of(module)) {
    Py_VISIT(st->request_type);
    Py_VISIT(st->headers_type);
    Py_VISIT(st->response_type);
  }
  return 0;
}

inline int module_clear(PyObject* module) {
  if (module_state* st = module_state_of(module)) {
    Py_CLEAR(st->request_type);
    Py_CLEAR(st->headers_type);
    Py_CLEAR(st->response_type);
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
    "fastrt-h2's request and response types: Request, Headers, Response.",
    sizeof(module_state),
    nullptr,
    module_slots,
    &module_traverse,
    &module_clear,
    &module_free,
};

// For runtime_options::builtins: {"fastrt", &fastrt_h2::pymod::init}.
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

}  // namespace fastrt_h2::pymod
