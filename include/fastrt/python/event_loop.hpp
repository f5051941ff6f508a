// fastrt/python/event_loop.hpp — a worker's asyncio event loop: jobs whose
// Python result is awaitable (an `async def` handler's coroutine) run in it
// as Tasks, many at once per worker.
//
//   auto loop = detail::worker_loop::create(ctx, box, host);   // GIL held, on the worker's thread
//   loop->spawn(coro, then, token);    // from a job: a Task; then.resume(...) once it is done
//   loop->run();                       // until the inbox is closed and drained and no task is left
//
// How jobs enter the loop: the loop watches the inbox's eventfd
// (loop.add_reader; loop_wakeup.hpp). Its reader callback reads the fd,
// cancels the tasks whose stop tokens stopped, and lets the worker drain up
// to `batch` jobs (host.drain), which run there and then: a synchronous job
// completes at once, an awaitable one becomes a Task (spawn), started
// eagerly (asyncio.Task(eager_start=True), Python >= 3.12): a coroutine that
// returns without suspending completes its job right there. When a whole
// batch came, the reader runs again after the ready tasks (call_soon), so
// neither side starves; else it announces that the loop sleeps and returns,
// and the selector sleeps (epoll, GIL released) until a producer writes the
// fd — once per batch, never once per job.
//
// How a task ends: its done callback (on the loop's thread) reads the result
// or the exception, counts the task finished in the worker's load and
// resumes the job (which completes its future). A cancelled task fails its
// job with errc::canceled.
//
// Cancellation across threads: a job's stop token gets a stop_callback that
// appends the task's id to a mutex-guarded list and wakes the loop through
// the same eventfd (rare, so no cost on the common path); the reader calls
// task.cancel() for the ids still running. The stop_callback is destroyed
// on the loop's thread when the task is done (std::stop_callback waits for
// a callback running on another thread), so no request outlives its task.
//
// Shutdown: once the inbox is closed the loop runs its queued jobs and
// waits for its tasks; at the shutdown deadline (host.deadline_ns) it
// cancels the tasks still running, which then fail with errc::timed_out
// (host.count_late). It stops when the inbox is closed and empty and no
// task is left, and closes the asyncio loop.
//
// CPython 3.12: only main-interpreter workers run loops (an awaitable on a
// subinterpreter worker fails with operation_not_supported): after a loop
// ran in an own-GIL subinterpreter, 3.12.1's Py_FinalizeEx aborts
// (tests/python/repro/py312_asyncio_loop_crash.c).
//
// Thread-safety: everything on the worker's thread with its interpreter's
// GIL held, except request_cancel (any thread, through the stop callbacks).
// Cost per awaitable job: a Task; if it suspends, a done callback (a builtin
// function and an int) and one map entry; per batch: one reader call; per sleep: one eventfd
// write by a producer and one read.
#pragma once

#include <Python.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../result.hpp"
#include "call_context.hpp"
#include "exception.hpp"
#include "inbox.hpp"
#include "worker_load.hpp"

