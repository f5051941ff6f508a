// ctest-labels: python
#include <fastrt/python/interpreter.hpp>
#include <fastrt/python/runtime.hpp>

#include <catch2/catch.hpp>
#include <string>
#include <atomic>
#include <thread>

#include "support/death.hpp"
#include "support/python.hpp"

namespace py = fastrt::python;

namespace {

// Runs `code` in the attached interpreter and returns str(eval(expr)).
std::string eval(const char* code, const char* expr) {
  PyObject* globals = PyDict_New();
  PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
  PyObject* ran = PyRun_String(code, Py_file_input, globals, globals);
  std::string out;
  if (!ran) {
    out = std::string(py::take_exception().message());
  } else {
    Py_DECREF(ran);
    PyObject* value = PyRun_String(expr, Py_eval_input, globals, globals);
    if (!value) {
      out = std::string(py::take_exception().message());
    } else {
      out = py::detail::to_text(value);
      Py_DECREF(value);
    }
  }
  Py_DECREF(globals);
  return out;
}

}  // namespace

TEST_CASE("the runtime starts once, isolated, with the test dir on sys.path") {
  fastrt::test::python_runtime();
  REQUIRE(py::runtime::current() != nullptr);
  auto again = py::runtime::start({});
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().message().find("once per process") != std::string_view::npos);

  auto attached = py::interpreter::main().attach();
  CHECK(eval("import sys", "sys.path[0]") == FASTRT_TEST_PYTHON_DIR);
  CHECK(eval("import sys", "sys.flags.isolated") == "1");
  CHECK(eval("import sys", "sys.version_info[:2] >= (3, 12)") == "True");
  CHECK(eval("import _fastrt_test_legacy", "_fastrt_test_legacy.answer()") == "42");
}

TEST_CASE("subinterpreters are isolated and own their GIL") {
  fastrt::test::python_runtime();
  auto a = py::interpreter::create();
  auto b = py::interpreter::create();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK((*a)->id() != (*b)->id());
  CHECK_FALSE((*a)->is_main());
  {
    auto attached = (*a)->attach();
    CHECK(eval("import fastrt_test_handlers as h\nh.set_state('from a')", "h.state") == "from a");
    CHECK(eval("import sys", "sys.path[0]") == FASTRT_TEST_PYTHON_DIR);
    CHECK(eval("import _fastrt_test_native as n", "n.interpreter_id()") == std::to_string((*a)->id()));
  }
  {
    auto attached = (*b)->attach();
    CHECK(eval("import fastrt_test_handlers as h", "h.state") == "initial");
  }
  {
    // The GIL is per interpreter: a thread holding a's GIL does not block b.
    auto attached = (*a)->attach();
    std::thread other([&] {
      {
        auto in_b = (*b)->attach();
        CHECK(eval("x = 1 + 1", "x") == "2");
      }
      (*b)->release_thread();
    });
    other.join();
  }
  {
    auto attached = py::interpreter::main().attach();
    CHECK(eval("import fastrt_test_handlers as h", "h.state") == "initial");
  }
  py::interpreter::main().release_thread();
  REQUIRE((*a)->end().has_value());
  REQUIRE((*b)->end().has_value());
}

TEST_CASE("an extension refusing subinterpreters imports only in the main interpreter") {
  fastrt::test::python_runtime();
  auto sub = py::interpreter::create();
  REQUIRE(sub.has_value());
  {
    auto attached = (*sub)->attach();
    const std::string text = eval("import _fastrt_test_legacy", "1");
    CHECK(text.find("ImportError") != std::string::npos);
    CHECK(text.find("does not support loading in subinterpreters") != std::string::npos);
  }
  REQUIRE((*sub)->end().has_value());
}

TEST_CASE("end() refuses while another thread still has a state in the interpreter") {
  fastrt::test::python_runtime();
  auto sub = py::interpreter::create();
  REQUIRE(sub.has_value());
  std::atomic<int> step{0};
  std::thread other([&] {
    (void)(*sub)->thread_state();
    step.store(1);
    while (step.load() != 2) std::this_thread::yield();
    (*sub)->release_thread();
  });
  while (step.load() != 1) std::this_thread::yield();
  auto refused = (*sub)->end();
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == std::errc::device_or_resource_busy);
  step.store(2);
  other.join();
  REQUIRE((*sub)->end().has_value());
}

TEST_CASE("attach() nests on the same interpreter") {
  fastrt::test::python_runtime();
  auto sub = py::interpreter::create();
  REQUIRE(sub.has_value());
  {
    auto outer = (*sub)->attach();
    {
      auto inner = (*sub)->attach();  // before: Fatal Python error (non-NULL old thread state)
      CHECK(eval("x = 6 * 7", "x") == "42");
    }
    // The inner attachment did not detach the outer one.
    CHECK(PyThreadState_Get() == (*sub)->thread_state());
    CHECK(eval("y = 1", "y") == "1");
  }
  CHECK(py::detail::attached_thread_state() == nullptr);
  REQUIRE((*sub)->end().has_value());
}

TEST_CASE("attach() while attached to another interpreter is a clear fatal error") {
  fastrt::test::python_runtime();
  auto a = py::interpreter::create();
  auto b = py::interpreter::create();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  auto report = fastrt::test::run_in_child([&] {
    auto outer = (*a)->attach();
    auto inner = (*b)->attach();
  });
  CHECK(report.aborted);
  CHECK(report.stderr_text.find("fastrt: fatal: fastrt::python::interpreter::attach") != std::string::npos);
  (*a)->release_thread();
  (*b)->release_thread();
  REQUIRE((*a)->end().has_value());
  REQUIRE((*b)->end().has_value());
}
