// fastrt-h2 — the reference HTTP/2 server: nghttp2 sessions over io_uring
// (one SO_REUSEPORT listener and io_context per io thread), C++ handlers on
// the io threads and a Python `def app(request)` on subinterpreter workers.
// Built with -fno-exceptions -fno-rtti.
//
//   fastrt-h2                      # the bundled demo app on 127.0.0.1:8080
//   fastrt-h2 --app mymod:app --app-dir ./src --port 9000
// SIGINT/SIGTERM: GOAWAY on every connection, requests in flight answer,
// exit 0. Bad arguments: one-line error, exit 2.
#include <fastrt/async_scope.hpp>
#include <fastrt/io_threads.hpp>
#include <fastrt/python/runtime.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/tcp_listener.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cpp_handlers.hpp"
#include "h2_session.hpp"
#include "python_app.hpp"

namespace {

namespace py = fastrt::python;

struct options {
  std::string app = "demo_app:app";
  std::string app_dir;
  std::string host = "127.0.0.1";
  long port = 8080;
  long io_threads = 1;
  long pinned = static_cast<long>(std::max(1u, std::thread::hardware_concurrency()));
  long max_concurrent_streams = 100;
  long max_body_size = 1024 * 1024;
};

constexpr const char* usage =
    "usage: fastrt-h2 [options]    (HTTP/2 cleartext, prior knowledge: curl --http2-prior-knowledge)\n"
    "  --app MODULE:FUNCTION       the Python app, def app(request) (default: the bundled demo_app:app)\n"
    "  --app-dir DIR               prepended to sys.path so that MODULE can be imported\n"
    "  --host ADDR                 numeric address to listen on (default 127.0.0.1)\n"
    "  --port P                    TCP port (default 8080)\n"
    "  --io-threads N              io_uring threads, one listener each (default 1)\n"
    "  --pinned N                  pinned Python workers, one own-GIL subinterpreter each (default: one per core)\n"
    "  --max-concurrent-streams N  SETTINGS_MAX_CONCURRENT_STREAMS (default 100)\n"
    "  --max-body-size BYTES       larger request bodies get 413 (default 1048576)\n"
    "  --help                      this text\n"
    "h2c via HTTP/1.1 Upgrade is accepted for requests without a body (curl --http2).\n"
    "C++ handlers answer /cpp/hello; every other path goes to the Python app.\n";

fastrt::result<long> parse_number(std::string_view flag, const char* text, long min, long max) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max)
    return fastrt::error(std::errc::invalid_argument, std::string(flag) + " needs a number in [" +
                                                          std::to_string(min) + ", " + std::to_string(max) + "]");
  return value;
}

fastrt::result<options> parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (!flag.starts_with("--")) return fastrt::error(std::errc::invalid_argument, "unexpected argument " + std::string(flag));
    if (i + 1 == argc) return fastrt::error(std::errc::invalid_argument, std::string(flag) + " needs a value");
    const char* value = argv[++i];
    if (flag == "--app") {
      const std::string_view spec = value;
      const auto colon = spec.find(':');
      if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size())
        return fastrt::error(std::errc::invalid_argument, "--app needs MODULE:FUNCTION, got '" + std::string(spec) + "'");
      o.app = spec;
    } else if (flag == "--app-dir") o.app_dir = value;
    else if (flag == "--host") o.host = value;
    else if (flag == "--port") o.port = FASTRT_TRY(parse_number(flag, value, 0, 65535));
    else if (flag == "--io-threads") o.io_threads = FASTRT_TRY(parse_number(flag, value, 1, 256));
    else if (flag == "--pinned") o.pinned = FASTRT_TRY(parse_number(flag, value, 1, 1024));
    else if (flag == "--max-concurrent-streams") o.max_concurrent_streams = FASTRT_TRY(parse_number(flag, value, 1, 1 << 20));
    else if (flag == "--max-body-size") o.max_body_size = FASTRT_TRY(parse_number(flag, value, 0, 1L << 40));
    else return fastrt::error(std::errc::invalid_argument, "unknown option " + std::string(flag));
  }
  return o;
}

fastrt::coro_task<> serve_connection(fastrt::io_context& ctx, fastrt::tcp_stream stream,
                                     const fastrt_h2::app_context& app) {
  fastrt_h2::h2_connection connection(ctx, stream, app);
  co_await connection.run();
}

