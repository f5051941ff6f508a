// app.hpp — calls the user's `def app(request)` or `async def app(request)`
// on the executor (or, with app_interface::wsgi, a WSGI app: wsgi.hpp; an
// ASGI app is called by asgi.hpp, with the handlers this holds).
//
// Runs on a worker with its interpreter's GIL held (inside submit): wraps the
// C++ request in this interpreter's fastrt.Request (module.hpp; the
// type comes from the "fastrt:Request" handler, resolved in every
// interpreter at start), calls the app and converts what it returns (for an
// `async def app`, what its coroutine returns once the worker's event loop
// has awaited it: handler.hpp submits start/finish with try_submit_awaitable):
//
//   bytes / bytearray       200, application/octet-stream
//   str                     200, text/plain; charset=utf-8 (UTF-8 encoded)
//   (status, headers, body) body bytes / str / bytearray / None, or an
//                           iterator (a generator ...) that is streamed
//   fastrt.Response         its status, headers and body (streamed when the
//                           body is an iterable)
//
// Nothing Python-owned leaves the call except a streamed body's iterator,
// which stays in its interpreter behind the body_stream (streamed_body.hpp). A
// Python exception comes back as an error with python::exception_code (type,
// message and traceback); an unsupported return value as
// errc::invalid_argument saying what was wrong.
//
// Thread-safety: a python_app is an immutable value (handlers and pointers),
// copied per call; operator() runs on any worker, with that worker's GIL.
// Cost: one Request object per call, one copy of a whole body into the
// response; a streamed body costs one job per piece (streamed_body.hpp).
#pragma once

#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <memory>
#include <string>
#include <string_view>

#include <fastrt/http2/python/app_interface.hpp>
#include <fastrt/http2/python/asgi_glue.hpp>
#include <fastrt/http2/python/body_channel.hpp>
#include <fastrt/http2/python/body_input.hpp>
#include <fastrt/http2/python/in_flight_calls.hpp>
#include <fastrt/http2/python/in_flight_capsule.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/http2/python/streamed_body.hpp>
#include <fastrt/http2/python/wsgi.hpp>
#include <fastrt/http2/request.hpp>
#include <fastrt/http2/response.hpp>

namespace fastrt::http2::python {

namespace py = fastrt::python;

class python_app {
 public:
  // request_type: the "fastrt:Request" handler. executor: where streamed
  // bodies are pulled; it must outlive every response (without one, a
  // streamed body is an error). in_flight: where running calls are listed
  // (for the shutdown report), when given; it must outlive the calls.
  // interface: how the app is called (app_interface.hpp tells it at start-up).
  python_app(py::handler request_type, py::handler app, py::subinterpreter_executor* executor = nullptr,
             in_flight_calls* in_flight = nullptr, app_interface interface = app_interface::native) noexcept
      : request_type_(request_type), app_(app), executor_(executor), in_flight_(in_flight), interface_(interface) {}

  app_interface interface() const noexcept { return interface_; }
  // What an ASGI call (asgi.hpp) resolves and reports through.
  py::handler request_type() const noexcept { return request_type_; }
  py::handler app_handler() const noexcept { return app_; }
  in_flight_calls* in_flight() const noexcept { return in_flight_; }

  // Calls the app and converts its answer; an `async def` app's coroutine
  // is an error here (it needs an event loop: start/finish below).
  // `input`: a streamed body's channel (body_channel.hpp: wsgi.input,
  // Request.read() read it as it arrives), or null for a whole body.
  fastrt::result<response> operator()(py::call_context& ctx, const request& req,
                                      std::shared_ptr<body_channel> input = {}) const {
    if (interface_ == app_interface::wsgi) return call_wsgi(ctx, req, std::move(input));
    PyObject* out = FASTRT_TRY(start(ctx, req, std::move(input)));
    fastrt::result<response> converted = finish(ctx, out);
    Py_DECREF(out);
    return converted;
  }

