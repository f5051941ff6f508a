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

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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
#include "server_config.hpp"

namespace {

namespace py = fastrt::python;

// FASTRT_H2_INSTALLED_DEMO_DIR is relative to the installed binary's
// directory; empty when /proc/self/exe cannot be read.
std::string installed_demo_dir() {
  std::string exe(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= exe.size()) return {};
  exe.resize(static_cast<std::size_t>(n));
  return exe.substr(0, exe.rfind('/') + 1) + FASTRT_H2_INSTALLED_DEMO_DIR;
}

struct options {
  std::string app = "demo_app:app";
  std::string app_dir;
  std::string host = "127.0.0.1";
  long port = 8080;
  long io_threads = 1;
  long pinned = -1;  // not given: one per core, or none when only other kinds are given (see parse)
  long pooled_workers = 0;
  long pooled_interpreters = 1;
  long main_workers = 0;
  long queue_capacity = 4096;
  long max_concurrent_streams = 100;
  long max_body_size = 1024 * 1024;
  long max_connections = 100000;
  double handler_timeout = 30;
  double idle_timeout = 60;
  double header_timeout = 10;
  double settings_timeout = 10;
  double shutdown_timeout = 10;
  std::string access_log;
};

constexpr const char* usage =
    "usage: fastrt-h2 [options]    (HTTP/2 cleartext: curl --http2-prior-knowledge, or curl --http2 to upgrade)\n"
    "  --app MODULE:FUNCTION       the Python app, def app(request) (default: the bundled demo_app:app)\n"
    "  --app-dir DIR               prepended to sys.path so that MODULE can be imported\n"
    "  --host ADDR                 numeric address to listen on (default 127.0.0.1)\n"
    "  --port P                    TCP port (default 8080)\n"
    "  --io-threads N              io_uring threads, one SO_REUSEPORT listener each (default 1)\n"
    "  --pinned N                  pinned Python workers, one own-GIL subinterpreter each (default: one\n"
    "                              per core; 0 when only --pooled-workers or --main-workers is given)\n"
    "  --pooled-workers N          pooled Python worker threads sharing --pooled-interpreters (default 0)\n"
    "  --pooled-interpreters K     subinterpreters shared by the pooled workers (default 1)\n"
    "  --main-workers N            workers in the main interpreter, for modules that refuse\n"
    "                              subinterpreters (default 0)\n"
    "                              Each request goes to a free worker of any kind (pinned first).\n"
    "  --queue-capacity N          queued requests per Python worker (a power of two; beyond: 503, default 4096)\n"
    "  --max-concurrent-streams N  SETTINGS_MAX_CONCURRENT_STREAMS (default 100)\n"
    "  --max-body-size BYTES       larger request bodies get 413 (default 1048576)\n"
    "  --max-connections N         beyond it new connections get GOAWAY at once (default 100000)\n"
    "  --handler-timeout SECONDS   a Python app slower than this gets 504; 0: none (default 30)\n"
    "  --idle-timeout SECONDS      close connections idle this long; 0: never (default 60)\n"
    "  --header-timeout SECONDS    the preface and each header block must arrive within it (default 10)\n"
    "  --settings-timeout SECONDS  our SETTINGS must be acknowledged within it (default 10)\n"
    "  --shutdown-timeout SECONDS  SIGINT/SIGTERM: streams still open after it are cut (default 10)\n"
    "  --access-log FILE           one line per answered request; '-' for stdout (default: none)\n"
    "  --help                      this text\n"
    "C++ handlers answer /cpp/hello and /cpp/stream?bytes=N; every other path goes to the Python app.\n";

fastrt::result<long> parse_number(std::string_view flag, const char* text, long min, long max) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max)
    return fastrt::error(std::errc::invalid_argument, std::string(flag) + " needs a number in [" +
                                                          std::to_string(min) + ", " + std::to_string(max) + "]");
  return value;
}

