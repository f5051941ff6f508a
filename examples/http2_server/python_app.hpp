// python_app.hpp — calls the user's `def app(request)` on the executor.
//
// Runs on a worker with its interpreter's GIL held (inside submit): builds a
// fastrt_request.Request from plain C++ data, calls the app and converts what
// it returns — bytes, str, or (status, headers, body) — into a response.
// Nothing Python-owned leaves the call. A Python exception comes back as an
// error with python::exception_code (type, message and traceback); an
// unsupported return value as errc::invalid_argument saying what was wrong.
#pragma once

#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <cctype>
#include <string>

#include "request.hpp"

namespace fastrt_h2 {

namespace py = fastrt::python;

class python_app {
 public:
  python_app(py::handler make_request, py::handler app) noexcept : make_request_(make_request), app_(app) {}

  fastrt::result<response> operator()(py::call_context& ctx, const request& req) const {
    PyObject* make = ctx.object(make_request_);
    PyObject* app = ctx.object(app_);
    if (!make || !app) return fastrt::error(std::errc::invalid_argument, "the app is not loaded in this interpreter");
    PyObject* request_object = build_request(make, req);
    if (!request_object) return py::take_exception("building the request object");
    PyObject* out = PyObject_CallOneArg(app, request_object);
    Py_DECREF(request_object);
    if (!out) return py::take_exception();
    fastrt::result<response> converted = convert(out);
    Py_DECREF(out);
    return converted;
  }

 private:
  static PyObject* text(const std::string& s) {
    // Header values are octets; latin-1 maps each to one code point (as WSGI does).
    return PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr);
  }

  static PyObject* build_request(PyObject* make, const request& req) {
    PyObject* headers = PyList_New(static_cast<Py_ssize_t>(req.headers.size()));
    if (!headers) return nullptr;
    for (std::size_t i = 0; i < req.headers.size(); ++i) {
      PyObject* pair = Py_BuildValue("(NN)", text(req.headers[i].first), text(req.headers[i].second));
      if (!pair) {
        Py_DECREF(headers);
        return nullptr;
      }
      PyList_SET_ITEM(headers, static_cast<Py_ssize_t>(i), pair);  // steals
    }
    PyObject* body = PyBytes_FromStringAndSize(req.body.data(), static_cast<Py_ssize_t>(req.body.size()));
    if (!body) {
      Py_DECREF(headers);
      return nullptr;
    }
    // N steals the references, also on failure.
    return PyObject_CallFunction(make, "NNNNN", text(req.method), text(req.path), text(req.query), headers, body);
  }

  static fastrt::error invalid(std::string what) {
    return fastrt::error(std::errc::invalid_argument, "app returned " + what +
                                                          "; expected bytes, str or (status, headers, body)");
  }

  // bytes / str / bytearray as the body; str is UTF-8 encoded.
  static fastrt::result<std::string> body_of(PyObject* obj) {
    if (obj == Py_None || PyUnicode_Check(obj) || PyBytes_Check(obj) || PyByteArray_Check(obj)) {
      return py::call_context::to_bytes(obj);
    }
    return invalid(std::string("a body of type ") + Py_TYPE(obj)->tp_name);
  }

  static fastrt::result<std::string> header_text(PyObject* obj) {
    if (PyUnicode_Check(obj)) {
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(obj, &size);
      if (!data) return py::take_exception();
      return std::string(data, static_cast<std::size_t>(size));
    }
    if (PyBytes_Check(obj)) return std::string(PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj)));
    return invalid(std::string("a header name or value of type ") + Py_TYPE(obj)->tp_name);
  }

  static fastrt::result<response> convert(PyObject* out) {
    response r;
    if (PyBytes_Check(out) || PyByteArray_Check(out)) {
      r.headers.emplace_back("content-type", "application/octet-stream");
      r.body = FASTRT_TRY(body_of(out));
      return r;
    }
    if (PyUnicode_Check(out)) {
      r.headers.emplace_back("content-type", "text/plain; charset=utf-8");
      r.body = FASTRT_TRY(body_of(out));
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
    PyObject* items = PySequence_Fast(PyTuple_GET_ITEM(out, 1), "headers must be a sequence of (name, value)");
    if (!items) {
      PyErr_Clear();
      return invalid("headers that are not a sequence of (name, value)");
    }
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* item = PySequence_Fast_GET_ITEM(items, i);
      if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        Py_DECREF(items);
        return invalid("a header that is not a (name, value) tuple");
      }
      auto name = header_text(PyTuple_GET_ITEM(item, 0));
      auto value = name ? header_text(PyTuple_GET_ITEM(item, 1)) : fastrt::result<std::string>(std::string());
      if (!name || !value) {
        Py_DECREF(items);
        return !name ? std::move(name).error() : std::move(value).error();
      }
      for (char& c : *name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace_back(std::move(*name), std::move(*value));
    }
    Py_DECREF(items);
    r.body = FASTRT_TRY(body_of(PyTuple_GET_ITEM(out, 2)));
    return r;
  }

  py::handler make_request_;
  py::handler app_;
};

}  // namespace fastrt_h2
