// fastrt/python/runtime.hpp — the process-wide CPython runtime: initializes
// the main interpreter and finalizes it again.
//
//   fastrt::python::runtime_options options;
//   options.path = {"/srv/app"};                       // prepended to sys.path everywhere
//   options.builtins = {{"_native", &PyInit__native}}; // multi-phase init modules
//   auto rt = fastrt::python::runtime::start(std::move(options));  // result<unique_ptr<runtime>>
//   ...                                                // interpreters, executors
//   rt->reset();                                       // Py_FinalizeEx
//
// The configuration is isolated by default (PyConfig_InitIsolatedConfig: no
// environment variables, no user site-packages, no signal handlers), so the
// host process decides what Python sees. PYTHONHOME is derived from where
// libpython was loaded from, not from PATH: an embedded 3.13 must not pick up
// a system 3.11 standard library because `python3` on PATH is that one.
//
// Built-in modules are registered with PyImport_AppendInittab before
// initialization; every interpreter (main and sub) can then import them. To be
// importable in an own-GIL subinterpreter they must use multi-phase init and
// declare Py_mod_multiple_interpreters = Py_MOD_PER_INTERPRETER_GIL_SUPPORTED
// (and, for free-threaded builds, Py_mod_gil = Py_MOD_GIL_NOT_USED).
//
// Thread-safety: one runtime per process, ever (CPython cannot be initialized
// again reliably after finalizing with subinterpreters and extension modules).
// start() and the destructor run on the same thread, with no interpreter
// attached to it; every interpreter and executor must be gone before the
// destructor. After start() the main interpreter is detached (its GIL free):
// attach to it through fastrt::python::interpreter::main().
//
// Cost: start() is Python's own start-up (~10-20 ms); nothing here is on a
// hot path.
#pragma once

#include <Python.h>
#include <dlfcn.h>

#include <atomic>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../result.hpp"

#if PY_VERSION_HEX < 0x030C0000
#error "fastrt::python needs CPython 3.12 or newer (own-GIL subinterpreters, PEP 684)"
#endif

namespace fastrt::python {

namespace detail {
// The thread state attached to this thread, or null (never fails).
inline PyThreadState* attached_thread_state() noexcept {
#if PY_VERSION_HEX >= 0x030D0000
  return PyThreadState_GetUnchecked();
#else
  return _PyThreadState_UncheckedGet();
#endif
}
}  // namespace detail

// A module compiled into the host. `name` must outlive the process (a
// string literal): CPython keeps the pointer.
struct builtin_module {
  const char* name;
  PyObject* (*init)();
};

struct runtime_options {
  // Prepended to sys.path in the main interpreter and in every
  // subinterpreter created afterwards (in this order).
  std::vector<std::string> path;
  std::vector<builtin_module> builtins;
  // false: PyConfig_InitPythonConfig (honours PYTHONPATH and friends).
  bool isolated = true;
  // true: sys.stdout and sys.stderr write through at once in every
  // interpreter (python3 -u, PYTHONUNBUFFERED=1): print() reaches a pipe or
  // a file as it happens, not at exit. Default: Python's own choice
  // (block-buffered unless a terminal, or as PYTHONUNBUFFERED says).
  bool unbuffered_stdio = false;
  // PYTHONHOME; empty: the prefix of the loaded libpython.
  std::string home;
};

class runtime {
 public:
  // Initializes the main interpreter. Fails when a runtime was started
  // before in this process or when CPython reports an error.
  static result<std::unique_ptr<runtime>> start(runtime_options options) {
    if (started().exchange(true)) {
      return error(std::errc::operation_not_permitted,
                   "fastrt::python::runtime::start: CPython runs once per process (already started)");
    }
    for (const builtin_module& m : options.builtins) {
      if (PyImport_AppendInittab(m.name, m.init) != 0) {
        return error(std::errc::not_enough_memory, "PyImport_AppendInittab failed");
      }
    }

    PyConfig config;
    if (options.isolated) PyConfig_InitIsolatedConfig(&config);
    else PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  // the host owns the signals
    config.configure_c_stdio = 0;        // and the C stdio buffering (the isolated default)
    if (options.unbuffered_stdio) config.buffered_stdio = 0;  // subinterpreters copy it
    std::string home = options.home.empty() ? libpython_prefix() : options.home;
    PyStatus status = PyStatus_Ok();
    if (!home.empty()) status = PyConfig_SetBytesString(&config, &config.home, home.c_str());
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
      std::string text = "Python initialization failed: ";
      text += status.err_msg ? status.err_msg : "(no message)";
      if (status.func) (text += " in ") += status.func;
      return error(std::errc::io_error, text);
    }

