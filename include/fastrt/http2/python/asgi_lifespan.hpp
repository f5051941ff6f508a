// asgi_lifespan.hpp — the ASGI lifespan protocol for an app served on a
// subinterpreter_executor: startup on every worker before the server
// accepts, shutdown on every worker after it stopped.
//
//   asgi::lifespan life(executor, app_handler, request_type, lifespan_mode::automatic, &log);
//   if (auto up = life.startup(); !up) fail(up.error());   // "the app's message"
//   ... serve ...
//   life.shutdown(deadline);
//
// Each worker runs its own lifespan: the app is called with scope
// {'type': 'lifespan', 'asgi': {...}, 'state': {}} as a Task of that
// worker's event loop (asgi_glue.hpp), which keeps running between startup
// and shutdown; the state the app fills is copied into the scope of every
// request that worker serves. A worker is where an event loop lives, so
// objects an app makes at startup (clients, pools) belong to the loop that
// uses them.
//
// Outcomes of a startup, per mode (uvicorn's --lifespan):
//   complete                   serve
//   lifespan.startup.failed    an error with the app's message (every mode)
//   the app raised at once     automatic: no lifespan (logged at info, with
//   or returned without        the exception), serve; on: an error
//   answering
// Shutdown, on every worker: waits for the app's Tasks still running there
// (a response's background work; the worker's loop would drop them
// unfinished), then sends lifespan.shutdown where the startup completed and
// waits for lifespan.shutdown.complete, all at most until the deadline; what
// went wrong is logged (warning), nothing fails. Only after startup() (an
// ASGI app): else it does nothing.
//
// Thread-safety: startup() and shutdown() on one thread (main), which
// waits for the workers. Cost: start-up and shutdown only: one job per worker.
#pragma once

#include <Python.h>

#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/python/asgi.hpp>
#include <fastrt/http2/python/asgi_glue.hpp>
#include <fastrt/http2/python/module.hpp>

namespace fastrt::http2::python::asgi {

namespace py = fastrt::python;

enum class lifespan_mode : std::uint8_t { automatic, on, off };

// "auto", "on", "off"; anything else: an error naming the choices.
inline fastrt::result<lifespan_mode> parse_lifespan(std::string_view text) {
  if (text == "auto") return lifespan_mode::automatic;
  if (text == "on") return lifespan_mode::on;
  if (text == "off") return lifespan_mode::off;
  return fastrt::error(std::errc::invalid_argument, "the lifespan mode is auto, on or off, not '" + std::string(text) + "'");
}

// What one worker's lifespan step came to: the glue's (outcome, text).
struct lifespan_answer {
  std::string outcome;  // "complete", "failed", "unsupported", "returned"
  std::string text;     // the app's message, or the exception
};

// CPython 3.12 runs event loops on main-interpreter workers only
// (event_loop.hpp): an ASGI app needs them there, said at start-up rather
// than as a 500 per request.
inline fastrt::result<void> check_workers(const py::subinterpreter_executor& executor) {
#if PY_VERSION_HEX < 0x030D0000
  if (executor.workers(py::worker_kind::pinned) + executor.workers(py::worker_kind::pooled) > 0)
    return fastrt::error(std::errc::operation_not_supported,
                         "an ASGI app needs an asyncio event loop on every worker, and CPython " PY_VERSION
                         " runs one only in the main interpreter: use --main-workers N alone, or CPython >= 3.13");
#else
  (void)executor;
#endif
  return {};
}

class lifespan {
 public:
  lifespan(py::subinterpreter_executor& executor, py::handler app, py::handler request_type, lifespan_mode mode,
           observer* events) noexcept
      : executor_(executor), app_(app), request_type_(request_type), mode_(mode), events_(events) {}

