// fastrt/python/interpreter.hpp — one CPython interpreter and the thread
// states that threads use to run in it.
//
//   auto sub = fastrt::python::interpreter::create();    // own-GIL subinterpreter
//   {
//     auto attached = (*sub)->attach();                  // this thread now holds its GIL
//     PyRun_SimpleString("x = 1");
//   }                                                    // detached again
//   (*sub)->release_thread();                            // this thread's state is deleted
//   (void)(*sub)->end();                                 // Py_EndInterpreter
//
// create() makes an own-GIL subinterpreter (Py_NewInterpreterFromConfig with
// its own object allocator and GIL, no fork/exec, no daemon threads, and
// check_multi_interp_extensions on: single-phase-init extension modules and
// modules that do not declare per-interpreter-GIL support refuse to import,
// with ImportError "... does not support loading in subinterpreters").
// Creations (and ends) are serialized by one process-wide mutex: CPython
// 3.12 has races in concurrent interpreter creation, and it is not a hot path.
// main() is the main interpreter, which is never ended through this class.
//
// A thread runs Python code in an interpreter through a PyThreadState of that
// interpreter. This class creates one per (thread, interpreter) on first use
// and keeps it until that thread calls release_thread(); end() requires every
// other thread to have released its state (CPython aborts with "not the last
// thread" otherwise). PyGILState_* is not used: it supports one interpreter
// per thread only.
//
// Thread-safety: thread_state(), has_thread_state(), attach() and
// release_thread() may be called from any thread, concurrently. attach()
// nests on the same interpreter (an inner attach() while this thread's state
// of that interpreter is current is a no-op); attaching while attached to
// another interpreter is a fatal error (fastrt::detail::fatal), since
// attachments do not nest across interpreters. release_thread() needs a
// thread that is attached to no interpreter.
// create() and end() need a thread that is attached to no interpreter.
// On a free-threaded build (Py_GIL_DISABLED) "holding the GIL" reads
// "attached": several threads may then run in one interpreter at once.
//
// Cost: create() ~1-3 ms and a few MiB; attach/detach = PyEval_RestoreThread
// / PyEval_SaveThread (an uncontended lock each) plus one mutex-protected
// lookup, which callers on a hot path avoid by caching thread_state().
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../detail/fatal.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "exception.hpp"
#include "runtime.hpp"

namespace fastrt::python {

class interpreter {
 public:
  // Creates an own-GIL subinterpreter with runtime options' sys.path entries.
  // Needs a started runtime.
  static result<std::unique_ptr<interpreter>> create() {
    const runtime* rt = runtime::current();
    if (!rt) return error(std::errc::operation_not_permitted, "fastrt::python::interpreter::create: no runtime started");
    if (detail::attached_thread_state() != nullptr) {
      return error(std::errc::operation_not_permitted,
                   "fastrt::python::interpreter::create: the calling thread is attached to an interpreter");
    }
    PyInterpreterConfig config{};
    config.use_main_obmalloc = 0;
    config.allow_fork = 0;
    config.allow_exec = 0;
    config.allow_threads = 1;
    config.allow_daemon_threads = 0;
    config.check_multi_interp_extensions = 1;
    config.gil = PyInterpreterConfig_OWN_GIL;  // ignored (no GIL at all) when Py_GIL_DISABLED

    std::unique_ptr<interpreter> made(new interpreter());
    PyThreadState* state = nullptr;
    PyThreadState* bound_before = PyGILState_GetThisThreadState();  // see unbind_keeper()
    {
      std::lock_guard lock(lifecycle_mutex());
      const PyStatus status = Py_NewInterpreterFromConfig(&state, &config);
      if (PyStatus_Exception(status)) {
        std::string text = "Py_NewInterpreterFromConfig failed: ";
        text += status.err_msg ? status.err_msg : "(no message)";
        return error(std::errc::resource_unavailable_try_again, text);
      }
    }
    // Attached to the new interpreter with its GIL held.
    made->interp_ = PyThreadState_GetInterpreter(state);
    made->id_ = PyInterpreterState_GetID(made->interp_);
    result<void> configured = rt->prepend_sys_path();
    if (configured) configured = import_threading();
    PyEval_SaveThread();
    // The creation state stays alive, unused, until end(): CPython 3.12.1
    // hands an interpreter's built-in first thread state out again when no
    // state is left, and aborts ("init_threadstate: thread state already
    // initialized") because it was not reset when deleted. Keeping this one
    // alive means the interpreter never runs out of states before end().
    // It is also threading's "main thread" here (imported above), and it
    // ends the interpreter: see end().
    made->keeper_ = state;
    unbind_keeper(state, bound_before);
    if (!configured) {
      (void)made->end();
      return std::move(configured).error();
    }
    return made;
  }

