// ctest-labels: python http2 uring
// ASGI 3.0 apps (<fastrt/http2/python/asgi*.hpp>) through python_handler,
// driven on a real io_context loop against real CPython workers running
// tests/python/fastrt_asgi_app.py: the scope, a 1 MiB request body fed in
// pieces, streamed responses, the app's errors before and after the
// response starts, http.disconnect and cancellation when the client
// resets or the stream is dropped, --handler-timeout, the lifespan
// protocol (state in the scope, a failed startup, apps without lifespan)
// and the start-up detection of an ASGI app.
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/app_interface.hpp>
#include <fastrt/http2/python/asgi_lifespan.hpp>
#include <fastrt/http2/python/handler.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/when_all.hpp>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/elapsed.hpp"
#include "support/http2_response.hpp"
#include "support/io.hpp"
#include "support/python.hpp"

namespace py = fastrt::python;
namespace h2 = fastrt::http2;
namespace asgi = h2::python::asgi;
using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::test::header;
using fastrt::test::make_context;
using fastrt::test::ms_since;
using fastrt::test::run_on;
using h2::python::app_interface;
using h2::python::python_app;

namespace {

constexpr const char* apps[] = {"app", "failing_startup", "no_lifespan", "AsgiTwo"};

// CPython 3.12 runs event loops in the main interpreter only (event_loop.hpp).
constexpr bool loops_everywhere = PY_VERSION_HEX >= 0x030D0000;
constexpr py::worker_kind loop_kind = loops_everywhere ? py::worker_kind::pinned : py::worker_kind::main;

struct captured_log : h2::observer {
  void log(h2::log_level level, std::string_view line) override {
    std::lock_guard lock(mutex);
    lines.emplace_back(level, std::string(line));
  }
  // Every line logged so far, joined.
  std::string text() {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& [level, line] : lines) (out += line) += '\n';
    return out;
  }
  std::mutex mutex;
  std::vector<std::pair<h2::log_level, std::string>> lines;
};

// `workers` workers (pinned; main on 3.12) with the apps loaded, an io_context on this
// thread, and the app's lifespan (its shutdown also waits for the app's
// tasks still running).
struct server {
  std::unique_ptr<py::subinterpreter_executor> exec;
  std::unique_ptr<fastrt::io_context> ctx = make_context();
  py::handler request_type;
  captured_log log;
  std::optional<asgi::lifespan> life;

  // `started`: the lifespan's startup ran (and succeeded) here; else the
  // test runs it.
  explicit server(std::size_t workers = 1, const char* lifespan_app = "app",
                  asgi::lifespan_mode mode = asgi::lifespan_mode::automatic, bool started = true,
                  py::worker_kind kind = loop_kind) {
    if (fastrt::test::extra_builtins().empty()) fastrt::test::extra_builtins().push_back({"fastrt", &h2::python::init});
    py::executor_options options;
    options.pinned_workers = kind == py::worker_kind::pinned ? workers : 0;
    options.main_workers = kind == py::worker_kind::main ? workers : 0;
    options.handlers = {"fastrt:Request"};
    for (const char* a : apps) options.handlers.push_back(std::string("fastrt_asgi_app:") + a);
    exec = fastrt::test::start_executor(std::move(options));
    request_type = exec->handler_of("fastrt:Request").value();
    life.emplace(*exec, handler_of(lifespan_app), request_type, mode, &log);
    if (started) REQUIRE(life->startup().has_value());
  }
  ~server() {
    life->shutdown(std::chrono::steady_clock::now() + 5s);
    CHECK(exec->shutdown().has_value());
  }

  py::handler handler_of(const char* app) const {
    return exec->handler_of(std::string("fastrt_asgi_app:") + app).value();
  }
  h2::router::handler handler(std::chrono::milliseconds timeout = 0ms, const char* app = "app") {
    const python_app python(request_type, handler_of(app), exec.get(), nullptr, app_interface::asgi);
    return h2::python::python_handler(python, *exec, {.timeout = timeout, .events = &log});
  }
  h2::response answer(const h2::request& req, std::chrono::milliseconds timeout = 0ms) {
    const auto h = handler(timeout);
    return run_on(*ctx, h(req, {}));
  }
  // The app's module globals (one worker: one interpreter). On 3.12 that is
  // the main interpreter, which outlives this server: its counters carry
  // what earlier test cases did, so tests compare counts before and after.
  std::string seen() { return answer(get("/seen")).body; }
  // Counter `key` of /seen ("cancelled": 2 -> 2; -1: not there).
  long seen_count(const std::string& key) {
    const std::string text = seen();
    const std::string label = "\"" + key + "\": ";
    const std::size_t at = text.find(label);
    if (at == std::string::npos) return -1;
    return std::strtol(text.c_str() + at + label.size(), nullptr, 10);
  }
  // Polls /seen until counter `key` is `value` (at most 5 s).
  bool count_reaches(const std::string& key, long value) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      if (seen_count(key) == value) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  static h2::request get(std::string path, std::string query = {}) {
    h2::request req;
    req.method = "GET";
    req.path = std::move(path);
    req.query = std::move(query);
    return req;
  }
};