  // The two halves, for subinterpreter_executor::try_submit_awaitable: start
  // calls the app and returns what it returned (a new reference; for an
  // `async def app` the coroutine, which the worker's event loop then
  // awaits); finish converts the final value (borrowed). `req` is borrowed
  // for start only: a Request the coroutine keeps is detached from it
  // before start returns (request_object.hpp), so the task never reads
  // C++ memory.
  fastrt::result<PyObject*> start(py::call_context& ctx, const request& req,
                                  std::shared_ptr<body_channel> input = {}) const {
    PyObject* type = ctx.object(request_type_);
    PyObject* app = ctx.object(app_);
    if (!type || !app) return fastrt::error(std::errc::invalid_argument, "the app is not loaded in this interpreter");
    module_state* state = request_state(type);
    if (!state) return fastrt::error(std::errc::invalid_argument, "the request type handler is not fastrt.Request");
    if (interface_ == app_interface::wsgi)
      return fastrt::error(std::errc::invalid_argument, "a WSGI app is called whole (python_app::operator())");
    if (interface_ == app_interface::asgi)
      return fastrt::error(std::errc::invalid_argument, "an ASGI app is called through asgi::respond (asgi.hpp)");
    PyObject* body = nullptr;  // a streamed body, read as it arrives
    if (input && !(body = new_body_input(state->body_input, std::move(input), executor_, ctx.kind(), ctx.worker_index())))
      return py::take_exception("making the request's body input");
    PyObject* request_object = new_request(state->request_type, req, body);
    if (!request_object) return py::take_exception("building the request object");
    Py_INCREF(app);  // a load() on another worker of this interpreter may replace it meanwhile
    PyObject* out;
    {
      const in_flight_calls::entry running(in_flight_, req, ctx);
      out = PyObject_CallOneArg(app, request_object);
    }
    Py_DECREF(app);
    if (out && PyCoro_CheckExact(out)) out = listed_while_running(ctx, *state, req, out);
    if (!out) {
      fastrt::error failed = py::take_exception();
      if (!release_request(request_object)) PyErr_Clear();
      return failed;
    }
    // Before returning: `req` is only borrowed for this call (request_object.hpp).
    if (!release_request(request_object)) {
      Py_DECREF(out);
      return py::take_exception("keeping the request object the app held on to");
    }
    return out;
  }

  fastrt::result<response> finish(py::call_context& ctx, PyObject* out) const {
    PyObject* type = ctx.object(request_type_);
    module_state* state = type ? request_state(type) : nullptr;
    if (!state) return fastrt::error(std::errc::invalid_argument, "the request type handler is not fastrt.Request");
    if (PyCoro_CheckExact(out)) {
      return fastrt::error(std::errc::operation_not_supported,
                           "app returned a coroutine, and this call runs it in no event loop");
    }
    return convert(ctx, *state, out);
  }

 private:
  // An `async def app`'s coroutine, wrapped (asgi_glue.hpp's `listed`) so
  // that the call stays listed as running until the coroutine ends: its
  // first job returns long before (a new reference, or null with an
  // exception set; `coroutine` is stolen).
  PyObject* listed_while_running(py::call_context& ctx, module_state& state, const request& req,
                                 PyObject* coroutine) const {
    if (!in_flight_) return coroutine;
    PyObject* wrap = asgi::glue_function(state, "listed");
    PyObject* listed = wrap ? new_in_flight_capsule(in_flight_, req, ctx) : nullptr;
    PyObject* out = listed ? PyObject_CallFunctionObjArgs(wrap, coroutine, listed, nullptr) : nullptr;
    Py_XDECREF(listed);
    Py_DECREF(coroutine);
    return out;
  }

  // A WSGI app runs to its answer in one call (no event loop: wsgi.hpp).
  fastrt::result<response> call_wsgi(py::call_context& ctx, const request& req,
                                     std::shared_ptr<body_channel> input) const {
    PyObject* type = ctx.object(request_type_);
    PyObject* app = ctx.object(app_);
    if (!type || !app) return fastrt::error(std::errc::invalid_argument, "the app is not loaded in this interpreter");
    module_state* state = request_state(type);
    if (!state) return fastrt::error(std::errc::invalid_argument, "the request type handler is not fastrt.Request");
    Py_INCREF(app);  // a load() on another worker of this interpreter may replace it meanwhile
    const in_flight_calls::entry running(in_flight_, req, ctx);
    fastrt::result<response> out = wsgi::call(ctx, *state, app, req, executor_, std::move(input));
    Py_DECREF(app);
    return out;
  }

  static fastrt::error invalid(std::string what) {
    return fastrt::error(std::errc::invalid_argument,
                         "app returned " + what + "; expected bytes, str, (status, headers, body) or fastrt.Response");
  }