  // The main interpreter (process-wide object; needs a started runtime).
  static interpreter& main() {
    static interpreter instance(PyInterpreterState_Main());
    return instance;
  }

  interpreter(const interpreter&) = delete;
  interpreter& operator=(const interpreter&) = delete;
  // Ends a subinterpreter that end() did not end yet (same preconditions).
  ~interpreter() {
    if (interp_ && !is_main_) (void)end();
  }

  bool is_main() const noexcept { return is_main_; }
  std::int64_t id() const noexcept { return id_; }
  PyInterpreterState* get() const noexcept { return interp_; }

  // This thread's state in this interpreter, created on first use. Valid
  // until release_thread() / end() on this thread.
  PyThreadState* thread_state() {
    const std::thread::id self = std::this_thread::get_id();
    std::lock_guard lock(states_mutex_);
    for (const auto& entry : states_) {
      if (entry.thread == self) return entry.state;
    }
    PyThreadState* state = PyThreadState_New(interp_);  // no GIL needed; detached
    states_.push_back({self, state});
    return state;
  }

  // Whether this thread has a state here (created by thread_state() and not
  // yet released). Lets a caller release only a state it created itself.
  bool has_thread_state() {
    const std::thread::id self = std::this_thread::get_id();
    std::lock_guard lock(states_mutex_);
    for (const auto& entry : states_) {
      if (entry.thread == self) return true;
    }
    return false;
  }

  // Holds the interpreter's GIL on this thread for its lifetime. Nesting on
  // the same interpreter is allowed: when `state` is already this thread's
  // current state the attachment is a no-op (it neither attaches nor, on
  // destruction, detaches). Attaching while another thread state is current
  // (another interpreter, or a state this class did not hand out) is misuse:
  // fastrt::detail::fatal, with a message saying so.
  class [[nodiscard]] attachment {
   public:
    explicit attachment(PyThreadState* state) noexcept : state_(state) {
      PyThreadState* current = detail::attached_thread_state();
      if (current == state_) return;  // nested: already attached with this state
      if (current != nullptr) {
        ::fastrt::detail::fatal(
            "fastrt::python::interpreter::attach: the calling thread is attached to another interpreter "
            "(or through another thread state); attachments nest only on the same interpreter");
      }
      PyEval_RestoreThread(state_);
      owns_ = true;
    }
    attachment(const attachment&) = delete;
    attachment& operator=(const attachment&) = delete;
    ~attachment() {
      if (owns_) PyEval_SaveThread();
    }

   private:
    PyThreadState* state_;
    bool owns_ = false;
  };
  attachment attach() { return attachment(thread_state()); }

  // Deletes this thread's state (a no-op if it has none). The thread must
  // not be attached to any interpreter.
  void release_thread() {
    PyThreadState* state = take_state(std::this_thread::get_id());
    if (!state) return;
    PyEval_RestoreThread(state);
    PyThreadState_Clear(state);
    PyThreadState_DeleteCurrent();  // also releases the GIL
  }

