// ctest-labels: python http2
// The Python bridge (<fastrt/http2/python/...>): the `fastrt` module
// (module.hpp, request_object.hpp, response_object.hpp) and python_app's
// conversion of what an app returns (app.hpp), including streamed bodies
// pulled piece by piece (streamed_body.hpp), driven without a socket.
#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/http2/python/request_object.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/http2_response.hpp"
#include "support/python.hpp"

namespace py = fastrt::python;
namespace pymod = fastrt::http2::python;
using fastrt::test::wait;
using fastrt::http2::python::python_app;
using py::worker_kind;

using fastrt::test::header;
using fastrt::test::pull;

namespace {

constexpr const char* routes[] = {"fastrt_module_app:app",        "fastrt_module_app:check_fields",
                                  "fastrt_module_app:check_headers", "fastrt_module_app:method_only",
                                  "fastrt_module_app:keep",         "fastrt_module_app:keep_in_generator",
                                  "fastrt_module_app:read_kept",    "fastrt_module_app:check_response_errors",
                                  "fastrt_module_app:check_connection", "fastrt_module_app:check_no_connection"};

// Two pinned workers (two own-GIL interpreters) with the fastrt module and the
// test app loaded.
struct server {
  std::unique_ptr<py::subinterpreter_executor> exec;
  py::handler request_type;

  server() {
    if (fastrt::test::extra_builtins().empty()) fastrt::test::extra_builtins().push_back({"fastrt", &pymod::init});
    py::executor_options options;
    options.pinned_workers = 2;
    options.handlers = {"fastrt:Request"};
    for (const char* r : routes) options.handlers.emplace_back(r);
    exec = fastrt::test::start_executor(std::move(options));
    request_type = exec->handler_of("fastrt:Request").value();
  }
  ~server() { CHECK(exec->shutdown().has_value()); }

  python_app app(const char* name = "app", bool with_executor = true) const {
    return python_app(request_type, exec->handler_of(std::string("fastrt_module_app:") + name).value(),
                      with_executor ? exec.get() : nullptr);
  }

  fastrt::result<fastrt::http2::response> call(const python_app& app, const fastrt::http2::request& req,
                                           std::size_t worker = 0) const {
    return wait(exec->submit_to(worker_kind::pinned, worker, [&](py::call_context& ctx) { return app(ctx, req); }));
  }
  fastrt::result<fastrt::http2::response> get(const std::string& path, std::size_t worker = 0) const {
    fastrt::http2::request req;
    req.method = "GET";
    req.path = path;
    return call(app(), req, worker);
  }
  std::string body_of(const std::string& path, std::size_t worker = 0) const {
    auto r = get(path, worker);
    if (!r) return "error: " + std::string(r.error().message());
    return r->body;
  }
};

fastrt::http2::request sample_request() {
  fastrt::http2::request req;
  req.method = "PUT";
  req.path = "/fields";
  req.query = "a=1&b=\xe9";
  req.headers = {{"x-demo", "yes"}, {"cookie", "a=1; b=2"}, {"x-multi", "1"}, {"x-multi", "2"}};
  req.body = std::string("body\0bytes", 10);
  return req;
}

}  // namespace

TEST_CASE("fastrt.Request: scheme, client, server, authority/host and raw_path from the connection") {
  server s;
  fastrt::http2::request req;
  req.method = "GET";
  req.path = "/caf%C3%A9/x";
  req.query = "q=1";
  req.authority = "example.test:8443";
  fastrt::http2::connection_info info;
  info.client = {"127.0.0.1", 50123};
  info.server = {"::1", 8443};
  fastrt::http2::set_connection(req, info);
  auto known = s.call(s.app("check_connection"), req);
  REQUIRE(known.has_value());
  CHECK(known->body == "ok");

  fastrt::http2::request bare;
  bare.method = "GET";
  bare.path = "/";
  bare.headers = {{"host", "from-host-field"}};
  auto unknown = s.call(s.app("check_no_connection"), bare);
  REQUIRE(unknown.has_value());
  CHECK(unknown->body == "ok");
}

TEST_CASE("fastrt.Request: fields, lazy headers, case-insensitive get and getall") {
  server s;
  const fastrt::http2::request req = sample_request();
  auto fields = s.call(s.app("check_fields"), req);
  REQUIRE(fields.has_value());
  CHECK(fields->body == "ok");
  auto headers = s.call(s.app("check_headers"), req);
  REQUIRE(headers.has_value());
  CHECK(headers->body == "ok");

  // White box: no header object exists until the app reads .headers, and a
  // Request nobody kept is dropped without making the rest.
  const py::handler method_handler = s.exec->handler_of("fastrt_module_app:method_only").value();
  auto report = wait(s.exec->submit_to(worker_kind::pinned, 0, [&](py::call_context& ctx) -> fastrt::result<std::string> {
    pymod::module_state* st = pymod::request_state(ctx.object(s.request_type));
    if (!st) return std::string("no module state");
    PyObject* object = pymod::new_request(st->request_type, req);
    if (!object) return py::take_exception();
    auto* r = reinterpret_cast<pymod::request_object*>(object);
    std::string text;
    auto mark = [&] {
      for (PyObject* f : r->fields) text += f ? '+' : '-';
      text += ' ';
    };
    mark();
    PyObject* out = PyObject_CallOneArg(ctx.object(method_handler), object);
    mark();
    Py_XDECREF(out);
    PyObject* h = PyObject_GetAttrString(object, "headers");
    mark();
    text += std::to_string(Py_REFCNT(object));
    Py_XDECREF(h);
    if (!pymod::release_request(object)) return py::take_exception();
    return text;
  }));
  REQUIRE(report.has_value());
  CHECK(*report == "---------- +--------- +--+------ 1");  // ten fields, only what was read is made
}