fastrt::result<double> parse_seconds(std::string_view flag, const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value >= 0 && value <= 86400))
    return fastrt::error(std::errc::invalid_argument, std::string(flag) + " needs seconds in [0, 86400]");
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
    else if (flag == "--pinned") o.pinned = FASTRT_TRY(parse_number(flag, value, 0, 1024));
    else if (flag == "--pooled-workers") o.pooled_workers = FASTRT_TRY(parse_number(flag, value, 0, 1024));
    else if (flag == "--pooled-interpreters") o.pooled_interpreters = FASTRT_TRY(parse_number(flag, value, 1, 1024));
    else if (flag == "--main-workers") o.main_workers = FASTRT_TRY(parse_number(flag, value, 0, 1024));
    else if (flag == "--queue-capacity") o.queue_capacity = FASTRT_TRY(parse_number(flag, value, 1, 1 << 20));
    else if (flag == "--max-concurrent-streams") o.max_concurrent_streams = FASTRT_TRY(parse_number(flag, value, 1, 1 << 20));
    else if (flag == "--max-body-size") o.max_body_size = FASTRT_TRY(parse_number(flag, value, 0, 1L << 40));
    else if (flag == "--max-connections") o.max_connections = FASTRT_TRY(parse_number(flag, value, 1, 10'000'000));
    else if (flag == "--handler-timeout") o.handler_timeout = FASTRT_TRY(parse_seconds(flag, value));
    else if (flag == "--idle-timeout") o.idle_timeout = FASTRT_TRY(parse_seconds(flag, value));
    else if (flag == "--header-timeout") o.header_timeout = FASTRT_TRY(parse_seconds(flag, value));
    else if (flag == "--settings-timeout") o.settings_timeout = FASTRT_TRY(parse_seconds(flag, value));
    else if (flag == "--shutdown-timeout") o.shutdown_timeout = FASTRT_TRY(parse_seconds(flag, value));
    else if (flag == "--access-log") o.access_log = value;
    else return fastrt::error(std::errc::invalid_argument, "unknown option " + std::string(flag));
  }
  if (o.pinned < 0) {
    // Flags mean what they say: --pooled-workers / --main-workers alone ask
    // for those workers, not for pinned ones beside them.
    const bool other_kinds = o.pooled_workers > 0 || o.main_workers > 0;
    o.pinned = other_kinds ? 0 : static_cast<long>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (o.pinned + o.pooled_workers + o.main_workers == 0)
    return fastrt::error(std::errc::invalid_argument, "no Python workers: give --pinned, --pooled-workers or --main-workers a number above 0");
  return o;
}

fastrt::coro_task<> serve_connection(fastrt::io_context& ctx, fastrt::tcp_stream stream,
                                     const fastrt_h2::app_context& app, fastrt_h2::connection_list& list) {
  fastrt_h2::h2_connection connection(ctx, stream, app, list);
  co_await connection.run();
}

// One io thread's accept loop. When the thread is asked to stop (accept
// fails with canceled), every connection starts its graceful shutdown here,
// on its own thread.
fastrt::coro_task<> serve(fastrt::io_context& ctx, fastrt::tcp_listener& listener, const fastrt_h2::app_context& app) {
  fastrt::async_scope connections;
  fastrt_h2::connection_list live;
  for (;;) {
    auto accepted = co_await listener.accept();
    if (!accepted) {
      if (accepted.error() == fastrt::errc::canceled) break;  // shutting down
      std::fprintf(stderr, "fastrt-h2: accept: %s\n", accepted.error().message().data());
      if (accepted.error() == std::errc::too_many_files_open) {
        (void)co_await fastrt::sleep_for(ctx, std::chrono::milliseconds(10));  // let connections close
      }
      continue;
    }
    connections.spawn(serve_connection(ctx, std::move(accepted).value(), app, live));
  }
  listener.close();
  live.for_each([](fastrt_h2::h2_connection& c) { c.begin_shutdown(); });
  co_await connections.join();
}

