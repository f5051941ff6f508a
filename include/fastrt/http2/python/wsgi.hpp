// wsgi.hpp — runs a WSGI (PEP 3333) app for one request, on the executor
// worker python_app (app.hpp) runs it on, with that interpreter's GIL:
//
//   result = app(environ, start_response)      environ: wsgi_environ.hpp;
//                                              start_response: wsgi_start_response.hpp
//   a list or tuple of bytes    joined into one body (the usual case: Flask's
//                               plain responses are one-item lists)
//   any other iterable          pulled here until its first non-empty piece
//                               (start_response may be called that late, as
//                               PEP 3333 allows); when that is the end, the
//                               body is whole; else the headers go out with
//                               that piece and the rest is streamed under flow
//                               control (wsgi_body.hpp, streamed_body.hpp)
//
// The iterable's close() is always called: here once the body is whole or
// when something fails before the response starts, else by the streamed
// body's generator (wsgi_body.hpp) at its end, on an error, or when the server
// drops the stream (client reset, --handler-timeout, cut connection).
//
// Errors: an exception (or a broken contract: no start_response call, a
// piece that is not bytes) before the response starts is an error, which
// python_handler answers with 500 and logs with the traceback; after, the
// streamed body fails and the connection resets the stream.
//
// Thread-safety: with the GIL of the app's interpreter. Cost per request:
// the environ (wsgi_environ.hpp), the start_response callable, the body
// joined once; a streamed body costs a generator and one job per piece.
#pragma once

#include <Python.h>

#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <memory>
#include <string>
#include <utility>

#include <fastrt/http2/python/body_channel.hpp>
#include <fastrt/http2/python/body_input.hpp>
#include <fastrt/http2/python/common.hpp>
#include <fastrt/http2/python/streamed_body.hpp>
#include <fastrt/http2/python/wsgi_environ.hpp>
#include <fastrt/http2/python/wsgi_start_response.hpp>
#include <fastrt/http2/request.hpp>
#include <fastrt/http2/response.hpp>

namespace fastrt::http2::python::wsgi {

namespace py = fastrt::python;

// Calls iterable.close() if it has one; the error it raised, if any.
inline fastrt::result<void> close_iterable(PyObject* iterable) {
  PyObject* close = PyObject_GetAttrString(iterable, "close");  // (GetOptionalAttr is 3.13+)
  if (!close) {
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return py::take_exception("finding the WSGI iterable's close()");
    PyErr_Clear();
    return {};
  }
  PyObject* closed = PyObject_CallNoArgs(close);
  Py_DECREF(close);
  if (!closed) return py::take_exception("the WSGI iterable's close() raised");
  Py_DECREF(closed);
  return {};
}

// Appends a piece that must be bytes; an error otherwise.
inline fastrt::result<void> append_piece(std::string& body, PyObject* piece) {
  if (!PyBytes_Check(piece))
    return fastrt::error(std::errc::invalid_argument, std::string("the WSGI app yielded a piece of type ") +
                                                          Py_TYPE(piece)->tp_name + "; pieces must be bytes");
  body.append(PyBytes_AS_STRING(piece), static_cast<std::size_t>(PyBytes_GET_SIZE(piece)));
  return {};
}

// The response so far: what start_response set.
inline fastrt::result<response> started(const response_state& st) {
  if (st.phase == response_phase::not_started)
    return fastrt::error(std::errc::invalid_argument, "the WSGI app did not call start_response()");
  response r;
  r.status = st.status;
  r.headers = st.headers;
  return r;
}

class call_state {
 public:
  call_state(py::call_context& ctx, module_state& module, py::subinterpreter_executor* executor,
             std::shared_ptr<body_channel> input)
      : ctx_(ctx), module_(module), executor_(executor), input_(std::move(input)) {}
  call_state(const call_state&) = delete;
  call_state& operator=(const call_state&) = delete;
  ~call_state() {
    Py_XDECREF(iterator_);
    Py_XDECREF(result_);
    Py_XDECREF(start_response_);
  }