// The whole body: `r.body`, or its stream pulled on the loop.
std::string whole_body(server& s, h2::response& r, std::optional<fastrt::error>* failure = nullptr) {
  if (!r.stream) return r.body;
  auto body = [&]() -> coro_task<std::string> {
    std::string out;
    for (int i = 0; i < 10'000; ++i) {
      fastrt::result<std::string> piece = co_await r.stream();
      if (!piece) {
        if (failure) *failure = piece.error();
        break;
      }
      if (piece->empty()) break;
      out += *piece;
    }
    co_return out;
  };
  return run_on(*s.ctx, body());
}

}  // namespace

TEST_CASE("ASGI scope: the fields uvicorn gives, the lifespan state, an empty body") {
  server s;
  h2::request req = server::get("/scope/caf%C3%A9%20x", "a=1&b=%20");
  req.method = "PUT";
  req.authority = "example.test:8443";
  req.headers = {{"content-type", "text/plain"}, {"x-multi", "1"}, {"x-multi", "2"}};
  h2::connection_info info;
  info.client = {"10.1.2.3", 50123};
  info.server = {"127.0.0.1", 8443};
  h2::set_connection(req, info);
  h2::response r = s.answer(req);
  REQUIRE(r.status == 200);
  CHECK(!r.stream);  // one body message: sent whole
  CHECK(header(r, "content-type") == "application/json");
  for (const char* field :
       {R"("type": "http")", R"("asgi": {"version": "3.0", "spec_version": "2.3"})", R"("http_version": "2")",
        R"("method": "PUT")", R"("scheme": "http")", R"("path": "/scope/caf\u00e9 x")",
        R"("raw_path": "/scope/caf%C3%A9%20x")", R"("query_string": "a=1&b=%20")", R"("root_path": "")",
        R"("client": ["10.1.2.3", 50123])", R"("server": ["127.0.0.1", 8443])", R"("extensions": {})",
        // :authority as host (no host field came), then the fields in order.
        R"("headers": [["host", "example.test:8443"], ["content-type", "text/plain"], ["x-multi", "1"], ["x-multi", "2"]])",
        R"("state": [["greeting", "hello from startup"]])",
        R"("first": {"type": "http.request", "body": "", "more_body": false})"}) {
    INFO(field);
    CHECK(r.body.find(field) != std::string::npos);
  }
  INFO(r.body);
  // A host field the client sent is not doubled.
  req.headers = {{"host", "given.test"}};
  r = s.answer(req);
  CHECK(r.body.find(R"("headers": [["host", "given.test"]])") != std::string::npos);
}

TEST_CASE("ASGI request bodies: 1 MiB in 64 KiB pieces, echoed back while it streams") {
  server s;
  h2::request req = server::get("/hash");
  req.method = "POST";
  req.body.resize(1 << 20);
  for (std::size_t i = 0; i < req.body.size(); ++i) req.body[i] = static_cast<char>((i * 7919) >> 3);
  h2::response hashed = s.answer(req);
  REQUIRE(hashed.status == 200);
  // 16 pieces of 64 KiB, then the end (b'', more_body False).
  CHECK(hashed.body.find(R"("bytes": 1048576, "pieces": 17)") != std::string::npos);
  INFO(hashed.body);
  // The app's sha256 of what receive() gave is the body's (hashlib, on the worker).
  auto expected = fastrt::sync_wait(s.exec->submit_to(loop_kind, 0, [&req](py::call_context&) -> std::string {
    PyObject* hashlib = PyImport_ImportModule("hashlib");
    PyObject* body = PyBytes_FromStringAndSize(req.body.data(), static_cast<Py_ssize_t>(req.body.size()));
    PyObject* digest = hashlib && body ? PyObject_CallMethod(hashlib, "sha256", "O", body) : nullptr;
    Py_XDECREF(body);
    PyObject* hex = digest ? PyObject_CallMethod(digest, "hexdigest", nullptr) : nullptr;
    std::string out = hex ? PyUnicode_AsUTF8(hex) : "?";
    PyErr_Clear();
    Py_XDECREF(hex);
    Py_XDECREF(digest);
    Py_XDECREF(hashlib);
    return out;
  }));
  REQUIRE(expected.has_value());
  CHECK(expected->size() == 64);
  CHECK(hashed.body.find(R"("sha256": ")" + *expected + "\"") != std::string::npos);

  req.path = "/echo";
  h2::response echoed = s.answer(req);
  REQUIRE(echoed.status == 200);
  REQUIRE(echoed.stream);  // the head went out before the body was all read
  CHECK(whole_body(s, echoed) == req.body);
  CHECK(s.log.text().empty());
}