    std::unique_ptr<runtime> rt(new runtime(std::move(options)));
    if (auto added = rt->prepend_sys_path(); !added) {
      Py_FinalizeEx();
      return std::move(added).error();
    }
    // threading takes the thread that imports it for the main thread; at
    // Py_FinalizeEx it asserts that thread's state is still alive. Import it
    // here so that it is this thread (which finalizes), not a worker whose
    // thread state is deleted earlier.
    PyObject* threading = PyImport_ImportModule("threading");
    if (!threading) {
      PyErr_Clear();
      Py_FinalizeEx();
      return error(std::errc::io_error, "Python initialization failed: cannot import threading");
    }
    Py_DECREF(threading);
#if PY_VERSION_HEX < 0x030D0000
    // CPython 3.12 (seen on 3.12.1): when a subinterpreter is the first to
    // import the _asyncio C module (asyncio and ssl import it), Py_FinalizeEx
    // later aborts with "free(): invalid pointer" on a tuple of that
    // subinterpreter left in the main interpreter's free list. Importing it
    // here first avoids that; tests/python/repro/py312_asyncio_subinterpreter_crash.c
    // reproduces the bug without fastrt. Costs ~1 ms at start.
    if (PyObject* asyncio_c = PyImport_ImportModule("_asyncio")) Py_DECREF(asyncio_c);
    else PyErr_Clear();  // a build without _asyncio cannot hit the bug either
#endif
    // CPython 3.13's _datetime (imported by datetime, email, sqlite3,
    // zoneinfo) keeps static types shared by every interpreter: the first
    // interpreter to import it allocates their tp_bases/tp_mro tuples, and
    // the last one to finalize it frees them into its own tuple free list.
    // Two different own-GIL subinterpreters then means one interpreter's
    // allocator frees the other's memory in Py_EndInterpreter (abort:
    // "free(): invalid pointer"). Imported here, the main interpreter is
    // both the first and, at Py_FinalizeEx, the last. Harmless on 3.12
    // (single-phase _datetime); costs ~1 ms. tests/python_shared_module_shutdown_test.cpp.
    if (PyObject* datetime_c = PyImport_ImportModule("_datetime")) Py_DECREF(datetime_c);
    else PyErr_Clear();  // a build without _datetime cannot hit the bug either
    rt->main_thread_state_ = PyEval_SaveThread();  // free the main GIL for workers
    instance() = rt.get();
    return rt;
  }

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  ~runtime() { (void)reset(); }

  // Finalizes the main interpreter (Py_FinalizeEx). Idempotent. Returns the
  // error Py_FinalizeEx reports (e.g. flushing stdout failed).
  result<void> reset() {
    if (!main_thread_state_) return {};
    PyEval_RestoreThread(std::exchange(main_thread_state_, nullptr));
    instance() = nullptr;
    if (Py_FinalizeEx() != 0) return error(std::errc::io_error, "Py_FinalizeEx reported an error");
    return {};
  }

  // The running runtime, or nullptr.
  static runtime* current() noexcept { return instance(); }

  const runtime_options& options() const noexcept { return options_; }

  // With the GIL of some interpreter held: prepends options().path to that
  // interpreter's sys.path. Called for the main interpreter by start() and
  // by fastrt::python::interpreter for each subinterpreter.
  result<void> prepend_sys_path() const {
    PyObject* sys_path = PySys_GetObject("path");  // borrowed
    if (!sys_path || !PyList_Check(sys_path)) {
      return error(std::errc::io_error, "sys.path is missing or not a list");
    }
    for (std::size_t i = options_.path.size(); i-- > 0;) {
      PyObject* entry = PyUnicode_DecodeFSDefault(options_.path[i].c_str());
      if (!entry || PyList_Insert(sys_path, 0, entry) != 0) {
        Py_XDECREF(entry);
        PyErr_Clear();
        return error(std::errc::not_enough_memory, "could not extend sys.path");
      }
      Py_DECREF(entry);
    }
    return {};
  }

 private:
  explicit runtime(runtime_options options) : options_(std::move(options)) {}

  static std::atomic<bool>& started() noexcept {
    static std::atomic<bool> flag{false};
    return flag;
  }
  static runtime*& instance() noexcept {
    static runtime* current = nullptr;
    return current;
  }

  // "<prefix>" for "<prefix>/lib/libpython3.X.so", when <prefix>/lib/python3.X
  // exists; empty otherwise (CPython's own search then applies).
  static std::string libpython_prefix() {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(&Py_InitializeFromConfig), &info) || !info.dli_fname) return {};
    std::string lib = info.dli_fname;
    const auto slash = lib.rfind('/');
    if (slash == std::string::npos) return {};
    std::string lib_dir = lib.substr(0, slash);
    const auto parent = lib_dir.rfind('/');
    if (parent == std::string::npos) return {};
    std::string prefix = lib_dir.substr(0, parent);
    std::string stdlib = lib_dir + "/python" + std::to_string(PY_MAJOR_VERSION) + "." +
                         std::to_string(PY_MINOR_VERSION) + "/os.py";
    struct stat st{};
    if (::stat(stdlib.c_str(), &st) != 0) return {};
    return prefix.empty() ? std::string("/") : prefix;
  }

  runtime_options options_;
  PyThreadState* main_thread_state_ = nullptr;
};

}  // namespace fastrt::python
