// fastrt/python/exception.hpp — a raised Python exception as a fastrt::error.
//
//   PyObject* r = PyObject_CallNoArgs(fn);
//   if (!r) return fastrt::python::take_exception();   // clears the exception
//
// The error's code is python::exception_code (EBADMSG) and its message is
//   "<Type>: <str(exc)>\n" followed by the formatted traceback
//   ("Traceback (most recent call last):\n  File ...") when there is one,
// so the first line alone says what went wrong and the rest says where.
// Only text leaves the interpreter: no PyObject* survives the call.
//
// Thread-safety: call with the GIL of the interpreter that raised held (on a
// free-threaded build: attached to it). Cost: formatting a traceback imports
// `traceback` once per interpreter and costs tens of microseconds — the
// error path only.
#pragma once

#include <Python.h>

#include <string>
#include <string_view>
#include <system_error>

#include "../error.hpp"

namespace fastrt::python {

// The code of every error that carries a Python exception.
inline constexpr std::errc exception_code = std::errc::bad_message;

namespace detail {

// str(obj) as UTF-8, never failing (a placeholder on error).
inline std::string to_text(PyObject* obj) {
  std::string out;
  PyObject* text = obj ? PyObject_Str(obj) : nullptr;
  if (text) {
    Py_ssize_t size = 0;
    if (const char* utf8 = PyUnicode_AsUTF8AndSize(text, &size)) out.assign(utf8, static_cast<std::size_t>(size));
    Py_DECREF(text);
  }
  if (PyErr_Occurred()) {
    PyErr_Clear();
    out = "<unprintable>";
  }
  return out;
}

// "".join(traceback.format_tb(exc.__traceback__)) with its header line.
inline std::string format_traceback(PyObject* exc) {
  PyObject* tb = PyException_GetTraceback(exc);  // new reference or null
  if (!tb) return {};
  std::string out;
  PyObject* module = PyImport_ImportModule("traceback");
  PyObject* lines = module ? PyObject_CallMethod(module, "format_tb", "O", tb) : nullptr;
  if (lines && PyList_Check(lines)) {
    out = "Traceback (most recent call last):\n";
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); ++i) out += to_text(PyList_GET_ITEM(lines, i));
  }
  Py_XDECREF(lines);
  Py_XDECREF(module);
  Py_DECREF(tb);
  if (PyErr_Occurred()) PyErr_Clear();
  return out;
}

}  // namespace detail

// Takes (and clears) the raised exception; `context` is prepended as
// "<context>: " when not empty. Without a raised exception: an error saying so.
inline error take_exception(std::string_view context = {}) {
  PyObject* exc = PyErr_GetRaisedException();  // 3.12+: new reference or null
  std::string text;
  if (!context.empty()) (text += context) += ": ";
  if (!exc) {
    text += "a Python call failed without setting an exception";
    return error(exception_code, text);
  }
  text += Py_TYPE(exc)->tp_name;
  const std::string message = detail::to_text(exc);
  if (!message.empty()) (text += ": ") += message;
  text += '\n';
  text += detail::format_traceback(exc);
  Py_DECREF(exc);
  return error(exception_code, text);
}

}  // namespace fastrt::python
