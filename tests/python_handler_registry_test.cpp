// ctest-labels: python
//
// fastrt/python/handler_registry.hpp: "module:function" specs, the names ->
// handles registry, and importing a handler in a real interpreter.
#include <fastrt/python/handler_registry.hpp>
#include <fastrt/python/interpreter.hpp>

#include <catch2/catch.hpp>
#include <string>

#include "support/python.hpp"

namespace py = fastrt::python;

TEST_CASE("a handler spec is module:function, the function possibly dotted") {
  auto dotted = py::handler_spec::parse("app.views:Index.get");
  REQUIRE(dotted.has_value());
  CHECK(dotted->module == "app.views");
  CHECK(dotted->attribute == "Index.get");
  CHECK(dotted->text == "app.views:Index.get");

  for (const char* bad : {"app.views", ":index", "app.views:", ""}) {
    auto parsed = py::handler_spec::parse(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error() == std::errc::invalid_argument);
    CHECK(std::string(parsed.error().message()) ==
          "handler '" + std::string(bad) + "' is not of the form 'module:function'");
  }
}

TEST_CASE("the registry hands out one handle per name and frees a failed one") {
  py::handler_registry registry;
  auto first = registry.reserve("m:a");
  REQUIRE(first.has_value());
  CHECK(first->fresh);
  CHECK_FALSE(registry.find("m:a").has_value());  // not loaded yet
  registry.commit(first->h);
  REQUIRE(registry.find("m:a").has_value());
  CHECK(registry.find("m:a")->index == first->h.index);

  auto again = registry.reserve("m:a");  // a re-load: same handle, not fresh
  REQUIRE(again.has_value());
  CHECK_FALSE(again->fresh);
  CHECK(again->h.index == first->h.index);

  auto failed = registry.reserve("m:broken");
  REQUIRE(failed.has_value());
  registry.release(failed->h);  // its load failed
  CHECK_FALSE(registry.find("m:broken").has_value());
  auto next = registry.reserve("m:b");
  REQUIRE(next.has_value());
  CHECK(next->h.index == failed->h.index);  // the freed handle is used again
  auto missing = registry.find("m:nope");
  REQUIRE_FALSE(missing.has_value());
  CHECK(std::string(missing.error().message()) == "handler 'm:nope' was not loaded");
}

TEST_CASE("at most max_handlers names") {
  py::handler_registry registry;
  for (std::size_t i = 0; i < py::max_handlers; ++i) REQUIRE(registry.reserve("m:f" + std::to_string(i)).has_value());
  auto one_more = registry.reserve("m:too_many");
  REQUIRE_FALSE(one_more.has_value());
  CHECK(one_more.error() == std::errc::too_many_files_open);
  CHECK(registry.reserve("m:f0").has_value());  // a known name still resolves
}

TEST_CASE("importing a handler: callables found, errors say what and where") {
  fastrt::test::python_runtime();
  auto attached = py::interpreter::main().attach();
  auto import = [](const char* text) {
    return py::detail::import_handler(py::handler_spec::parse(text).value(), std::string("loading ") + text);
  };

  auto upper = import("fastrt_test_handlers:upper");
  REQUIRE(upper.has_value());
  CHECK(PyCallable_Check(*upper));
  auto method = import("builtins:str.upper");  // dotted: walks attributes
  REQUIRE(method.has_value());

  py::detail::handler_table table;
  const py::handler h{3};
  CHECK(table.find(h) == nullptr);
  const Py_ssize_t before = Py_REFCNT(*upper);
  table.replace(h, *upper);  // takes the reference
  CHECK(table.find(h) == *upper);
  CHECK(table.find(py::handler{py::max_handlers}) == nullptr);  // out of range: not loaded
  table.replace(h, *method);
  CHECK(Py_REFCNT(*upper) == before - 1);  // the old one was dropped
  CHECK(table.find(h) == *method);
  table.clear();
  CHECK(table.find(h) == nullptr);

  auto no_module = import("fastrt_no_such_module:f");
  REQUIRE_FALSE(no_module.has_value());
  CHECK(no_module.error() == py::exception_code);
  CHECK(no_module.error().message().find("loading fastrt_no_such_module:f") != std::string_view::npos);
  CHECK(no_module.error().message().find("ModuleNotFoundError") != std::string_view::npos);

  auto no_function = import("fastrt_test_handlers:no_such_function");
  REQUIRE_FALSE(no_function.has_value());
  CHECK(no_function.error().message().find("AttributeError") != std::string_view::npos);

  auto not_callable = import("fastrt_test_handlers:state");  // a str
  REQUIRE_FALSE(not_callable.has_value());
  CHECK(not_callable.error() == std::errc::invalid_argument);
  CHECK(std::string(not_callable.error().message()) == "loading fastrt_test_handlers:state: 'state' is not callable");
  CHECK_FALSE(PyErr_Occurred());
}

TEST_CASE("a module refusing subinterpreters gets a hint to use main workers") {
  fastrt::test::python_runtime();
  auto sub = py::interpreter::create();
  REQUIRE(sub.has_value());
  {
    auto attached = (*sub)->attach();
    auto legacy = py::detail::import_handler(py::handler_spec::parse("fastrt_test_legacy_handler:answer").value(), "here");
    REQUIRE_FALSE(legacy.has_value());
    const std::string text(legacy.error().message());
    CHECK(text.find("does not support loading in subinterpreters") != std::string::npos);
    CHECK(text.find("hint: a module it imports refuses subinterpreters; load 'fastrt_test_legacy_handler:answer' "
                    "on main workers instead") != std::string::npos);
  }
  REQUIRE((*sub)->end().has_value());
}