namespace fastrt::python::detail {

// What the loop asks of its worker.
struct loop_host {
  void* self = nullptr;
  std::size_t batch = 64;
  std::size_t (*drain)(void* self) = nullptr;              // runs up to `batch` queued jobs; how many ran
  std::int64_t (*deadline_ns)(void* self) = nullptr;       // the shutdown deadline (steady clock), or max
  void (*count_late)(void* self) = nullptr;                // a task cancelled by that deadline
};

class worker_loop {
 public:
  // Makes the asyncio loop (asyncio.new_event_loop()) and watches the
  // inbox's eventfd. GIL held, on the worker's thread.
  static result<std::unique_ptr<worker_loop>> create(call_context& ctx, inbox& box, loop_host host) {
#if PY_VERSION_HEX < 0x030D0000
    if (ctx.kind() != worker_kind::main) {
      return error(std::errc::operation_not_supported,
                   "an asyncio event loop in a subinterpreter needs CPython >= 3.13: 3.12 corrupts memory when the "
                   "process exits after one ran (tests/python/repro/py312_asyncio_loop_crash.c); on 3.12, run async "
                   "code on main-interpreter workers");
    }
#endif
    FASTRT_TRY(box.wakeup().open());
    std::unique_ptr<worker_loop> self(new worker_loop(ctx, box, host));
    PyObject* asyncio = PyImport_ImportModule("asyncio");
    if (!asyncio) return take_exception("importing asyncio for the worker's event loop");
    self->loop_ = PyObject_CallMethod(asyncio, "new_event_loop", nullptr);
    if (!self->loop_) {
      Py_DECREF(asyncio);
      return take_exception("asyncio.new_event_loop()");
    }
    self->task_type_ = PyObject_GetAttrString(asyncio, "Task");
    Py_DECREF(asyncio);
    if (!self->task_type_) return take_exception("asyncio.Task");
    self->task_options_ = Py_BuildValue("{s:O,s:O}", "loop", self->loop_, "eager_start", Py_True);
    if (!self->task_options_) return take_exception();
    for (auto [name, text] : {std::pair{&self->name_done_, "done"}, std::pair{&self->name_cancelled_, "cancelled"},
                              std::pair{&self->name_result_, "result"},
                              std::pair{&self->name_add_done_callback_, "add_done_callback"}}) {
      *name = PyUnicode_InternFromString(text);
      if (!*name) return take_exception();
    }
    self->reader_ = PyCFunction_New(&reader_def, nullptr);
    if (!self->reader_) return take_exception();
    PyObject* added = PyObject_CallMethod(self->loop_, "add_reader", "iO", box.wakeup().fd(), self->reader_);
    if (!added) return take_exception("loop.add_reader(the inbox's eventfd)");
    Py_DECREF(added);
    return self;
  }

  worker_loop(const worker_loop&) = delete;
  worker_loop& operator=(const worker_loop&) = delete;
  // GIL held: fails what is left, closes the asyncio loop.
  ~worker_loop() {
    fail_remaining();
    if (loop_) {
      PyObject* removed = PyObject_CallMethod(loop_, "remove_reader", "i", box_.wakeup().fd());
      if (!removed) PyErr_Clear();
      Py_XDECREF(removed);
      PyObject* closed = PyObject_CallMethod(loop_, "close", nullptr);
      if (!closed) PyErr_Clear();
      Py_XDECREF(closed);
    }
    Py_XDECREF(reader_);
    Py_XDECREF(name_add_done_callback_);
    Py_XDECREF(name_result_);
    Py_XDECREF(name_cancelled_);
    Py_XDECREF(name_done_);
    Py_XDECREF(task_options_);
    Py_XDECREF(task_type_);
    Py_XDECREF(loop_);
  }

  // Runs `awaitable` (taken over) as a Task of this loop. A coroutine
  // starts eagerly (asyncio.Task(..., eager_start=True)) while the loop
  // runs: it runs here up to its first suspension, and one that finishes
  // without suspending resumes the job at once, with no loop iteration.
  result<void> spawn(PyObject* awaitable, awaited_call then, std::stop_token token) {
    PyObject* task = nullptr;
    if (PyCoro_CheckExact(awaitable)) {
      PyObject* args = PyTuple_Pack(1, awaitable);
      task = args ? PyObject_Call(task_type_, args, task_options_) : nullptr;
      Py_XDECREF(args);
    } else {
      task = ensure_future(awaitable);
    }
    Py_DECREF(awaitable);
    if (!task) return take_exception("starting the app's coroutine as a task");
    PyObject* done = PyObject_CallMethodNoArgs(task, name_done_);
    const int finished = done ? PyObject_IsTrue(done) : -1;
    Py_XDECREF(done);
    if (finished < 0) PyErr_Clear();
    if (finished > 0) {
      running_task entry(task, then);
      finish(entry);
      return {};
    }
    const std::uint64_t id = ++last_id_;
    PyObject* key = PyLong_FromUnsignedLongLong(id);
    PyObject* on_done = key ? PyCFunction_New(&done_def, key) : nullptr;
    Py_XDECREF(key);
    PyObject* added = on_done ? PyObject_CallMethodOneArg(task, name_add_done_callback_, on_done) : nullptr;
    Py_XDECREF(on_done);
    if (!added) {
      error failed = take_exception("adding the task's done callback");
      cancel(task);
      Py_DECREF(task);
      return failed;
    }
    Py_DECREF(added);
    auto entry = std::make_unique<running_task>(task, then);
    if (token.stop_possible()) entry->on_stop.emplace(std::move(token), cancel_request{this, id});
    tasks_.emplace(id, std::move(entry));
    return {};
  }

