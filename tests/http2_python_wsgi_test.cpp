// ctest-labels: python http2
// The WSGI bridge (<fastrt/http2/python/wsgi*.hpp>) driven without a socket:
// python_app with app_interface::wsgi over tests/python/fastrt_wsgi_app.py,
// on two own-GIL interpreters — the environ, start_response's PEP 3333
// rules (exc_info, write(), a second call), lists and streamed iterables,
// close() on every path, errors before and after the response starts — and
// the start-up detection of an app's interface (app_interface.hpp).
#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/app_interface.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/http2_response.hpp"
#include "support/python.hpp"

namespace py = fastrt::python;
namespace pymod = fastrt::http2::python;
using fastrt::test::wait;
using pymod::app_interface;
using pymod::python_app;
using py::worker_kind;

using fastrt::test::header;
using fastrt::test::pull;

namespace {

constexpr const char* handlers[] = {"fastrt_wsgi_app:app",   "fastrt_wsgi_app:native",       "fastrt_wsgi_app:wsgi_object",
                                    "fastrt_wsgi_app:asgi",  "fastrt_wsgi_app:async_native", "fastrt_wsgi_app:three"};

struct server {
  std::unique_ptr<py::subinterpreter_executor> exec;
  py::handler request_type;

  server() {
    if (fastrt::test::extra_builtins().empty()) fastrt::test::extra_builtins().push_back({"fastrt", &pymod::init});
    py::executor_options options;
    options.pinned_workers = 2;
    options.handlers = {"fastrt:Request"};
    for (const char* h : handlers) options.handlers.emplace_back(h);
    exec = fastrt::test::start_executor(std::move(options));
    request_type = exec->handler_of("fastrt:Request").value();
  }
  ~server() { CHECK(exec->shutdown().has_value()); }

  python_app app() const {
    return python_app(request_type, exec->handler_of("fastrt_wsgi_app:app").value(), exec.get(), nullptr,
                      app_interface::wsgi);
  }
  fastrt::result<fastrt::http2::response> call(const fastrt::http2::request& req, std::size_t worker = 0) const {
    const python_app a = app();
    return wait(exec->submit_to(worker_kind::pinned, worker, [&](py::call_context& ctx) { return a(ctx, req); }));
  }
  fastrt::result<fastrt::http2::response> get(const std::string& path, std::size_t worker = 0) const {
    fastrt::http2::request req;
    req.method = "GET";
    req.path = path;
    return call(req, worker);
  }
  int closed(std::size_t worker = 0) const {
    auto r = get("/closed", worker);
    return r ? std::stoi(r->body) : -1;
  }
  fastrt::result<app_interface> detect(const char* name, std::optional<app_interface> wanted) const {
    const py::handler h = exec->handler_of(name).value();
    return wait(exec->submit_to(worker_kind::pinned, 0, [&](py::call_context& ctx) {
      return pymod::detect_interface(ctx.object(h), wanted);
    }));
  }
};

std::string message(const fastrt::error& e) { return std::string(e.message()); }

}  // namespace

TEST_CASE("WSGI environ: PEP 3333 keys from the request and its connection") {
  server s;
  fastrt::http2::request req;
  req.method = "PUT";
  req.path = "/environ/caf%C3%A9%20x";
  req.query = "a=1&b=%20";
  req.authority = "example.test";
  req.headers = {{"content-type", "text/plain"}, {"content-length", "4"}, {"x-multi", "1"},
                 {"cookie", "a=1; b=2"},        {"x-multi", "2"},         {"x_under_score", "dropped"}};
  req.body = "body";
  fastrt::http2::connection_info info;
  info.client = {"10.1.2.3", 50123};
  info.server = {"127.0.0.1", 8443};
  fastrt::http2::set_connection(req, info);
  for (std::size_t worker = 0; worker < 2; ++worker) {
    auto r = s.call(req, worker);
    REQUIRE(r.has_value());
    CHECK(r->body == "ok");
  }
  CHECK(fastrt::http2::python::wsgi::percent_decoded("/a%2fb%zz%4") == "/a/b%zz%4");
}

TEST_CASE("WSGI environ: constant values made once per interpreter, each environ a fresh dict") {
  server s;
  for (std::size_t worker = 0; worker < 2; ++worker) {
    auto first = s.get("/constants", worker);
    REQUIRE(first.has_value());
    CHECK(first->body == "fresh new");  // nothing to compare with yet
    for (int i = 0; i < 3; ++i) {
      auto again = s.get("/constants", worker);
      REQUIRE(again.has_value());
      CHECK(again->body == "fresh same");
    }
  }
}

TEST_CASE("WSGI responses: lists, write(), late start_response, hop-by-hop fields dropped") {
  server s;
  auto list = s.get("/list");
  REQUIRE(list.has_value());
  CHECK(list->status == 201);
  CHECK(list->body == "ab");
  CHECK(!list->stream);
  CHECK(header(*list, "content-type") == "text/plain");  // names lower-cased
  CHECK(header(*list, "x-two") == "2");
  CHECK(header(*list, "connection") == "<none>");
  CHECK(header(*list, "keep-alive") == "<none>");

  const int closed_before = s.closed();
  auto written = s.get("/write");
  REQUIRE(written.has_value());
  REQUIRE(written->stream);  // "x" is the first non-empty piece: the rest streams
  auto got = pull(written->stream);
  CHECK(got.ended);
  CHECK(got.pieces == std::vector<std::string>{"w1w2x"});  // write() data first, with the first piece
  CHECK(s.closed() == closed_before + 1);

  auto late = s.get("/late-start");
  REQUIRE(late.has_value());
  CHECK(late->status == 202);
  CHECK(header(*late, "x-late") == "yes");
  got = pull(late->stream);
  CHECK(got.pieces == std::vector<std::string>{"data", "more"});
  CHECK(got.ended);
}