  fastrt::result<response> convert(py::call_context& ctx, module_state& state, PyObject* out) const {
    response r;
    if (PyBytes_Check(out) || PyByteArray_Check(out)) {
      r.headers.emplace_back("content-type", "application/octet-stream");
      r.body = FASTRT_TRY(py::call_context::to_bytes(out));
      return r;
    }
    if (PyUnicode_Check(out)) {
      r.headers.emplace_back("content-type", "text/plain; charset=utf-8");
      r.body = FASTRT_TRY(py::call_context::to_bytes(out));
      return r;
    }
    if (Py_IS_TYPE(out, state.response_type)) {
      // Checked when it was made: the body is bytes or an iterable.
      auto* made = reinterpret_cast<response_object*>(out);
      r.status = static_cast<int>(PyLong_AsLong(made->status));
      FASTRT_TRY(add_headers(r, made->headers));
      if (PyBytes_Check(made->body)) {
        r.body.assign(PyBytes_AS_STRING(made->body), static_cast<std::size_t>(PyBytes_GET_SIZE(made->body)));
        return r;
      }
      PyObject* iterator = PyObject_GetIter(made->body);
      if (!iterator) return py::take_exception("iterating the fastrt.Response body");
      r.stream = FASTRT_TRY(stream_of(ctx, iterator));
      return r;
    }
    if (!PyTuple_Check(out) || PyTuple_GET_SIZE(out) != 3) return invalid(std::string("a ") + Py_TYPE(out)->tp_name);
    PyObject* status = PyTuple_GET_ITEM(out, 0);
    if (!PyLong_Check(status)) return invalid("a status that is not an int");
    const long code = PyLong_AsLong(status);
    if (code < 200 || code > 599) {
      PyErr_Clear();
      return invalid("status " + std::to_string(code) + " (must be 200..599)");
    }
    r.status = static_cast<int>(code);
    FASTRT_TRY(add_headers(r, PyTuple_GET_ITEM(out, 1)));
    PyObject* body = PyTuple_GET_ITEM(out, 2);
    if (body == Py_None || PyUnicode_Check(body) || PyBytes_Check(body) || PyByteArray_Check(body)) {
      r.body = FASTRT_TRY(py::call_context::to_bytes(body));
      return r;
    }
    if (!PyIter_Check(body)) return invalid(std::string("a body of type ") + Py_TYPE(body)->tp_name);
    r.stream = FASTRT_TRY(stream_of(ctx, Py_NewRef(body)));
    return r;
  }

  // Takes over `iterator`; made last, once nothing else can fail.
  fastrt::result<body_stream> stream_of(py::call_context& ctx, PyObject* iterator) const {
    if (!executor_) {
      Py_DECREF(iterator);
      return fastrt::error(std::errc::operation_not_supported, "a streamed body needs python_app's executor");
    }
    return python_body_stream(iterator, executor_, ctx);
  }

  // (name, value) pairs — str (UTF-8) or bytes each — checked like
  // fastrt.Response's; names lower-cased.
  static fastrt::result<void> add_headers(response& r, PyObject* headers) {
    PyObject* items = PySequence_Fast(headers, "headers must be a sequence of (name, value)");
    if (!items) {
      PyErr_Clear();
      return invalid("headers that are not a sequence of (name, value)");
    }
    fastrt::result<void> added;
    for (Py_ssize_t i = 0; added && i < PySequence_Fast_GET_SIZE(items); ++i) {
      PyObject* item = PySequence_Fast_GET_ITEM(items, i);
      std::string_view name, value;
      if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        added = invalid("a header that is not a (name, value) tuple");
      } else if (!octets_of(PyTuple_GET_ITEM(item, 0), name, "a header name") ||
                 !octets_of(PyTuple_GET_ITEM(item, 1), value, "a header value")) {
        PyErr_Clear();
        added = invalid(std::string("a header name or value that is not str or bytes"));
      } else {
        std::string lower(name);
        lower_ascii(lower);
        if (const char* problem = header_problem(lower, value)) {
          added = invalid("header '" + lower + "': " + problem);
        } else {
          r.headers.emplace_back(std::move(lower), std::string(value));
        }
      }
    }
    Py_DECREF(items);
    return added;
  }

  py::handler request_type_;
  py::handler app_;
  py::subinterpreter_executor* executor_;
  in_flight_calls* in_flight_;
  app_interface interface_;
};

}  // namespace fastrt::http2::python