fastrt::coro_task<> serve(fastrt::io_context& ctx, fastrt::tcp_listener& listener, const fastrt_h2::app_context& app) {
  fastrt::async_scope connections;
  for (;;) {
    auto accepted = co_await listener.accept();
    if (!accepted) {
      if (accepted.error() == fastrt::errc::canceled) break;  // shutting down
      std::fprintf(stderr, "fastrt-h2: accept: %s\n", accepted.error().message().data());
      continue;
    }
    connections.spawn(serve_connection(ctx, std::move(accepted).value(), app));
  }
  listener.close();
  connections.request_stop();  // each connection sends GOAWAY and finishes its requests
  co_await connections.join();
}

std::atomic<bool> stop_requested{false};

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "fastrt-h2: %s (try --help)\n", parsed.error().message().data());
    return 2;
  }
  const options o = *parsed;
  std::signal(SIGINT, [](int) { stop_requested.store(true); });
  std::signal(SIGTERM, [](int) { stop_requested.store(true); });
  std::signal(SIGPIPE, SIG_IGN);

  py::runtime_options runtime_options;
  if (!o.app_dir.empty()) runtime_options.path.push_back(o.app_dir);
  runtime_options.path.push_back(FASTRT_H2_DEMO_DIR);  // the demo app
  runtime_options.builtins.push_back({"fastrt", &fastrt_h2::pymod::init});  // fastrt.Request, fastrt.Response
  auto runtime = py::runtime::start(std::move(runtime_options));
  if (!runtime) {
    std::fprintf(stderr, "fastrt-h2: starting Python: %s\n", runtime.error().message().data());
    return 1;
  }
  py::executor_options executor_options;
  executor_options.pinned_workers = static_cast<std::size_t>(o.pinned);
  executor_options.handlers = {"fastrt:Request", o.app};
  auto executor = py::subinterpreter_executor::start(std::move(executor_options));
  if (!executor) {
    std::fprintf(stderr, "fastrt-h2: loading the app: %s\n", executor.error().message().data());
    return 1;
  }

  fastrt_h2::app_context app;
  app.config.max_concurrent_streams = static_cast<std::uint32_t>(o.max_concurrent_streams);
  app.config.max_body_size = static_cast<std::size_t>(o.max_body_size);
  app.routes = fastrt_h2::example_routes();
  app.executor = executor->get();
  app.app = fastrt_h2::python_app((*executor)->handler_of("fastrt:Request").value(),
                                  (*executor)->handler_of(o.app).value(), executor->get());

  std::vector<std::optional<fastrt::tcp_listener>> listeners(static_cast<std::size_t>(o.io_threads));
  std::atomic<int> bound{0}, failed{0};
  auto threads = fastrt::io_threads::start(
      static_cast<std::size_t>(o.io_threads),
      [&](fastrt::io_context& ctx, std::size_t index) -> fastrt::coro_task<> {
        auto listener = fastrt::tcp_listener::bind(ctx, o.host, static_cast<std::uint16_t>(o.port));
        if (!listener) {
          std::fprintf(stderr, "fastrt-h2: %s: %s\n", listener.error().message().data(),
                       std::strerror(listener.error().value()));
          failed.fetch_add(1);
          co_return;
        }
        listeners[index].emplace(std::move(listener).value());
        bound.fetch_add(1);
        co_await serve(ctx, *listeners[index], app);
        listeners[index].reset();
      });
  int status = 0;
  if (!threads) {
    std::fprintf(stderr, "fastrt-h2: %s\n", threads.error().message().data());
    status = 1;
  } else {
    while (bound.load() + failed.load() < o.io_threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (failed.load() != 0) {
      status = 1;
    } else {
      std::printf("fastrt-h2: serving %s on http://%s:%ld (h2c, prior knowledge) with %ld io thread(s), %ld pinned Python worker(s)\n",
                  o.app.c_str(), o.host.c_str(), o.port, o.io_threads, o.pinned);
      std::fflush(stdout);
      while (!stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    (*threads)->stop();  // GOAWAY, requests in flight answer, connections close
  }
  if (auto down = (*executor)->shutdown(); !down) down.error().print(stderr, "fastrt-h2: stopping the Python workers");
  executor->reset();
  if (auto ended = (*runtime)->reset(); !ended) ended.error().print(stderr, "fastrt-h2: finalizing Python");
  return status;
}
