// ctest-labels: python http2
// The bridge's registry of running app calls (<fastrt/http2/python/in_flight_calls.hpp>):
// what a shutdown that times out names. Entries made on a worker, with its
// real call_context, list method, path, worker kind and index; they leave the
// list when they end, in any order.
#include <fastrt/http2/python/in_flight_calls.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "support/python.hpp"

namespace py = fastrt::python;
using fastrt::http2::python::in_flight_calls;
using fastrt::test::wait;

namespace {

fastrt::http2::request request_for(const char* method, const char* path) {
  fastrt::http2::request req;
  req.method = method;
  req.path = path;
  return req;
}

}  // namespace

TEST_CASE("in_flight_calls lists the calls running on workers and forgets the ones that ended") {
  py::executor_options options;
  options.pinned_workers = 2;
  auto exec = fastrt::test::start_executor(std::move(options));
  in_flight_calls calls;
  CHECK(calls.describe().empty());

  const fastrt::http2::request get = request_for("GET", "/sleep");
  const fastrt::http2::request post = request_for("POST", "/upload");
  auto seen = wait(exec->submit_to(py::worker_kind::pinned, 1, [&](py::call_context& ctx) -> fastrt::result<std::string> {
    std::optional<in_flight_calls::entry> first(std::in_place, &calls, get, ctx);
    std::string both;
    {
      const in_flight_calls::entry second(&calls, post, ctx);
      both = calls.describe(std::chrono::steady_clock::now() + std::chrono::milliseconds(1500));
    }
    first.reset();  // the older entry ends last: unlinking works from either end
    return both + "|" + calls.describe();
  }));
  REQUIRE(seen.has_value());
  // Newest first; the time is measured from the entry's start to `now`
  // (1.5 s, or a little more on a loaded machine).
  CHECK(seen->starts_with("POST /upload (pinned worker 1, 1."));
  CHECK(seen->find(" s), GET /sleep (pinned worker 1, 1.") != std::string::npos);
  CHECK(seen->ends_with(" s)|"));
  CHECK(calls.describe().empty());

  // Without a registry an entry is a no-op (python_app without in_flight).
  auto none = wait(exec->submit_to(py::worker_kind::pinned, 0, [&](py::call_context& ctx) -> fastrt::result<std::string> {
    const in_flight_calls::entry running(nullptr, get, ctx);
    return calls.describe();
  }));
  REQUIRE(none.has_value());
  CHECK(none->empty());
  CHECK(exec->shutdown().has_value());
}