TEST_CASE("fastrt.Request kept by the app after the call still reads correctly") {
  server s;
  {
    // On the heap, freed right after the call: ASan reports any later read.
    auto req = std::make_unique<fastrt::http2::request>(sample_request());
    auto kept = s.call(s.app("keep"), *req);
    REQUIRE(kept.has_value());
    CHECK(kept->body == "kept");
  }
  auto other = sample_request();
  other.method = "GET";
  other.path = "/other";
  auto read = s.call(s.app("read_kept"), other);
  REQUIRE(read.has_value());
  CHECK(read->body ==
        "PUT /fields a=1&b=\xc3\xa9 [('x-demo', 'yes'), ('cookie', 'a=1; b=2'), ('x-multi', '1'), ('x-multi', '2')] "
        "b'body\\x00bytes' <fastrt.Request PUT /fields?a=1&b=\xc3\xa9>");

  // Captured by a streamed body's generator, pulled after the request is gone.
  fastrt::http2::body_stream stream;
  {
    auto req = std::make_unique<fastrt::http2::request>(sample_request());
    auto r = s.call(s.app("keep_in_generator"), *req);
    REQUIRE(r.has_value());
    stream = std::move(r->stream);
  }
  REQUIRE(stream);
  auto got = pull(stream);
  CHECK(got.ended);
  CHECK(got.pieces == std::vector<std::string>{"/fields", "yes", std::string("body\0bytes", 10)});
}

TEST_CASE("fastrt.Response: construction errors are TypeError / ValueError with clear messages") {
  server s;
  auto r = s.call(s.app("check_response_errors"), sample_request());
  REQUIRE(r.has_value());
  CHECK(r->body == "ok");
}

TEST_CASE("python_app converts every return kind") {
  server s;
  auto bytes = s.get("/bytes");
  REQUIRE(bytes.has_value());
  CHECK(bytes->status == 200);
  CHECK(bytes->body == "raw");
  CHECK(header(*bytes, "content-type") == "application/octet-stream");
  CHECK(!bytes->stream);
  CHECK(s.body_of("/bytearray") == "ba");

  auto text = s.get("/str");
  REQUIRE(text.has_value());
  CHECK(text->body == "text \xe2\x82\xac");
  CHECK(header(*text, "content-type") == "text/plain; charset=utf-8");

  auto tuple = s.get("/tuple");
  REQUIRE(tuple.has_value());
  CHECK(tuple->status == 201);
  CHECK(tuple->headers == fastrt::http2::header_list{{"x-one", "1"}, {"x-two", "2"}});
  CHECK(tuple->body == "tuple body");
  auto none = s.get("/tuple-none");
  REQUIRE(none.has_value());
  CHECK(none->status == 204);
  CHECK(none->body.empty());

  auto response = s.get("/response");
  REQUIRE(response.has_value());
  CHECK(response->status == 202);
  CHECK(response->headers == fastrt::http2::header_list{{"x-r", "1"}, {"content-type", "application/json"}});
  CHECK(response->body == "{}");
  CHECK(!response->stream);

  auto list = s.get("/response-list");
  REQUIRE(list.has_value());
  REQUIRE(list->stream);
  auto pieces = pull(list->stream);
  CHECK(pieces.ended);
  CHECK(pieces.pieces == std::vector<std::string>{"a", "b", "c"});

  for (const char* path : {"/invalid-int", "/invalid-status", "/invalid-header", "/invalid-body", "/list-body"}) {
    INFO(path);
    auto bad = s.get(path);
    REQUIRE(!bad.has_value());
    CHECK(bad.error() == std::errc::invalid_argument);
  }
  CHECK_THAT(std::string(s.get("/invalid-int").error().message()), Catch::Contains("app returned a int"));
  CHECK_THAT(std::string(s.get("/invalid-header").error().message()), Catch::Contains("NUL, CR or LF"));
  CHECK_THAT(std::string(s.get("/list-body").error().message()), Catch::Contains("a body of type list"));
  auto raised = s.get("/raise");
  REQUIRE(!raised.has_value());
  CHECK(raised.error() == py::exception_code);
  CHECK_THAT(std::string(raised.error().message()), Catch::StartsWith("KeyError: 'boom'"));
}

