// ctest-labels: python http2 uring
// python_handler (<fastrt/http2/python/handler.hpp>): the Python app as a
// router handler, driven on a real io_context loop against real CPython
// workers (tests/python/fastrt_handler_app.py): answers, failures mapped to
// 500 / 504 / 503 with their log lines, a stop token that keeps the app from
// running, and a streamed body whose stalled piece times out.
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/handler.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/when_all.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/elapsed.hpp"
#include "support/io.hpp"
#include "support/http2_response.hpp"
#include "support/python.hpp"

namespace py = fastrt::python;
namespace h2 = fastrt::http2;
using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::test::make_context;
using fastrt::test::ms_since;
using fastrt::test::run_on;
using h2::python::python_app;
using h2::python::python_handler;
using h2::python::python_handler_options;

using fastrt::test::header;

namespace {

constexpr const char* apps[] = {"hello", "boom", "slow", "count", "stalls", "bad_return"};

// What the handler logged.
struct captured_log : h2::observer {
  struct entry {
    h2::log_level level;
    std::string line;
  };
  void log(h2::log_level level, std::string_view line) override {
    std::lock_guard lock(mutex);
    lines.push_back({level, std::string(line)});
  }
  std::vector<entry> taken() {
    std::lock_guard lock(mutex);
    return lines;
  }
  std::mutex mutex;
  std::vector<entry> lines;
};

// One pinned worker (one own-GIL interpreter) with the fastrt module and
// the apps loaded, and an io_context on this thread to drive handlers on.
struct server {
  std::unique_ptr<py::subinterpreter_executor> exec;
  std::unique_ptr<fastrt::io_context> ctx = make_context();
  py::handler request_type;
  captured_log log;

  explicit server(std::size_t queue_capacity = 64, std::size_t batch = 64) {
    if (fastrt::test::extra_builtins().empty())
      fastrt::test::extra_builtins().push_back({"fastrt", &h2::python::init});
    py::executor_options options;
    options.pinned_workers = 1;
    options.queue_capacity = queue_capacity;
    options.batch = batch;
    options.handlers = {"fastrt:Request"};
    for (const char* a : apps) options.handlers.push_back(std::string("fastrt_handler_app:") + a);
    exec = fastrt::test::start_executor(std::move(options));
    request_type = exec->handler_of("fastrt:Request").value();
  }
  ~server() { CHECK(exec->shutdown().has_value()); }

  h2::router::handler handler(const char* app, std::chrono::milliseconds timeout = 0ms) {
    python_handler_options opts;
    opts.timeout = timeout;
    opts.events = &log;
    const python_app python(request_type, exec->handler_of(std::string("fastrt_handler_app:") + app).value(),
                            exec.get());
    return python_handler(python, *exec, opts);
  }

  // Runs one request through `h` on the loop.
  h2::response answer(const h2::router::handler& h, const h2::request& req, std::stop_token token = {}) {
    return run_on(*ctx, h(req, std::move(token)));
  }
};

h2::request get(std::string path, std::string query = {}) {
  h2::request req;
  req.method = "GET";
  req.path = std::move(path);
  req.query = std::move(query);
  return req;
}

// Holds the worker busy in a job of its own until release() (at most 20 s,
// so a failing test cannot hang), so that what the test submits next waits
// in the worker's queue.
class worker_blocker {
 public:
  explicit worker_blocker(py::subinterpreter_executor& exec)
      : done_(exec.submit_to(py::worker_kind::pinned, 0, [this](py::call_context&) {
          started_.store(true, std::memory_order_release);
          const auto limit = std::chrono::steady_clock::now() + 20s;
          while (!released_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < limit)
            std::this_thread::sleep_for(1ms);
        })) {
    const auto limit = std::chrono::steady_clock::now() + 20s;
    while (!started_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(1ms);
  }
  worker_blocker(const worker_blocker&) = delete;
  worker_blocker& operator=(const worker_blocker&) = delete;
  ~worker_blocker() {
    release();
    (void)fastrt::sync_wait(std::move(done_));
  }
  bool started() const noexcept { return started_.load(std::memory_order_acquire); }
  void release() noexcept { released_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> started_{false};
  std::atomic<bool> released_{false};
  decltype(std::declval<py::subinterpreter_executor&>().submit_to(py::worker_kind::pinned, 0,
                                                                  [](py::call_context&) {})) done_;
};

}  // namespace

TEST_CASE("python_handler: the app's answer is the response") {
  server s;
  const auto h = s.handler("hello", 5s);
  const h2::response r = s.answer(h, get("/there"));
  CHECK(r.status == 200);
  CHECK(r.body == "hello /there");
  CHECK(header(r, "content-type") == "text/plain; charset=utf-8");
  CHECK(!r.stream);
  CHECK(s.log.taken().empty());
}

TEST_CASE("python_handler: an app that raises gives 500 and one error line with the traceback") {
  server s;
  const auto h = s.handler("boom");
  const h2::response r = s.answer(h, get("/boom\"q"));
  CHECK(r.status == 500);
  CHECK(r.body == "Internal Server Error\n");
  const auto lines = s.log.taken();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].level == h2::log_level::error);
  const std::string& line = lines[0].line;
  INFO(line);
  // The request text is escaped; the traceback is the app's, kept as it is.
  CHECK(line.starts_with("GET /boom\\x22q: the app raised an exception (500):\n"));
  CHECK(line.find("ValueError: boom from the app at /boom\"q") != std::string::npos);
  CHECK(line.find("Traceback (most recent call last):") != std::string::npos);
  CHECK(line.find("in boom") != std::string::npos);
  CHECK(!line.ends_with("\n"));
}