  // Py_EndInterpreter on this thread. Fails (and ends nothing) while another
  // thread still has a state here, or for the main interpreter.
  result<void> end() {
    if (is_main_) return error(std::errc::operation_not_permitted, "the main interpreter is finalized by the runtime");
    if (!interp_) return {};
    if (detail::attached_thread_state() != nullptr) {
      return error(std::errc::operation_not_permitted, "interpreter::end: this thread is attached to an interpreter");
    }
    {
      std::lock_guard lock(states_mutex_);
      for (const auto& entry : states_) {
        if (entry.thread != std::this_thread::get_id()) {
          return error(std::errc::device_or_resource_busy,
                       "interpreter::end: another thread still has a thread state in this interpreter");
        }
      }
    }
    // First this thread's own state, cleared while the interpreter's modules
    // are alive (3.13's threading._DeleteDummyThreadOnDel.__del__ runs then
    // and needs them; cleared inside Py_EndInterpreter it prints "Exception
    // ignored"). Then end with the keeper: threading imported itself on it,
    // so its _main_thread lock is still held when threading._shutdown()
    // asserts that (3.12 prints AssertionError and later corrupts the heap
    // when that thread state was deleted first).
    release_thread();
    std::lock_guard lock(lifecycle_mutex());
    PyThreadState* keeper = std::exchange(keeper_, nullptr);
    PyEval_RestoreThread(keeper);
    Py_EndInterpreter(keeper);  // deletes it; no thread state is current afterwards
    interp_ = nullptr;
    return {};
  }

 private:
  interpreter() = default;
  explicit interpreter(PyInterpreterState* main_interp) noexcept
      : interp_(main_interp), id_(PyInterpreterState_GetID(main_interp)), is_main_(true) {}

  PyThreadState* take_state(std::thread::id thread) {
    std::lock_guard lock(states_mutex_);
    for (auto it = states_.begin(); it != states_.end(); ++it) {
      if (it->thread == thread) {
        PyThreadState* state = it->state;
        states_.erase(it);
        return state;
      }
    }
    return nullptr;
  }

  // Attaching a thread state makes it the thread's "gilstate" state (a
  // thread-local pointer in CPython). The keeper is attached at creation, so
  // it stays this thread's gilstate state; ended on another thread (a pooled
  // interpreter created by start() and ended by shutdown() elsewhere), the
  // pointer here would dangle and this thread's next attach writes to freed
  // memory. So re-bind what was bound before (attaching it once), or bind and
  // delete a scratch state, which leaves none bound.
  static void unbind_keeper(PyThreadState* keeper, PyThreadState* bound_before) {
    if (PyGILState_GetThisThreadState() != keeper) return;
    if (bound_before != nullptr && bound_before != keeper) {
      PyEval_RestoreThread(bound_before);
      PyEval_SaveThread();
      return;
    }
    PyThreadState* scratch = PyThreadState_New(PyThreadState_GetInterpreter(keeper));
    PyEval_RestoreThread(scratch);
    PyThreadState_Clear(scratch);
    PyThreadState_DeleteCurrent();  // unbinds it; releases the GIL
  }

  // Makes the creating thread state threading's _main_thread. Imported on
  // whichever thread runs Python first otherwise, whose state may be gone by
  // the time threading._shutdown() runs at the end.
  static result<void> import_threading() {
    PyObject* threading = PyImport_ImportModule("threading");
    if (!threading) return take_exception("importing threading");
    Py_DECREF(threading);
    return {};
  }

  static std::mutex& lifecycle_mutex() noexcept {
    static std::mutex m;
    return m;
  }

  struct thread_entry {
    std::thread::id thread;
    PyThreadState* state;
  };

  PyInterpreterState* interp_ = nullptr;
  PyThreadState* keeper_ = nullptr;  // see create()
  std::int64_t id_ = -1;
  bool is_main_ = false;
  std::mutex states_mutex_;
  std::vector<thread_entry> states_;
};

}  // namespace fastrt::python