  fastrt::result<response> run(PyObject* app, const request& req) {
    PyObject* streamed = nullptr;  // wsgi.input read as it arrives
    if (input_ && !(streamed = new_body_input(module_.body_input, input_))) return py::take_exception("making wsgi.input");
    PyObject* environ = new_environ(req, module_, streamed);
    if (!environ) return py::take_exception("building the WSGI environ");
    start_response_ = new_start_response(state_);
    if (!start_response_) {
      Py_DECREF(environ);
      return py::take_exception("making start_response");
    }
    result_ = PyObject_CallFunctionObjArgs(app, environ, start_response_, nullptr);
    Py_DECREF(environ);
    if (!result_) return py::take_exception();
    if (PyList_CheckExact(result_) || PyTuple_CheckExact(result_)) return whole_sequence();
    return first_piece_then_stream();
  }

 private:
  // A list or tuple: every piece is here already.
  fastrt::result<response> whole_sequence() {
    std::string body = std::move(state_->written);
    PyObject* items = result_;
    fastrt::result<void> joined;
    for (Py_ssize_t i = 0; joined && i < PySequence_Fast_GET_SIZE(items); ++i)
      joined = append_piece(body, PySequence_Fast_GET_ITEM(items, i));
    FASTRT_TRY(close_iterable(result_));
    FASTRT_TRY(std::move(joined));
    response r = FASTRT_TRY(started(*state_));
    r.body = std::move(body);
    return r;
  }

  // Any other iterable: pulled until its first non-empty piece.
  fastrt::result<response> first_piece_then_stream() {
    iterator_ = PyObject_GetIter(result_);
    if (!iterator_) return failed(py::take_exception("the WSGI app returned something that is not iterable"));
    std::string body = std::move(state_->written);
    const std::size_t before = body.size();
    for (;;) {
      PyObject* piece = PyIter_Next(iterator_);
      if (!piece) {
        if (PyErr_Occurred()) return failed(py::take_exception());
        // The end: the body is whole.
        FASTRT_TRY(close_iterable(result_));
        response r = FASTRT_TRY(started(*state_));
        r.body = std::move(body);
        return r;
      }
      fastrt::result<void> added = append_piece(body, piece);
      Py_DECREF(piece);
      if (!added) return failed(std::move(added).error());
      if (body.size() > before) break;
    }
    fastrt::result<response> head = started(*state_);
    if (!head) return failed(std::move(head).error());
    if (!executor_) return failed(fastrt::error(std::errc::operation_not_supported, "a streamed WSGI body needs python_app's executor"));
    // The headers go out with this piece: start_response can no longer change them.
    state_->phase = response_phase::headers_sent;
    PyObject* first = PyBytes_FromStringAndSize(body.data(), static_cast<Py_ssize_t>(body.size()));
    PyObject* generator =
        first ? PyObject_CallFunctionObjArgs(module_.wsgi_body, first, iterator_, result_, nullptr) : nullptr;
    Py_XDECREF(first);
    if (!generator) return failed(py::take_exception("starting the WSGI body"));
    // From here the generator owns closing the iterable.
    response r = std::move(head).value();
    r.stream = python_body_stream(generator, executor_, ctx_);
    return r;
  }

  // Closes the iterable after `why` (a close() failure is dropped: `why` is
  // what the log needs).
  fastrt::result<response> failed(fastrt::error why) {
    (void)close_iterable(result_);
    return why;
  }

  py::call_context& ctx_;
  module_state& module_;
  py::subinterpreter_executor* executor_;
  std::shared_ptr<body_channel> input_;
  response_state* state_ = nullptr;  // owned by start_response_'s capsule
  PyObject* start_response_ = nullptr;
  PyObject* result_ = nullptr;
  PyObject* iterator_ = nullptr;
};

// With the GIL of `ctx`'s interpreter: app(environ, start_response) for `req`.
// `input`: a streamed body's channel (wsgi.input reads it), or null.
inline fastrt::result<response> call(py::call_context& ctx, module_state& module, PyObject* app, const request& req,
                                     py::subinterpreter_executor* executor, std::shared_ptr<body_channel> input = {}) {
  call_state call(ctx, module, executor, std::move(input));
  return call.run(app, req);
}

}  // namespace fastrt::http2::python::wsgi