  // Until the inbox is closed and drained and every task is done. GIL held.
  void run() {
    current_ = this;
    after_work(0);  // jobs queued before the loop ran; or sleep
    if (!stopping_) {
      PyObject* ran = PyObject_CallMethod(loop_, "run_forever", nullptr);
      if (!ran) {
        error failed = take_exception("the worker's event loop");
        (void)failed;  // the tasks left fail below; the loop cannot go on
      }
      Py_XDECREF(ran);
    }
    fail_remaining();
    current_ = nullptr;
  }

  std::size_t tasks() const noexcept { return tasks_.size(); }

 private:
  struct cancel_request {
    worker_loop* loop;
    std::uint64_t id;
    void operator()() const noexcept { loop->request_cancel(id); }
  };
  struct running_task {
    running_task(PyObject* t, awaited_call a) noexcept : task(t), then(a) {}
    ~running_task() { Py_XDECREF(task); }
    PyObject* task;
    awaited_call then;
    bool late = false;  // cancelled by the shutdown deadline
    std::optional<std::stop_callback<cancel_request>> on_stop;
  };

  worker_loop(call_context& ctx, inbox& box, loop_host host) noexcept : ctx_(ctx), box_(box), host_(host) {}

  PyObject* ensure_future(PyObject* awaitable) {
    PyObject* asyncio = PyImport_ImportModule("asyncio");
    if (!asyncio) return nullptr;
    PyObject* fn = PyObject_GetAttrString(asyncio, "ensure_future");
    Py_DECREF(asyncio);
    if (!fn) return nullptr;
    PyObject* args = PyTuple_Pack(1, awaitable);
    PyObject* kwargs = args ? Py_BuildValue("{s:O}", "loop", loop_) : nullptr;
    PyObject* task = kwargs ? PyObject_Call(fn, args, kwargs) : nullptr;
    Py_XDECREF(kwargs);
    Py_XDECREF(args);
    Py_DECREF(fn);
    return task;
  }

  static void cancel(PyObject* task) {
    PyObject* out = PyObject_CallMethod(task, "cancel", nullptr);
    if (!out) PyErr_Clear();
    Py_XDECREF(out);
  }

  // Any thread (a stop callback).
  void request_cancel(std::uint64_t id) {
    {
      std::lock_guard lock(cancel_mutex_);
      cancels_.push_back(id);
    }
    box_.wakeup().notify();
  }
  bool cancels_pending() {
    std::lock_guard lock(cancel_mutex_);
    return !cancels_.empty();
  }
  void cancel_requested() {
    std::vector<std::uint64_t> ids;
    {
      std::lock_guard lock(cancel_mutex_);
      ids.swap(cancels_);
    }
    for (const std::uint64_t id : ids) {
      if (auto found = tasks_.find(id); found != tasks_.end()) cancel(found->second->task);
    }
  }

  // The reader callback: the eventfd is readable, or it was scheduled again.
  void on_readable() {
    box_.wakeup().consume();
    cancel_requested();
    after_work(host_.drain(host_.self));
  }

  // After a drain of `ran` jobs: stop, run again soon, or sleep.
  void after_work(std::size_t ran) {
    if (box_.closed()) {
      arm_deadline();
      if (box_.empty_approx() && tasks_.empty()) return stop();
    }
    if (ran < host_.batch &&
        box_.wakeup().sleep_unless([this] { return !box_.empty_approx() || cancels_pending(); })) {
      return;
    }
    PyObject* scheduled = PyObject_CallMethod(loop_, "call_soon", "O", reader_);
    if (!scheduled) PyErr_Clear();  // the fd is still watched: a producer wakes it
    Py_XDECREF(scheduled);
  }

  void stop() {
    stopping_ = true;
    PyObject* out = PyObject_CallMethod(loop_, "stop", nullptr);
    if (!out) PyErr_Clear();
    Py_XDECREF(out);
  }

  // Once closing: the tasks still running at the shutdown deadline are cancelled.
  void arm_deadline() {
    if (deadline_armed_ || !host_.deadline_ns) return;
    deadline_armed_ = true;
    const std::int64_t deadline = host_.deadline_ns(host_.self);
    if (deadline == std::numeric_limits<std::int64_t>::max()) return;
    const double delay = std::max<std::int64_t>(0, deadline - steady_now_ns()) / 1e9;
    PyObject* fn = PyCFunction_New(&deadline_def, nullptr);
    PyObject* timer = fn ? PyObject_CallMethod(loop_, "call_later", "dO", delay, fn) : nullptr;
    if (!timer) PyErr_Clear();
    Py_XDECREF(timer);
    Py_XDECREF(fn);
  }
  void on_deadline() {
    for (auto& [id, entry] : tasks_) {
      entry->late = true;
      cancel(entry->task);
    }
  }