TEST_CASE("python_handler: an app returning something unusable gives 500 and an error line saying what") {
  server s;
  const auto h = s.handler("bad_return");
  const h2::response r = s.answer(h, get("/bad"));
  CHECK(r.status == 500);
  const auto lines = s.log.taken();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].level == h2::log_level::error);
  CHECK(lines[0].line ==
        "GET /bad: app returned a int; expected bytes, str, (status, headers, body) or fastrt.Response (500)");
}

TEST_CASE("python_handler: an executor that is shutting down gives 503, not a hang") {
  server s;
  const auto h = s.handler("hello", 5s);
  REQUIRE(s.exec->shutdown().has_value());
  const h2::response r = s.answer(h, get("/late"));
  CHECK(r.status == 503);
  CHECK(r.body == "Service Unavailable: the Python workers are stopping\n");
  CHECK(s.log.taken().empty());
}

TEST_CASE("python_handler: an app slower than the timeout gives 504 in time, and a log line") {
  server s;
  const auto h = s.handler("slow", 100ms);
  const auto start = std::chrono::steady_clock::now();
  const h2::response r = s.answer(h, get("/slow", "2"));  // the app sleeps 2 s
  const double elapsed = ms_since(start);
  CHECK(r.status == 504);
  CHECK(r.body == "Gateway Timeout: the app did not answer in time\n");
  CHECK(elapsed >= 100.0);
  CHECK(elapsed < 1500.0);  // did not wait for the app
  const auto lines = s.log.taken();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].level == h2::log_level::error);
  CHECK(lines[0].line == "GET /slow: the app did not answer within --handler-timeout (504)");
}

TEST_CASE("python_handler: a request the server holds by a shared_ptr is shared with the job, not copied") {
  server s;
  const auto h = s.handler("slow", 100ms);
  const auto held = std::make_shared<const h2::request>(get("/shared", "1"));  // as connection.hpp holds it
  const h2::response r = s.answer(h, *held);  // 504 after 100 ms; the app sleeps on for 1 s
  CHECK(r.status == 504);
  CHECK(held.use_count() >= 2);  // the worker's job holds this very request
  const h2::request plain = get("/copied", "1");
  CHECK(plain.weak_from_this().expired());  // not held: python_handler copies it (the 504 test above)
}

