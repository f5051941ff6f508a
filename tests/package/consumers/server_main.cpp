// A downstream HTTP/2 server built from an install tree: fastrt::http2's
// server with a C++ route of its own and a Python app (fastrt::http2::python)
// as the fallback, reporting through an observer of its own.
//
//   consume_server PORT APP_DIR [CERT KEY]
//
// Built with CONSUMER_TLS (and fastrt::tls) it takes a PEM certificate and
// key and serves HTTPS only (ALPN h2, else HTTP/1.1) through
// fastrt::http2::tls_starter; without them, or without CONSUMER_TLS,
// cleartext (HTTP/1.1 or h2c).
// GET /native      answered in C++ ("native route of a downstream server")
// everything else  consumer_app:app, loaded from APP_DIR on one pinned worker
// Serves 127.0.0.1:PORT with 2 io threads until SIGTERM or SIGINT, then stops
// gracefully and exits 0. On stderr: "consumer: serving on ..." once it
// listens, the library's log lines, and "consumer: N requests dispatched" at
// exit (run_package_tests.sh reads these). Exit 2: bad arguments or the port
// is in use; 1: anything else failed (a certificate that does not load too).
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/handler.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/http2/router.hpp>
#include <fastrt/http2/server.hpp>
#include <fastrt/http2/server_context.hpp>
#include <fastrt/python/runtime.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#ifdef CONSUMER_TLS
#include <fastrt/http2/tls_connection.hpp>
#include <fastrt/tls/context.hpp>
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace http2 = fastrt::http2;
namespace py = fastrt::python;

namespace {

constexpr std::string_view app_name = "consumer_app:app";

// The signal that asked us to stop, 0 until one did. Written by the signal
// handler, so it must be lock-free (async-signal-safe).
std::atomic<int> stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal) { stop_signal.store(signal, std::memory_order_release); }

// Everything the library reports goes to stderr with our prefix; of the
// counters only the dispatched requests are kept (printed at exit).
class consumer_observer final : public http2::observer {
 public:
  void log(http2::log_level level, std::string_view line) override {
    const char* tag = level == http2::log_level::error ? "error: " : level == http2::log_level::warning ? "warning: " : "";
    std::lock_guard lock(mutex_);  // io threads log at once: one line at a time
    std::fprintf(stderr, "consumer: %s%.*s\n", tag, static_cast<int>(line.size()), line.data());
  }
  void count(http2::metric what, std::uint64_t n) override {
    if (what == http2::metric::requests_dispatched) dispatched_.fetch_add(n, std::memory_order_acq_rel);
  }
  std::uint64_t dispatched() const noexcept { return dispatched_.load(std::memory_order_acquire); }

 private:
  std::mutex mutex_;
  std::atomic<std::uint64_t> dispatched_{0};
};

// The route this server adds: answered on the io thread, no Python.
fastrt::coro_task<http2::response> native_route(const http2::request&, std::stop_token) {
  co_return http2::text_response(200, "native route of a downstream server\n");
}

// Says what failed (with the error's code and text); the exit status.
int fail(const std::string& what, const fastrt::error& e) {
  e.print(stderr, ("consumer: " + what).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef CONSUMER_TLS
  if (argc != 3 && argc != 5) {
    std::fprintf(stderr, "usage: consume_server PORT APP_DIR [CERT KEY]\n");
    return 2;
  }
#else
  if (argc != 3) {
    std::fprintf(stderr, "usage: consume_server PORT APP_DIR\n");
    return 2;
  }
#endif
  char* end = nullptr;
  const unsigned long port = std::strtoul(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || port == 0 || port > 65535) {
    std::fprintf(stderr, "consume_server: '%s' is not a port (1..65535)\n", argv[1]);
    return 2;
  }
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);

  // The certificate, then the port: either error comes before Python starts.
  http2::connection_starter starter;  // empty: cleartext
#ifdef CONSUMER_TLS
  std::optional<fastrt::tls_context> tls;  // outlives the server (declared first)
  if (argc == 5) {
    auto loaded = fastrt::tls_context::load(argv[3], argv[4]);
    if (!loaded) return fail("TLS", loaded.error());
    tls.emplace(std::move(loaded).value());
    starter = http2::tls_starter(*tls);
  }
#endif
  auto server =
      http2::server::bind({.host = "127.0.0.1", .port = static_cast<std::uint16_t>(port), .io_threads = 2}, starter);
  if (!server) {
    fail("bind", server.error());
    return server.error().value() == EADDRINUSE ? 2 : 1;
  }

  py::runtime_options runtime_options;
  runtime_options.path.push_back(argv[2]);
  runtime_options.builtins.push_back({"fastrt", &http2::python::init});  // fastrt.Request for the app
  auto runtime = py::runtime::start(std::move(runtime_options));
  if (!runtime) return fail("starting Python", runtime.error());

  py::executor_options workers;
  workers.pinned_workers = 1;
  workers.handlers = {"fastrt:Request", std::string(app_name)};
  auto executor = py::subinterpreter_executor::start(std::move(workers));
  if (!executor) return fail("loading the app", executor.error());

  consumer_observer events;
  http2::server_context context;
  context.events = &events;
  if (auto added = context.routes.add("GET", "/native", native_route); !added) return fail("GET /native", added.error());
  const http2::python::python_app app((*executor)->handler_of("fastrt:Request").value(),
                                      (*executor)->handler_of(app_name).value(), executor->get());
  context.routes.fallback(http2::python::python_handler(app, **executor, {.timeout = std::chrono::seconds(30), .events = &events}));

  if (auto started = (*server)->start(context); !started) return fail("start", started.error());
  std::fprintf(stderr, "consumer: serving on 127.0.0.1:%lu\n", port);

  while (stop_signal.load(std::memory_order_acquire) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  (*server)->stop();  // GOAWAY, answers in flight finish, connections close
  int status = 0;
  if (auto down = (*executor)->shutdown(); !down) status = fail("stopping the Python workers", down.error());
  executor->reset();
  if (auto ended = (*runtime)->reset(); !ended) status = fail("finalizing Python", ended.error());
  std::fprintf(stderr, "consumer: %llu requests dispatched\n", static_cast<unsigned long long>(events.dispatched()));
  return status;
}