  void on_task_done(std::uint64_t id) {
    auto found = tasks_.find(id);
    if (found == tasks_.end()) return;
    std::unique_ptr<running_task> entry = std::move(found->second);
    tasks_.erase(found);
    entry->on_stop.reset();  // no cancel request for this id from now on
    finish(*entry);
    if (box_.closed() && box_.empty_approx() && tasks_.empty()) stop();
  }

  void finish(running_task& entry) {
    PyObject* cancelled = PyObject_CallMethodNoArgs(entry.task, name_cancelled_);
    const int was_cancelled = cancelled ? PyObject_IsTrue(cancelled) : -1;
    Py_XDECREF(cancelled);
    ctx_.task_finished();  // before the future completes (worker_load.hpp)
    if (was_cancelled != 0) {
      if (was_cancelled < 0) PyErr_Clear();
      if (entry.late) {
        if (host_.count_late) host_.count_late(host_.self);
        static const error late(errc::timed_out, "subinterpreter_executor shut down: the deadline passed before the task finished");
        return entry.then.resume(entry.then.self, ctx_, nullptr, &late);
      }
      static const error canceled(errc::canceled, "the task was cancelled");
      return entry.then.resume(entry.then.self, ctx_, nullptr, &canceled);
    }
    PyObject* value = PyObject_CallMethodNoArgs(entry.task, name_result_);
    if (!value) {
      const error failed = take_exception();
      return entry.then.resume(entry.then.self, ctx_, nullptr, &failed);
    }
    entry.then.resume(entry.then.self, ctx_, value, nullptr);
    Py_DECREF(value);
  }

  // The loop ended with tasks left (it failed, or is being destroyed): their jobs fail.
  void fail_remaining() {
    static const error gone(errc::canceled, "the worker's event loop ended before the task finished");
    auto left = std::move(tasks_);
    tasks_.clear();
    for (auto& [id, entry] : left) {
      entry->on_stop.reset();
      ctx_.task_finished();
      entry->then.resume(entry->then.self, ctx_, nullptr, &gone);
    }
  }

  static PyObject* reader_entry(PyObject*, PyObject*) {
    if (current_) current_->on_readable();
    Py_RETURN_NONE;
  }
  static PyObject* done_entry(PyObject* key, PyObject*) {
    const unsigned long long id = PyLong_AsUnsignedLongLong(key);
    if (current_) current_->on_task_done(id);
    Py_RETURN_NONE;
  }
  static PyObject* deadline_entry(PyObject*, PyObject*) {
    if (current_) current_->on_deadline();
    Py_RETURN_NONE;
  }

  static inline PyMethodDef reader_def{"_fastrt_inbox_ready", reader_entry, METH_NOARGS, nullptr};
  static inline PyMethodDef done_def{"_fastrt_task_done", done_entry, METH_O, nullptr};
  static inline PyMethodDef deadline_def{"_fastrt_shutdown_deadline", deadline_entry, METH_NOARGS, nullptr};
  // The loop running on this thread: callbacks only ever run on it.
  static inline thread_local worker_loop* current_ = nullptr;

  call_context& ctx_;
  inbox& box_;
  loop_host host_;
  PyObject* loop_ = nullptr;
  PyObject* task_type_ = nullptr;     // asyncio.Task
  PyObject* task_options_ = nullptr;  // {"loop": loop_, "eager_start": True}
  PyObject* name_done_ = nullptr;     // interned method names
  PyObject* name_cancelled_ = nullptr;
  PyObject* name_result_ = nullptr;
  PyObject* name_add_done_callback_ = nullptr;
  PyObject* reader_ = nullptr;
  std::unordered_map<std::uint64_t, std::unique_ptr<running_task>> tasks_;
  std::uint64_t last_id_ = 0;
  bool stopping_ = false;
  bool deadline_armed_ = false;
  std::mutex cancel_mutex_;
  std::vector<std::uint64_t> cancels_;
};

}  // namespace fastrt::python::detail