TEST_CASE("python_handler: full worker queues give 503 with retry-after, and nothing is logged") {
  // Two slots: the blocker's own stays taken while it runs (a worker hands
  // back a batch's slots when the batch ends: batches of one job, so that no
  // earlier job's slot is still taken too), the first request takes the
  // other.
  server s(2, 1);
  const auto h = s.handler("hello", 5s);
  worker_blocker blocker(*s.exec);
  REQUIRE(blocker.started());
  auto body = [&]() -> coro_task<std::pair<h2::response, h2::response>> {
    // The first request takes the queue's one slot; the second finds it full
    // and, answered at once, lets the worker go.
    auto second = [&]() -> coro_task<h2::response> {
      h2::response r = co_await h(get("/second"), {});
      blocker.release();
      co_return r;
    };
    auto [first, refused] = co_await fastrt::when_all(h(get("/first"), {}), second());
    co_return std::pair{std::move(first), std::move(refused)};
  };
  auto [first, refused] = run_on(*s.ctx, body());
  CHECK(refused.status == 503);
  CHECK(header(refused, "retry-after") == "1");
  CHECK(refused.body == "Service Unavailable: the Python workers are busy\n");
  CHECK(first.status == 200);
  CHECK(first.body == "hello /first");
  CHECK(s.log.taken().empty());
}

TEST_CASE("python_handler: a request given up before a worker takes it never runs the app") {
  // With a timeout and without: the stop token reaches the await either way.
  for (const std::chrono::milliseconds timeout : {0ms, 5000ms}) {
    INFO("timeout " << timeout.count() << " ms");
    server s;
    const auto h = s.handler("count", timeout);
    {
      // Stopped while its job waits behind a busy worker: the handler returns
      // at once (the connection drops the answer) and the job skips the app.
      worker_blocker blocker(*s.exec);
      REQUIRE(blocker.started());
      std::stop_source reset;
      auto body = [&]() -> coro_task<h2::response> {
        auto stopper = [&]() -> coro_task<> {
          reset.request_stop();
          co_return;
        };
        auto [given_up, unused] = co_await fastrt::when_all(h(get("/count"), reset.get_token()), stopper());
        co_return std::move(given_up);
      };
      const auto start = std::chrono::steady_clock::now();
      const h2::response r = run_on(*s.ctx, body());
      CHECK(ms_since(start) < 2000.0);  // did not wait for the worker (held up to 20 s)
      CHECK(r.status == 503);
    }
    {
      // Stopped before the handler was even called.
      std::stop_source reset;
      reset.request_stop();
      const h2::response r = s.answer(h, get("/count"), reset.get_token());
      CHECK(r.status == 503);
    }
    // The one worker runs jobs in order: both skipped jobs ran before this one.
    const h2::response r = s.answer(h, get("/count"));
    CHECK(r.status == 200);
    CHECK(r.body == "1");  // the app's first call
    CHECK(s.log.taken().empty());
  }
}

TEST_CASE("python_handler: a streamed body's stalled piece fails with timed_out") {
  server s;
  const auto h = s.handler("stalls", 300ms);
  auto body = [&]() -> coro_task<std::pair<std::string, fastrt::result<std::string>>> {
    h2::response r = co_await h(get("/stalls", "2"), {});  // the second piece comes after 2 s
    if (!r.stream) co_return std::pair{std::string("no stream, status ") + std::to_string(r.status), std::string()};
    fastrt::result<std::string> first = co_await r.stream();
    fastrt::result<std::string> second = co_await r.stream();
    co_return std::pair{first ? *first : std::string("error: ") + std::string(first.error().message()),
                        std::move(second)};
  };
  const auto start = std::chrono::steady_clock::now();
  auto [first, second] = run_on(*s.ctx, body());
  const double elapsed = ms_since(start);
  CHECK(first == "first");
  REQUIRE(!second);
  CHECK(second.error() == fastrt::errc::timed_out);
  CHECK(second.error().message() == "the response body gave no piece within --handler-timeout");
  CHECK(elapsed >= 300.0);
  CHECK(elapsed < 1800.0);  // did not wait for the piece
  CHECK(s.log.taken().empty());  // the connection logs a failed body, not the handler
}

TEST_CASE("python_handler: a timeout off an io thread is a 500 saying why, not a crash") {
  server s;
  const auto h = s.handler("hello", 100ms);
  const h2::response r = fastrt::sync_wait(h(get("/x"), {}));  // no io_context on this thread
  CHECK(r.status == 500);
  const auto lines = s.log.taken();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].line == "GET /x: python_handler: a handler with a timeout must run on an io_context thread (500)");
  // Without a timeout no loop is needed.
  const auto untimed = s.handler("hello");
  const h2::response ok = fastrt::sync_wait(untimed(get("/y"), {}));
  CHECK(ok.status == 200);
  CHECK(ok.body == "hello /y");
}
