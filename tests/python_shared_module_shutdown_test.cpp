// ctest-labels: python
//
// Stdlib modules whose C part keeps process-wide objects (CPython 3.13's
// _datetime: static types, imported by datetime, email, sqlite3, zoneinfo)
// must not crash when several own-GIL subinterpreters import them and are
// ended in any order. The test ends the first importer first, so the last
// interpreter to finalize _datetime is not the one that allocated its
// shared objects: the order that aborted fastrt-h2 at SIGTERM ("free():
// invalid pointer" / tcmalloc "Attempt to free invalid pointer" in
// Py_EndInterpreter's tuple free-list clear). Its own process: the runtime
// must not have imported these modules before (CPython runs once per process).
#include <fastrt/python/interpreter.hpp>
#include <fastrt/python/runtime.hpp>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "support/python.hpp"

namespace py = fastrt::python;

namespace {

// Runs `code` in `interp` on this thread; returns "" or the Python error.
std::string run_in(py::interpreter& interp, const char* code) {
  auto attached = interp.attach();
  if (PyRun_SimpleString(code) != 0) return "failed: " + std::string(code);
  return {};
}

}  // namespace

TEST_CASE("subinterpreters importing datetime end cleanly, first importer first") {
  fastrt::test::python_runtime();
  // Repeated: once _datetime is finalized everywhere, the next import sets
  // its static types up again in whichever interpreter comes first.
  for (int round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<py::interpreter>> interps;
    for (int i = 0; i < 3; ++i) {
      auto created = py::interpreter::create();
      REQUIRE(created.has_value());
      interps.push_back(std::move(created).value());
    }
    const char* code =
        "import datetime, email.utils, sqlite3\n"
#if PY_VERSION_HEX >= 0x030D0000
        "import zoneinfo\n"  // 3.12's zoneinfo fails in any own-GIL subinterpreter (no datetime C API there)
#endif
        "assert datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc).year == 2024\n"
        "assert datetime.timedelta(days=1).total_seconds() == 86400\n";
    for (auto& interp : interps) CHECK(run_in(*interp, code).empty());
    for (auto& interp : interps) {
      auto ended = interp->end();
      CHECK(ended.has_value());
    }
  }
  // The main interpreter still works with datetime after all of them ended.
  CHECK(run_in(py::interpreter::main(), "import datetime\nassert datetime.date(2000, 1, 1).year == 2000\n").empty());
}