TEST_CASE("ASGI responses: many send() calls stream under flow control") {
  server s;
  h2::response r = s.answer(server::get("/stream", "n=50"));
  REQUIRE(r.status == 200);
  REQUIRE(r.stream);
  CHECK(header(r, "content-type") == "text/plain");
  std::string expected;
  for (int i = 0; i < 50; ++i) expected += "piece " + std::to_string(i) + "\n";
  CHECK(whole_body(s, r) == expected);
}

TEST_CASE("ASGI errors: before the response a 500 with the traceback, after it a failed stream") {
  server s;
  h2::response before = s.answer(server::get("/raise-before"));
  CHECK(before.status == 500);
  CHECK(s.log.text().find("GET /raise-before: the app raised an exception (500):\nKeyError: 'before the response'") !=
        std::string::npos);

  h2::response after = s.answer(server::get("/raise-after"));
  CHECK(after.status == 200);
  std::optional<fastrt::error> failure;
  CHECK(whole_body(s, after, &failure) == "partial");
  REQUIRE(failure);
  CHECK(std::string(failure->message()).find("ValueError: broken ASGI body") != std::string::npos);

  h2::response none = s.answer(server::get("/no-response"));
  CHECK(none.status == 500);
  CHECK(s.log.text().find("RuntimeError: the ASGI app returned without sending http.response.start") !=
        std::string::npos);

  // The app's protocol mistakes raise in send(), where the app made them.
  h2::response early = s.answer(server::get("/body-before-start"));
  CHECK(early.status == 500);
  CHECK(s.log.text().find("RuntimeError: ASGI: http.response.body sent before http.response.start") !=
        std::string::npos);
  for (const auto& [path, text] : {std::pair{"/start-twice", "RuntimeError: ASGI: http.response.start sent twice"},
                                   std::pair{"/str-body", "RuntimeError: ASGI: the response body must be bytes, not str"}}) {
    INFO(path);
    h2::response r = s.answer(server::get(path));
    CHECK(r.status == 200);
    failure.reset();
    whole_body(s, r, &failure);
    REQUIRE(failure);
    CHECK(std::string(failure->message()).find(text) != std::string::npos);
  }
}

TEST_CASE("ASGI disconnect: a client reset says http.disconnect to receive(), then cancels the app") {
  server s;
  const long disconnects = s.seen_count("disconnects");
  const long cancelled = s.seen_count("cancelled");
  REQUIRE(cancelled >= 0);
  const auto h = s.handler();
  std::stop_source reset;
  auto body = [&]() -> coro_task<h2::response> {
    auto stopper = [&]() -> coro_task<> {
      (void)co_await fastrt::sleep_for(*s.ctx, 300ms);  // the app waits in its second receive() by then
      reset.request_stop();
    };
    auto [given_up, unused] = co_await fastrt::when_all(h(server::get("/wait-disconnect"), reset.get_token()), stopper());
    co_return std::move(given_up);
  };
  const auto start = std::chrono::steady_clock::now();
  const h2::response r = run_on(*s.ctx, body());
  CHECK(ms_since(start) < 3000.0);  // not the app's 30 s sleep
  CHECK(r.status == 503);           // dropped by the connection
  CHECK(s.count_reaches("cancelled", cancelled + 1));
  CHECK(s.seen_count("disconnects") == disconnects + 1);
}

TEST_CASE("ASGI: a dropped response stream (client reset mid-body) cancels the sending app") {
  server s;
  const long cancelled = s.seen_count("cancelled");
  REQUIRE(cancelled >= 0);
  {
    h2::response r = s.answer(server::get("/forever-stream"));
    REQUIRE(r.stream);
    auto two = [&]() -> coro_task<std::size_t> {
      std::size_t got = 0;
      for (int i = 0; i < 2; ++i) {
        fastrt::result<std::string> piece = co_await r.stream();
        if (piece) got += piece->size();
      }
      co_return got;
    };
    CHECK(run_on(*s.ctx, two()) == 2 * 16384);
  }  // the connection drops the stream
  CHECK(s.count_reaches("cancelled", cancelled + 1));
}

TEST_CASE("ASGI --handler-timeout: 504 before the response starts, the app's task cancelled") {
  server s;
  const auto start = std::chrono::steady_clock::now();
  h2::response r = s.answer(server::get("/slow", "s=5"), 300ms);
  CHECK(r.status == 504);
  CHECK(ms_since(start) < 3000.0);
  CHECK(s.log.text().find("GET /slow: the app did not answer within --handler-timeout (504)") != std::string::npos);
  // The worker is free again at once: its task was cancelled, not awaited.
  h2::response next = s.answer(server::get("/stream", "n=1"), 2000ms);
  CHECK(next.status == 200);
}