TEST_CASE("a generator body is pulled piece by piece on its own worker") {
  server s;
  for (std::size_t worker = 0; worker < 2; ++worker) {
    const std::string closed_before = s.body_of("/closed", worker);
    auto r = s.get("/response-gen", worker);
    REQUIRE(r.has_value());
    CHECK(header(*r, "content-length") == "5008");
    REQUIRE(r->stream);
    auto got = pull(r->stream);
    CHECK(got.ended);
    std::string three;
    for (int i = 0; i < 1000; ++i) three += "three";
    CHECK(got.pieces == std::vector<std::string>{"one", "two", three});  // the empty piece is skipped
    // Finished: the generator was released (its finally ran) in that job.
    CHECK(s.body_of("/closed", worker) == std::to_string(std::stoi(closed_before) + 1));
    // Pulling past the end keeps answering "the end".
    auto again = fastrt::sync_wait(r->stream());
    CHECK((again.has_value() && again->empty()));
  }

  auto tuple = s.get("/tuple-gen");
  REQUIRE(tuple.has_value());
  CHECK(header(*tuple, "content-type") == "application/octet-stream");
  auto got = pull(tuple->stream);
  CHECK(got.ended);
  CHECK(got.pieces == std::vector<std::string>{std::string(10, 'x'), "y"});
}

TEST_CASE("a failing generator body ends in an error; a dropped one is closed in its interpreter") {
  server s;
  auto raises = s.get("/gen-raises");
  REQUIRE(raises.has_value());
  auto got = pull(raises->stream);
  CHECK(got.pieces == std::vector<std::string>{"first"});
  REQUIRE(got.failure);
  CHECK(*got.failure == py::exception_code);
  CHECK_THAT(std::string(got.failure->message()), Catch::Contains("ValueError: broken generator"));

  auto bad = s.get("/gen-bad-piece");
  REQUIRE(bad.has_value());
  got = pull(bad->stream);
  CHECK(got.pieces == std::vector<std::string>{"fine"});
  REQUIRE(got.failure);
  CHECK(*got.failure == std::errc::invalid_argument);
  CHECK_THAT(std::string(got.failure->message()), Catch::Contains("a piece of type int; pieces must be bytes or str"));

  // A client reset: the server drops the stream mid-body. The release job
  // runs on worker 1 before the next job there, which sees the finally.
  const std::string closed_before = s.body_of("/closed", 1);
  {
    auto forever = s.get("/gen-forever", 1);
    REQUIRE(forever.has_value());
    got = pull(forever->stream, 3);
    CHECK(got.pieces == std::vector<std::string>{"z", "z", "z"});
  }
  CHECK(s.body_of("/closed", 1) == std::to_string(std::stoi(closed_before) + 1));

  // Without an executor python_app cannot stream: a clear error, no leak.
  fastrt::http2::request req;
  req.method = "GET";
  req.path = "/response-gen";
  auto no_executor = s.call(s.app("app", false), req);
  REQUIRE(!no_executor.has_value());
  CHECK(no_executor.error() == std::errc::operation_not_supported);
}

TEST_CASE("the fastrt module is imported per interpreter, with its own types") {
  server s;
  std::vector<std::uintptr_t> types;
  for (std::size_t worker = 0; worker < 2; ++worker) {
    auto seen = wait(s.exec->submit_to(worker_kind::pinned, worker, [&](py::call_context& ctx) -> fastrt::result<std::uintptr_t> {
      pymod::module_state* st = pymod::request_state(ctx.object(s.request_type));
      PyObject* module = PyImport_ImportModule("fastrt");
      if (!module) return py::take_exception();
      PyObject* request = PyObject_GetAttrString(module, "Request");
      PyObject* response = PyObject_GetAttrString(module, "Response");
      const bool same = st && request == reinterpret_cast<PyObject*>(st->request_type) &&
                        response == reinterpret_cast<PyObject*>(st->response_type);
      Py_XDECREF(request);
      Py_XDECREF(response);
      Py_DECREF(module);
      if (!same) return fastrt::error(std::errc::invalid_argument, "fastrt.Request is not the module state's type");
      return reinterpret_cast<std::uintptr_t>(st->request_type);
    }));
    REQUIRE(seen.has_value());
    types.push_back(*seen);
  }
  CHECK(types[0] != types[1]);
  // And requests work in both.
  for (std::size_t worker = 0; worker < 2; ++worker) {
    auto r = s.call(s.app("check_headers"), sample_request(), worker);
    REQUIRE(r.has_value());
    CHECK(r->body == "ok");
  }
  // Something that is not fastrt.Request as the request type: a clear error.
  auto wrong = wait(s.exec->submit_to(worker_kind::pinned, 0, [&](py::call_context& ctx) {
    const python_app app(s.exec->handler_of("fastrt_module_app:app").value(),
                         s.exec->handler_of("fastrt_module_app:app").value(), s.exec.get());
    return app(ctx, sample_request());
  }));
  REQUIRE(!wrong.has_value());
  CHECK_THAT(std::string(wrong.error().message()), Catch::Contains("not fastrt.Request"));
}
