// tests/support/python.hpp — one CPython runtime per test process, with
// tests/python on sys.path and two built-in modules the tests import:
//   _fastrt_test_native  multi-phase init, per-interpreter-GIL safe
//   _fastrt_test_legacy  multi-phase init declaring
//                        Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED: it imports
//                        in the main interpreter only, like numpy or any
//                        single-phase-init extension.
// The runtime is finalized when the process exits; a failing Py_FinalizeEx
// makes the process exit with status 3, so ctest sees it.
#pragma once

#include <Python.h>

#include <cstdio>
#include <cstdlib>
#include <fastrt/python/runtime.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

namespace fastrt::test {

namespace python_modules {

inline PyObject* answer(PyObject*, PyObject*) { return PyLong_FromLong(42); }
inline PyObject* interpreter_id(PyObject*, PyObject*) {
  return PyLong_FromLongLong(PyInterpreterState_GetID(PyInterpreterState_Get()));
}

inline PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, nullptr},
    {"interpreter_id", interpreter_id, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

inline PyModuleDef_Slot native_slots[] = {
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, nullptr},
};
inline PyModuleDef_Slot legacy_slots[] = {
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
    {0, nullptr},
};

inline PyModuleDef native_def = {PyModuleDef_HEAD_INIT, "_fastrt_test_native", nullptr, 0, methods,
                                 native_slots, nullptr, nullptr, nullptr};
inline PyModuleDef legacy_def = {PyModuleDef_HEAD_INIT, "_fastrt_test_legacy", nullptr, 0, methods,
                                 legacy_slots, nullptr, nullptr, nullptr};

inline PyObject* init_native() { return PyModuleDef_Init(&native_def); }
inline PyObject* init_legacy() { return PyModuleDef_Init(&legacy_def); }

}  // namespace python_modules

struct python_holder {
  std::unique_ptr<fastrt::python::runtime> runtime;
  ~python_holder() {
    if (runtime && !runtime->reset()) {
      std::fputs("fastrt test: Py_FinalizeEx failed\n", stderr);
      std::_Exit(3);
    }
  }
};

// More built-in modules for this test binary (e.g. fastrt-h2's `fastrt`):
// add them before the runtime starts, i.e. before the first python_runtime()
// or start_executor().
inline std::vector<fastrt::python::builtin_module>& extra_builtins() {
  static std::vector<fastrt::python::builtin_module> modules;
  return modules;
}

// Starts the runtime on first use (call it from the main thread first).
inline fastrt::python::runtime& python_runtime() {
  static python_holder holder;
  if (!holder.runtime) {
    fastrt::python::runtime_options options;
    options.path = {FASTRT_TEST_PYTHON_DIR};
    options.builtins = {{"_fastrt_test_native", &python_modules::init_native},
                        {"_fastrt_test_legacy", &python_modules::init_legacy}};
    options.builtins.insert(options.builtins.end(), extra_builtins().begin(), extra_builtins().end());
    auto started = fastrt::python::runtime::start(std::move(options));
    if (!started) {
      started.error().print(stderr, "fastrt test: python runtime");
      std::abort();
    }
    holder.runtime = std::move(started).value();
  }
  return *holder.runtime;
}

// Starts an executor on the shared test runtime; a start failure fails the test.
inline std::unique_ptr<fastrt::python::subinterpreter_executor> start_executor(fastrt::python::executor_options options) {
  python_runtime();
  auto exec = fastrt::python::subinterpreter_executor::start(std::move(options));
  if (!exec) FAIL(std::string(exec.error().message()));
  return std::move(exec).value();
}

// Blocks until a future completes and returns its result.
template <class Future>
auto wait(Future&& f) {
  return fastrt::sync_wait(std::move(f));
}

}  // namespace fastrt::test