TEST_CASE("ASGI lifespan: startup on every worker, shutdown at the end") {
  server s(2);
  s.life->shutdown(std::chrono::steady_clock::now() + 5s);
  CHECK(s.log.text().empty());
  // Each worker's interpreter saw its own startup and shutdown.
  for (std::size_t worker = 0; worker < 2; ++worker) {
    auto seen = fastrt::sync_wait(s.exec->submit_to(loop_kind, worker, [](py::call_context&) {
      PyObject* module = PyImport_ImportModule("fastrt_asgi_app");
      PyObject* seen = module ? PyObject_GetAttrString(module, "seen") : nullptr;
      PyObject* shown = seen ? PyObject_Repr(seen) : nullptr;
      std::string out = shown ? PyUnicode_AsUTF8(shown) : "?";
      PyErr_Clear();
      Py_XDECREF(shown);
      Py_XDECREF(seen);
      Py_XDECREF(module);
      return out;
    }));
    REQUIRE(seen.has_value());
    // (3.12: both workers are in the main interpreter, which saw both
    // lifespans, after those of the earlier tests of this process.)
    CHECK(seen->find(loops_everywhere ? "'lifespan': ['lifespan.startup', 'lifespan.shutdown']"
                                      : "'lifespan.startup', 'lifespan.startup', 'lifespan.shutdown', "
                                        "'lifespan.shutdown']") != std::string::npos);
  }
}

TEST_CASE("ASGI lifespan: a failed startup stops the server with the app's message; apps without lifespan") {
  {
    server s(1, "failing_startup", asgi::lifespan_mode::automatic, false);
    auto up = s.life->startup();
    REQUIRE(!up);
    CHECK(std::string(up.error().message()) == "the app's lifespan startup failed: the database is not there");
  }
  {
    server s(1, "no_lifespan", asgi::lifespan_mode::on, false);
    auto up = s.life->startup();
    REQUIRE(!up);
    CHECK(std::string(up.error().message()).find("--lifespan on, but the app does not support the lifespan protocol") !=
          std::string::npos);
    CHECK(std::string(up.error().message()).find("RuntimeError: only http here") != std::string::npos);
  }
  {
    server s(1, "no_lifespan");  // auto: serve without it, said at info
    CHECK(s.log.text().find("ASGI lifespan unsupported by the app, serving without it:") != std::string::npos);
    const h2::response r = run_on(*s.ctx, s.handler(0ms, "no_lifespan")(server::get("/"), {}));
    CHECK(r.body == "no lifespan");
  }
  CHECK(asgi::parse_lifespan("sometimes").error().message() == "the lifespan mode is auto, on or off, not 'sometimes'");
}

TEST_CASE("ASGI detection: async (scope, receive, send) is asgi; ASGI 2 is a clear error") {
  server s(1, "app", asgi::lifespan_mode::off);
  auto detect = [&](const char* name, std::optional<app_interface> wanted) {
    const py::handler h = s.handler_of(name);
    return fastrt::sync_wait(s.exec->submit_to(loop_kind, 0, [&](py::call_context& ctx) {
      return h2::python::detect_interface(ctx.object(h), wanted);
    }));
  };
  CHECK(detect("app", std::nullopt).value() == app_interface::asgi);
  CHECK(detect("app", app_interface::asgi).value() == app_interface::asgi);
  auto wrong = detect("app", app_interface::wsgi);
  REQUIRE(!wrong);
  CHECK(std::string(wrong.error().message()) ==
        "--interface wsgi does not fit the app: it takes (scope, receive, send) and is async, an ASGI app");
  auto two = detect("AsgiTwo", std::nullopt);
  REQUIRE(!two);
  CHECK(std::string(two.error().message()).find("ASGI 2 app") != std::string::npos);
  CHECK(h2::python::parse_interface("asgi").value() == app_interface::asgi);
}

TEST_CASE("ASGI workers: every worker must be able to run an event loop (CPython 3.12: main only)") {
  {
    server s(1, "app", asgi::lifespan_mode::off);
    CHECK(asgi::check_workers(*s.exec).has_value());
  }
  if constexpr (!loops_everywhere) {
    server s(1, "app", asgi::lifespan_mode::off, false, py::worker_kind::pinned);
    auto fits = asgi::check_workers(*s.exec);
    REQUIRE(!fits);
    CHECK(std::string(fits.error().message()).find("use --main-workers N alone, or CPython >= 3.13") !=
          std::string::npos);
    auto up = s.life->startup();  // what fastrt-h2 calls: the same error, before any job
    REQUIRE(!up);
    CHECK(up.error().message() == fits.error().message());
  }
}