// Each connection is a descriptor: allow as many as the hard limit permits.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

fastrt_h2::milliseconds to_ms(double seconds) {
  return fastrt_h2::milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
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
  raise_fd_limit();
  std::FILE* access_log = nullptr;
  if (o.access_log == "-") {
    access_log = stdout;
  } else if (!o.access_log.empty()) {
    access_log = std::fopen(o.access_log.c_str(), "a");
    if (!access_log) {
      std::fprintf(stderr, "fastrt-h2: --access-log %s: %s\n", o.access_log.c_str(), std::strerror(errno));
      return 2;
    }
    std::setvbuf(access_log, nullptr, _IOLBF, 0);  // whole lines, visible at once (tail -f)
  }

  py::runtime_options runtime_options;
  if (!o.app_dir.empty()) runtime_options.path.push_back(o.app_dir);
  // The demo app: next to an installed binary (<prefix>/share/fastrt/...),
  // else in the source tree this binary was built from. A missing sys.path
  // entry is harmless, so both are listed.
  if (std::string installed = installed_demo_dir(); !installed.empty()) runtime_options.path.push_back(installed);
  runtime_options.path.push_back(FASTRT_H2_DEMO_DIR);
  runtime_options.builtins.push_back({"fastrt", &fastrt_h2::pymod::init});  // fastrt.Request, fastrt.Response
  auto runtime = py::runtime::start(std::move(runtime_options));
  if (!runtime) {
    std::fprintf(stderr, "fastrt-h2: starting Python: %s\n", runtime.error().message().data());
    return 1;
  }
  py::executor_options executor_options;
  executor_options.pinned_workers = static_cast<std::size_t>(o.pinned);
  executor_options.pooled_threads = static_cast<std::size_t>(o.pooled_workers);
  executor_options.pooled_interpreters = static_cast<std::size_t>(o.pooled_interpreters);
  executor_options.main_workers = static_cast<std::size_t>(o.main_workers);
  executor_options.queue_capacity = static_cast<std::size_t>(o.queue_capacity);
  executor_options.handlers = {"fastrt:Request", o.app};
  auto executor = py::subinterpreter_executor::start(std::move(executor_options));
  if (!executor) {
    std::fprintf(stderr, "fastrt-h2: loading the app: %s\n", executor.error().message().data());
    return 1;
  }

  fastrt_h2::app_context app;
  app.config.max_concurrent_streams = static_cast<std::uint32_t>(o.max_concurrent_streams);
  app.config.max_body_size = static_cast<std::size_t>(o.max_body_size);
  app.config.max_connections = static_cast<std::size_t>(o.max_connections);
  app.config.handler_timeout = to_ms(o.handler_timeout);
  app.config.idle_timeout = to_ms(o.idle_timeout);
  app.config.header_timeout = to_ms(o.header_timeout);
  app.config.settings_ack_timeout = to_ms(o.settings_timeout);
  app.config.shutdown_timeout = to_ms(o.shutdown_timeout);
  app.config.access_log = access_log;
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
      std::printf("fastrt-h2: serving %s on http://%s:%ld (h2c) with %ld io thread(s); Python workers: %ld pinned, "
                  "%ld pooled over %ld interpreter(s), %ld main\n",
                  o.app.c_str(), o.host.c_str(), o.port, o.io_threads, o.pinned, o.pooled_workers,
                  o.pooled_interpreters, o.main_workers);
      std::fflush(stdout);
      while (!stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    (*threads)->stop();  // GOAWAY, requests in flight answer, connections close
  }
  if (auto down = (*executor)->shutdown(); !down) down.error().print(stderr, "fastrt-h2: stopping the Python workers");
  executor->reset();
  if (auto ended = (*runtime)->reset(); !ended) ended.error().print(stderr, "fastrt-h2: finalizing Python");
  if (access_log && access_log != stdout) std::fclose(access_log);
  return status;
}