  // Runs the startup on every worker; an error (saying why, with the app's
  // message) when the server must not start, or when a worker cannot run
  // an ASGI app at all (check_workers).
  fastrt::result<void> startup() {
    FASTRT_TRY(check_workers(executor_));
    for (const py::worker_kind kind : {py::worker_kind::pinned, py::worker_kind::pooled, py::worker_kind::main}) {
      for (std::size_t i = 0; i < executor_.workers(kind); ++i) workers_.push_back({kind, i});
    }
    if (mode_ == lifespan_mode::off) return {};
    for (const worker& w : workers_) {
      fastrt::result<lifespan_answer> got = step(w, false, 0.0);
      if (!got) return fastrt::error(got.error().code(), "the ASGI lifespan startup: " + std::string(got.error().message()));
      if (got->outcome == "complete") continue;
      if (got->outcome == "failed")
        return fastrt::error(std::errc::operation_canceled,
                             "the app's lifespan startup failed: " + (got->text.empty() ? "(no message)" : got->text));
      if (mode_ == lifespan_mode::on)
        return fastrt::error(std::errc::operation_not_supported,
                             "--lifespan on, but the app does not support the lifespan protocol: " + got->text);
      // automatic: the app does not speak lifespan (ASGI: go on without).
      if (events_)
        events_->log(log_level::info, "ASGI lifespan unsupported by the app, serving without it: " + got->text);
      return {};
    }
    return {};
  }

  // The shutdown on every worker (see the top), each waiting at most
  // until `deadline`.
  void shutdown(std::chrono::steady_clock::time_point deadline) {
    for (const worker& w : std::exchange(workers_, {})) {
      const double seconds =
          std::max(0.0, std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count());
      fastrt::result<lifespan_answer> got = step(w, true, seconds);
      if (!events_) continue;
      if (!got) {
        events_->log(log_level::warning, "the ASGI lifespan shutdown: " + std::string(got.error().message()));
      } else if (got->outcome != "complete") {
        events_->log(log_level::warning, "the app's lifespan shutdown on the " + worker_key(w.kind, w.index) +
                                             " worker: " + got->outcome + ": " + got->text);
      }
    }
  }

 private:
  struct worker {
    py::worker_kind kind;
    std::size_t index;
  };

  // The glue's lifespan_startup(app, key) or lifespan_shutdown(key,
  // seconds), awaited on worker `w`.
  fastrt::result<lifespan_answer> step(worker w, bool shutting_down, double seconds) {
    auto start = [this, w, shutting_down, seconds](py::call_context& ctx) -> fastrt::result<PyObject*> {
      PyObject* type = ctx.object(request_type_);
      PyObject* app = ctx.object(app_);
      module_state* module = type ? request_state(type) : nullptr;
      if (!module || !app) return fastrt::error(std::errc::invalid_argument, "the app is not loaded in this interpreter");
      PyObject* fn = glue_function(*module, shutting_down ? "lifespan_shutdown" : "lifespan_startup");
      if (!fn) return py::take_exception("loading the ASGI glue");
      const std::string key = worker_key(w.kind, w.index);
      PyObject* out = shutting_down ? PyObject_CallFunction(fn, "sd", key.c_str(), seconds)
                                    : PyObject_CallFunction(fn, "Os", app, key.c_str());
      if (!out) return py::take_exception();
      return out;
    };
    auto finish = [](py::call_context&, PyObject* value) -> fastrt::result<lifespan_answer> {
      PyObject* outcome = nullptr;
      PyObject* text = nullptr;
      if (!PyArg_ParseTuple(value, "UU", &outcome, &text)) return py::take_exception("the lifespan glue's answer");
      return lifespan_answer{PyUnicode_AsUTF8(outcome), PyUnicode_AsUTF8(text)};
    };
    auto future = executor_.submit_awaitable_to(w.kind, w.index, std::stop_token(), std::move(start), std::move(finish));
    fastrt::result<lifespan_answer> got = fastrt::sync_wait(std::move(future));
    return got;
  }

  py::subinterpreter_executor& executor_;
  py::handler app_;
  py::handler request_type_;
  lifespan_mode mode_;
  observer* events_;
  std::vector<worker> workers_;  // every worker, once startup() ran: they get the shutdown
};

}  // namespace fastrt::http2::python::asgi