TEST_CASE("WSGI close() is called on every path") {
  server s;
  int closed = s.closed(1);
  auto streamed = s.get("/closing-stream", 1);
  REQUIRE(streamed.has_value());
  auto got = pull(streamed->stream);
  CHECK(got.pieces == std::vector<std::string>{"one", "two"});
  CHECK(s.closed(1) == ++closed);  // at the end

  auto empty = s.get("/closing-empty", 1);
  REQUIRE(empty.has_value());
  CHECK(empty->status == 204);
  CHECK(!empty->stream);
  CHECK(s.closed(1) == ++closed);  // the body was whole before the headers went out

  auto first = s.get("/raise-in-first", 1);
  REQUIRE(!first.has_value());
  CHECK(first.error() == py::exception_code);
  CHECK_THAT(message(first.error()), Catch::Contains("ValueError: in the first piece"));
  CHECK(s.closed(1) == ++closed);  // failed before the response started

  auto no_start = s.get("/no-start", 1);
  REQUIRE(!no_start.has_value());
  CHECK_THAT(message(no_start.error()), Catch::Contains("did not call start_response()"));
  CHECK(s.closed(1) == ++closed);

  auto raises = s.get("/gen-raises", 1);
  REQUIRE(raises.has_value());
  got = pull(raises->stream);
  CHECK(got.pieces == std::vector<std::string>{"a"});
  REQUIRE(got.failure);
  CHECK_THAT(message(*got.failure), Catch::Contains("ValueError: broken WSGI body"));
  CHECK(s.closed(1) == ++closed);  // after the response started: the stream fails, close() still runs

  {
    auto forever = s.get("/forever", 1);
    REQUIRE(forever.has_value());
    got = pull(forever->stream, 3);
    CHECK(got.pieces == std::vector<std::string>{"z", "z", "z"});
  }  // dropped mid-body, as a client reset or a timeout drops it
  CHECK(s.closed(1) == ++closed);
}

TEST_CASE("WSGI errors: before the response starts an error (500), after it the stream fails") {
  server s;
  auto before = s.get("/raise-before");
  REQUIRE(!before.has_value());
  CHECK(before.error() == py::exception_code);
  CHECK_THAT(message(before.error()), Catch::Contains("KeyError: 'before the response'"));
  CHECK_THAT(message(before.error()), Catch::Contains("Traceback"));

  auto replaced = s.get("/exc-info-replace");
  REQUIRE(replaced.has_value());
  CHECK(replaced->status == 503);
  CHECK(header(*replaced, "x-replaced") == "yes");
  CHECK(header(*replaced, "content-type") == "<none>");  // replaced, not merged
  CHECK(replaced->body == "sorry");

  auto after = s.get("/exc-info-after");
  REQUIRE(after.has_value());
  CHECK(after->status == 200);
  auto got = pull(after->stream);
  CHECK(got.pieces == std::vector<std::string>{"first"});
  REQUIRE(got.failure);
  CHECK_THAT(message(*got.failure), Catch::Contains("ValueError: too late to change the headers"));  // re-raised

  auto second = s.get("/second-call");
  REQUIRE(!second.has_value());
  CHECK_THAT(message(second.error()), Catch::Contains("start_response() was already called"));

  auto bad_header = s.get("/bad-header");
  REQUIRE(!bad_header.has_value());
  CHECK_THAT(message(bad_header.error()), Catch::Contains("ValueError: header 'X-Bad'"));

  auto bad_status = s.get("/bad-status");
  REQUIRE(!bad_status.has_value());
  CHECK_THAT(message(bad_status.error()), Catch::Contains("status must be 'NNN reason'"));

  auto str_piece = s.get("/str-piece");
  REQUIRE(!str_piece.has_value());
  CHECK_THAT(message(str_piece.error()), Catch::Contains("a piece of type str; pieces must be bytes"));
}

TEST_CASE("app_interface: detected from the callable at start-up; a wrong choice is an error") {
  server s;
  CHECK(s.detect("fastrt_wsgi_app:app", std::nullopt).value() == app_interface::wsgi);
  CHECK(s.detect("fastrt_wsgi_app:wsgi_object", std::nullopt).value() == app_interface::wsgi);  // like a Flask object
  CHECK(s.detect("fastrt_wsgi_app:native", std::nullopt).value() == app_interface::native);
  CHECK(s.detect("fastrt_wsgi_app:app", app_interface::wsgi).value() == app_interface::wsgi);

  CHECK(s.detect("fastrt_wsgi_app:asgi", std::nullopt).value() == app_interface::asgi);  // asgi.hpp
  CHECK(s.detect("fastrt_wsgi_app:async_native", std::nullopt).value() == app_interface::native);  // awaited in the loop

  auto wrong = s.detect("fastrt_wsgi_app:native", app_interface::wsgi);
  REQUIRE(!wrong.has_value());
  CHECK_THAT(message(wrong.error()), Catch::Contains("--interface wsgi does not fit the app"));
  auto wrong2 = s.detect("fastrt_wsgi_app:app", app_interface::native);
  REQUIRE(!wrong2.has_value());
  CHECK_THAT(message(wrong2.error()), Catch::Contains("(environ, start_response)"));

  auto three = s.detect("fastrt_wsgi_app:three", std::nullopt);
  REQUIRE(!three.has_value());
  CHECK_THAT(message(three.error()), Catch::Contains("takes 3 positional parameter(s)"));

  CHECK(pymod::parse_interface("auto").value() == std::nullopt);
  CHECK(pymod::parse_interface("asgi").value() == app_interface::asgi);
  CHECK(!pymod::parse_interface("cgi").has_value());
}
