// ctest-labels: python
//
// fastrt/python/call_context.hpp: converting what a handler returns, and
// calling a handle that is not loaded in this interpreter.
#include <fastrt/python/call_context.hpp>
#include <fastrt/python/interpreter.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <catch2/catch.hpp>
#include <string>

#include "support/python.hpp"

namespace py = fastrt::python;

namespace {

// Evaluates `expr` in the attached interpreter and converts it with to_bytes.
fastrt::result<std::string> to_bytes_of(const char* expr) {
  PyObject* globals = PyDict_New();
  PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
  PyObject* value = PyRun_String(expr, Py_eval_input, globals, globals);
  Py_DECREF(globals);
  if (!value) return py::take_exception();
  auto out = py::call_context::to_bytes(value);
  Py_DECREF(value);
  return out;
}

}  // namespace

TEST_CASE("to_bytes takes str (UTF-8), bytes, bytearray and None; anything else is an error") {
  fastrt::test::python_runtime();
  auto attached = py::interpreter::main().attach();
  CHECK(to_bytes_of("'h\\u00e9'").value() == "h\xc3\xa9");
  CHECK(to_bytes_of("b'\\x00\\xff'").value() == std::string("\x00\xff", 2));
  CHECK(to_bytes_of("bytearray(b'ab')").value() == "ab");
  CHECK(to_bytes_of("None").value().empty());
  auto number = to_bytes_of("42");
  REQUIRE_FALSE(number.has_value());
  CHECK(number.error() == std::errc::invalid_argument);
  CHECK(std::string(number.error().message()) == "handler returned int, expected str, bytes, bytearray or None");
  auto lone_surrogate = to_bytes_of("'\\ud800'");  // not encodable as UTF-8: the Python error
  REQUIRE_FALSE(lone_surrogate.has_value());
  CHECK(lone_surrogate.error() == py::exception_code);
  CHECK_FALSE(PyErr_Occurred());
}

TEST_CASE("calling a handle that is not loaded here says which interpreter") {
  py::executor_options options;
  options.pinned_workers = 1;
  options.handlers = {"fastrt_test_handlers:echo"};
  auto exec = fastrt::test::start_executor(std::move(options));
  const py::handler echo = exec->handler_of("fastrt_test_handlers:echo").value();
  auto echoed = fastrt::test::wait(exec->submit([&](py::call_context& ctx) { return ctx.call(echo, "ab"); }));
  CHECK(echoed.value() == "ab");
  const py::handler unknown{5};
  auto text = fastrt::test::wait(exec->submit([&](py::call_context& ctx) { return ctx.call(unknown, "x"); }));
  REQUIRE_FALSE(text.has_value());
  CHECK(std::string(text.error().message()) == "handler #5 is not loaded in pinned interpreter 0");
  auto number = fastrt::test::wait(exec->submit([&](py::call_context& ctx) { return ctx.call_int(unknown, 1); }));
  CHECK(number.error() == std::errc::invalid_argument);
  REQUIRE(exec->shutdown().has_value());
}
