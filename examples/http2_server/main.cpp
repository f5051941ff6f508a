// fastrt-h2 — the reference HTTP/2 server: nghttp2 sessions over io_uring
// (one io_context per io thread; see serve() for how they share the port), C++ handlers on
// the io threads and a Python app — `def app(request)`, a WSGI app such as
// Flask or an ASGI app such as Starlette (--interface) — on subinterpreter workers.
// Built with -fno-exceptions -fno-rtti.
//
//   fastrt-h2                      # the bundled demo app on 127.0.0.1:8080
//   fastrt-h2 --app mymod:app --app-dir ./src --port 9000
//   fastrt-h2 --app flask_app:app --python-path /usr/lib/python3/dist-packages   # WSGI, detected
//   fastrt-h2 --app starlette_app:app --python-path /usr/lib/python3/dist-packages   # ASGI, detected
//   fastrt-h2 --port 8081 --health-path /healthz   # a backend of HAProxy or nginx (deploy/)
//   fastrt-h2 --tls-cert cert.pem --tls-key key.pem   # HTTPS only: ALPN h2, else HTTP/1.1
// SIGINT/SIGTERM/SIGHUP: GOAWAY on every connection, requests in flight
// answer, exit 0; still running after --shutdown-timeout + 1 s: a line
// naming what, exit 1; a second signal: exit at once (shutdown_control.hpp).
// Bad arguments: one-line error, exit 2. The port is owned (no SO_REUSEPORT,
// a port in use is an error) unless --reuse-port: see open_listening_socket.
#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/app_interface.hpp>
#include <fastrt/http2/python/asgi_lifespan.hpp>
#include <fastrt/http2/python/handler.hpp>
#include <fastrt/http2/python/in_flight_calls.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/http2/server.hpp>
#include <fastrt/http2/server_context.hpp>
#include <fastrt/http2/tls_connection.hpp>
#include <fastrt/python/runtime.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/version.hpp>

#include <sys/resource.h>
#include <unistd.h>

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

#include "cli.hpp"
#include "cpp_handlers.hpp"
#include "log_observer.hpp"
#include "shutdown_control.hpp"

namespace {

namespace py = fastrt::python;
namespace cli = fastrt_h2::cli;

// FASTRT_H2_INSTALLED_DEMO_DIR is relative to the installed binary's
// directory; empty when /proc/self/exe cannot be read.
std::string installed_demo_dir() {
  std::string exe(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= exe.size()) return {};
  exe.resize(static_cast<std::size_t>(n));
  return exe.substr(0, exe.rfind('/') + 1) + FASTRT_H2_INSTALLED_DEMO_DIR;
}

// Everything the command line sets. A flag's default is the member
// initializer of the field it writes: here for what only main() uses, in
// executor_options for the Python workers, in server_config for the limits
// and timeouts. The usage text prints them from a default-made options.
struct options {
  std::string app = "demo_app:app";
  std::string app_dir;
  std::string interface = "auto";        // auto | native | wsgi | asgi (app_interface.hpp)
  std::string lifespan = "auto";         // auto | on | off (asgi_lifespan.hpp)
  std::string request_body = "auto";     // auto | whole | streamed (router.hpp's request_body)
  std::vector<std::string> python_path;  // --python-path, in the order given
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t io_threads = 1;
  bool reuse_port = false;
  std::string tls_cert;  // both or neither: the listener serves TLS only
  std::string tls_key;
  bool cpp_demo_routes = false;
  std::string health_path;        // --health-path; empty: none
  std::string access_log;         // a file, "-" for stdout; empty: none
  py::executor_options workers;   // pinned/pooled/main workers, queue capacity
  fastrt::http2::server_config limits;  // per connection and server-wide
};

// The demo app's module is served: its directory goes on sys.path, and the
// C++ demo routes are on.
bool serves_demo(const options& o) { return o.app.starts_with("demo_app:"); }

// The flags, in the order --help lists them, bound to o's fields: name,
// value placeholder, how the value is read (range) and where it goes, help.
std::vector<cli::flag> flags(options& o) {
  using namespace cli;
  fastrt::http2::server_config& limits = o.limits;
  py::executor_options& workers = o.workers;
  return {
      {"--app", "MODULE:FUNCTION", module_function(o.app),
       "the Python app: def app(request) or async def app(request), a WSGI or an ASGI 3 app (--interface); demo_app:app is the bundled demo"},
      {"--app-dir", "DIR", text(o.app_dir),
       "prepended to sys.path so that MODULE can be imported (the current directory is on sys.path too, after it; "
       "PYTHONPATH etc. work as in python3)"},
      {"--interface", "INTERFACE", text(o.interface),
       "auto, native, wsgi or asgi: how the app is called — native app(request) or async def app(request), wsgi "
       "app(environ, start_response) (Flask ...), asgi async def app(scope, receive, send) (ASGI 3: Starlette, "
       "Quart ...); auto looks at the app at start-up and says what it chose on the serving line"},
      {"--lifespan", "MODE", text(o.lifespan),
       "auto, on or off: an ASGI app's lifespan startup runs on every worker before serving, its shutdown after "
       "(bounded by --shutdown-timeout); startup.failed stops fastrt-h2; auto serves without a lifespan when the "
       "app raises on it, on makes that an error too"},
      {"--request-body", "HOW", text(o.request_body),
       "auto, whole or streamed: streamed lets the app read a request body as it arrives, under flow control "
       "(wsgi.input; ASGI receive(); request.read(), request.chunks() and request.body, blocking; async for piece in "
       "request.stream() in an async def app), whole hands it over complete; auto: streamed for WSGI and ASGI apps, "
       "whole for native ones"},
      {"--python-path", "DIR", appended(o.python_path),
       "prepended to sys.path, repeatable (first given first), e.g. /usr/lib/python3/dist-packages for Debian's "
       "Flask"},
      {"--host", "ADDR", text(o.host), "numeric address to listen on"},
      {"--port", "P", number(o.port, 0, 65535), "TCP port"},
      {"--io-threads", "N", number(o.io_threads, 1, 256), "io_uring threads; the first accepts, all serve"},
      {"--reuse-port", "", on(o.reuse_port),
       "bind with SO_REUSEPORT, one socket per io thread: lets several processes share the port (without it, a "
       "port in use is an error)"},
      {"--tls-cert", "FILE", text(o.tls_cert),
       "PEM certificate chain (the server's first): with --tls-key the port serves HTTPS only — TLS 1.2/1.3, "
       "ALPN h2, else HTTP/1.1; session tickets and a session cache"},
      {"--tls-key", "FILE", text(o.tls_key), "PEM private key of --tls-cert"},
      {"--tls-handshake-timeout", "SECONDS", seconds(limits.tls_handshake_timeout),
       "a TLS handshake not finished within it closes its connection; 0: none"},
      {"--pinned", "N",
       number(workers.pinned_workers, 0, 1024)
           .noting("one per core; 0 when only --pooled-workers or --main-workers is given"),
       "pinned Python workers, one own-GIL subinterpreter each"},
      {"--pooled-workers", "N", number(workers.pooled_threads, 0, 1024),
       "pooled Python worker threads sharing --pooled-interpreters"},
      {"--pooled-interpreters", "K", number(workers.pooled_interpreters, 1, 1024),
       "subinterpreters shared by the pooled workers"},
      {"--main-workers", "N", number(workers.main_workers, 0, 1024),
       "workers in the main interpreter, for modules that refuse subinterpreters"},
      {"--queue-capacity", "N", number(workers.queue_capacity, 1, 1 << 20),
       "queued requests per Python worker, a power of two; beyond it: 503"},
      {"--max-tasks-per-worker", "N", number(workers.max_in_flight_per_worker, 1, 1 << 20),
       "requests of an async def app one worker's event loop awaits at once; beyond it another worker takes "
       "them, all full: 503"},
      {"--max-concurrent-streams", "N", number(limits.max_concurrent_streams, 1, 1 << 20),
       "SETTINGS_MAX_CONCURRENT_STREAMS"},
      {"--max-body-size", "BYTES", bytes(limits.max_body_size, 1LL << 40), "larger request bodies get 413"},
      {"--max-connections", "N", number(limits.max_connections, 1, 10'000'000),
       "beyond it new connections get GOAWAY at once"},
      {"--handler-timeout", "SECONDS", seconds(limits.handler_timeout),
       "a Python app slower than this gets 504; 0: none"},
      {"--idle-timeout", "SECONDS", seconds(limits.idle_timeout), "close connections idle this long; 0: never"},
      {"--header-timeout", "SECONDS", seconds(limits.header_timeout),
       "the preface and each header block must arrive within it"},
      {"--settings-timeout", "SECONDS", seconds(limits.settings_ack_timeout),
       "our SETTINGS must be acknowledged within it"},
      {"--shutdown-timeout", "SECONDS", seconds(limits.shutdown_timeout),
       "SIGINT/SIGTERM/SIGHUP: streams still open after it are cut; still running 1 s later: exit 1 naming what. "
       "A second signal exits at once"},
      {"--send-timeout", "SECONDS", seconds(limits.send_timeout),
       "close a connection whose answers make no progress this long (a client that stops reading or keeps its "
       "window shut); 0: never"},
      {"--body-timeout", "SECONDS", seconds(limits.body_timeout),
       "a request body with no data this long gets 408 and a reset; 0: never"},
      {"--max-buffered", "BYTES", bytes(limits.max_buffered, 1LL << 40),
       "request and response bodies held in memory, server-wide; beyond it requests are refused "
       "(REFUSED_STREAM) and answers get 503; 0: no limit"},
      {"--max-buffered-per-connection", "BYTES", bytes(limits.max_buffered_per_connection, 1LL << 40),
       "the same, per connection"},
      {"--access-log", "FILE", text(o.access_log),
       "one line per answered request; '-' for stdout (not given: no log)"},
      {"--cpp-demo-routes", "", on(o.cpp_demo_routes),
       "serve the C++ demo handlers /cpp/hello and /cpp/stream?bytes=N (on by default only with the bundled demo app)"},
      {"--health-path", "PATH", text(o.health_path),
       "answer GET/HEAD PATH with 200 'ok' from C++ (no Python call), for a balancer's health check, e.g. /healthz "
       "(not given: none, every path is the app's)"},
      {"--version", "", command(action::version), "the versions of fastrt-h2, nghttp2 and Python"},
      {"-h, --help", "", command(action::help), "this text"},
  };
}

constexpr std::string_view usage_head =
    "usage: fastrt-h2 [options]    (HTTP/1.1 and HTTP/2 cleartext on one port: curl, curl --http2-prior-knowledge,\n"
    "                              curl --http2 to upgrade)\n";
constexpr std::string_view usage_tail =
    "Python workers: each request goes to a free worker of any kind (pinned first).\n"
    "Signals: SIGINT, SIGTERM and SIGHUP (no reload) shut down gracefully; SIGHUP stays ignored under nohup.\n"
    "stdout (the serving line, --access-log -) is line-buffered; Python's stdout/stderr are unbuffered.\n";

// The command line, read once into `o` (flags()); --help and --version
// print and exit 0 here.
fastrt::result<options> parse(int argc, char** argv) {
  options o;
  const std::vector<cli::flag> table = flags(o);
  const cli::parsed given = FASTRT_TRY(cli::parse(table, argc, argv));
  if (given.what == cli::action::help) {
    std::fputs(cli::usage(usage_head, table, usage_tail).c_str(), stdout);
    std::exit(0);
  }
  if (given.what == cli::action::version) {
    std::printf("fastrt-h2 %s (nghttp2 %s, Python %s)\n", FASTRT_VERSION_STRING, nghttp2_version(0)->version_str,
                PY_VERSION);
    std::exit(0);
  }
  // Flags mean what they say: --pooled-workers / --main-workers alone ask
  // for those workers, not for pinned ones beside them.
  if (!given.was_given("--pinned") && (o.workers.pooled_threads > 0 || o.workers.main_workers > 0))
    o.workers.pinned_workers = 0;
  if (auto wanted = fastrt::http2::python::parse_interface(o.interface); !wanted)
    return fastrt::error(wanted.error().code(), "--interface: " + std::string(wanted.error().message()));
  if (auto mode = fastrt::http2::python::asgi::parse_lifespan(o.lifespan); !mode)
    return fastrt::error(mode.error().code(), "--lifespan: " + std::string(mode.error().message()));
  if (o.request_body != "auto" && o.request_body != "whole" && o.request_body != "streamed")
    return fastrt::error(std::errc::invalid_argument,
                         "--request-body: the choices are auto, whole or streamed, not '" + o.request_body + "'");
  if (!o.health_path.empty() && !o.health_path.starts_with('/'))
    return fastrt::error(std::errc::invalid_argument, "--health-path needs a path starting with '/', not '" +
                                                          o.health_path + "'");
  if (o.tls_cert.empty() != o.tls_key.empty())
    return fastrt::error(std::errc::invalid_argument, "--tls-cert and --tls-key go together: give both or neither");
  if (o.workers.pinned_workers + o.workers.pooled_threads + o.workers.main_workers == 0)
    return fastrt::error(std::errc::invalid_argument,
                         "no Python workers: give --pinned, --pooled-workers or --main-workers a number above 0");
  return o;
}

// Each connection is a descriptor: allow as many as the hard limit permits.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "fastrt-h2: %s (try --help)\n", parsed.error().message().data());
    return 2;
  }
  const options o = *parsed;
  // Whole lines at once also when stdout is a pipe or a file (containers,
  // systemd): the serving line and `--access-log -` show as they happen.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  fastrt_h2::install_stop_signals();
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  // TLS files next, then the port: either error comes before Python starts.
  std::optional<fastrt::tls_context> tls;
  fastrt::http2::connection_starter starter;  // cleartext unless TLS
  if (!o.tls_cert.empty()) {
    auto loaded = fastrt::tls_context::load(o.tls_cert, o.tls_key);
    if (!loaded) {
      std::fprintf(stderr, "fastrt-h2: %s\n", loaded.error().message().data());
      return 2;
    }
    tls.emplace(std::move(loaded).value());
    starter = fastrt::http2::tls_starter(*tls);
  }
  auto server = fastrt::http2::server::bind(
      {.host = o.host, .port = o.port, .io_threads = o.io_threads, .reuse_port = o.reuse_port}, starter);
  if (!server) {
    std::fprintf(stderr, "fastrt-h2: %s\n", server.error().message().data());
    return 1;
  }
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
  // Python as `python3` sees it: PYTHONPATH, PYTHONDONTWRITEBYTECODE and the
  // other environment variables apply; stdout/stderr are unbuffered (as with
  // PYTHONUNBUFFERED=1), so print() shows at once in a pipe too.
  runtime_options.isolated = false;
  runtime_options.unbuffered_stdio = true;
  // sys.path: --app-dir, then the current directory (like `python -m`,
  // uvicorn and gunicorn: `cd myapp && fastrt-h2 --app api:app` works).
  // --python-path dirs come first, in the order given, then --app-dir.
  for (const std::string& dir : o.python_path) runtime_options.path.push_back(dir);
  if (!o.app_dir.empty()) runtime_options.path.push_back(o.app_dir);
  if (std::string cwd(4096, '\0'); ::getcwd(cwd.data(), cwd.size())) runtime_options.path.push_back(cwd.c_str());
  if (serves_demo(o)) {
    // The demo app: next to an installed binary (<prefix>/share/fastrt/...),
    // else in the source tree this binary was built from. A missing sys.path
    // entry is harmless, so both are listed; never for other apps.
    if (std::string installed = installed_demo_dir(); !installed.empty()) runtime_options.path.push_back(installed);
    runtime_options.path.push_back(FASTRT_H2_DEMO_DIR);
  }
  runtime_options.builtins.push_back({"fastrt", &fastrt::http2::python::init});  // fastrt.Request, fastrt.Response
  auto runtime = py::runtime::start(std::move(runtime_options));
  if (!runtime) {
    std::fprintf(stderr, "fastrt-h2: starting Python: %s\n", runtime.error().message().data());
    return 1;
  }
  py::executor_options executor_options = o.workers;
  executor_options.handlers = {"fastrt:Request", o.app};
  auto executor = py::subinterpreter_executor::start(std::move(executor_options));
  if (!executor) {
    std::fprintf(stderr, "fastrt-h2: loading the app: %s\n", executor.error().message().data());
    return 1;
  }

  // How the app is called: looked at once, in a worker's interpreter.
  const auto wanted = fastrt::http2::python::parse_interface(o.interface).value();
  const py::handler app_handler = (*executor)->handler_of(o.app).value();
  auto detected = fastrt::sync_wait((*executor)->submit(
      [app_handler, wanted](py::call_context& ctx) -> fastrt::result<fastrt::http2::python::app_interface> {
        PyObject* callable = ctx.object(app_handler);
        if (!callable) return fastrt::error(std::errc::invalid_argument, "the app is not loaded in this interpreter");
        return fastrt::http2::python::detect_interface(callable, wanted);
      }));
  fastrt_h2::log_observer log(access_log);
  const py::handler request_type = (*executor)->handler_of("fastrt:Request").value();
  // An ASGI app's lifespan startup, on every worker, before the server
  // accepts; its shutdown after the server stopped.
  fastrt::http2::python::asgi::lifespan lifespan(**executor, app_handler, request_type,
                                                 fastrt::http2::python::asgi::parse_lifespan(o.lifespan).value(), &log);
  if (detected && *detected == fastrt::http2::python::app_interface::asgi) {
    if (auto up = lifespan.startup(); !up) detected = std::move(up).error();
  }
  if (!detected) {
    std::fprintf(stderr, "fastrt-h2: %s: %s\n", o.app.c_str(), detected.error().message().data());
    (void)(*executor)->shutdown();
    executor->reset();
    (void)(*runtime)->reset();
    return 1;
  }

  fastrt::http2::server_context context;
  context.config = o.limits;
  context.events = &log;
  if (serves_demo(o) || o.cpp_demo_routes) context.routes = fastrt_h2::example_routes();  // else: every path is the app's
  // parse() checked the path, and the demo routes answer any method, so a
  // GET route of that prefix is new: this cannot fail.
  if (!o.health_path.empty()) fastrt_h2::add_health_route(context.routes, o.health_path).value();
  fastrt::http2::python::in_flight_calls in_flight;  // what a stuck shutdown names
  const fastrt::http2::python::python_app app(request_type, app_handler, executor->get(), &in_flight, *detected);
  // --request-body: a streamed body is read by the app as it arrives, at
  // its own pace (flow control holds the client to it).
  const bool streamed = o.request_body == "streamed" ||
                        (o.request_body == "auto" && *detected != fastrt::http2::python::app_interface::native);
  const fastrt::http2::route_options body{.body = streamed ? fastrt::http2::request_body::streamed
                                                           : fastrt::http2::request_body::buffered};
  context.routes.fallback(fastrt::http2::python::python_handler(
      app, **executor, {.timeout = o.limits.handler_timeout, .events = &log}), body);

  std::optional<fastrt_h2::shutdown_watchdog> watchdog;
  auto shutdown_began = std::chrono::steady_clock::now();
  int status = 0;
  if (auto started = (*server)->start(context); !started) {
    std::fprintf(stderr, "fastrt-h2: %s\n", started.error().message().data());
    status = 1;
  } else {
    std::printf("fastrt-h2: serving %s on %s://%s:%u (%s) with %zu io thread(s); Python workers: %zu pinned, "
                "%zu pooled over %zu interpreter(s), %zu main; interface %s%s\n",
                o.app.c_str(), tls ? "https" : "http", o.host.c_str(), static_cast<unsigned>(o.port),
                tls ? "TLS: h2, HTTP/1.1" : "HTTP/1.1, h2c", o.io_threads, o.workers.pinned_workers,
                o.workers.pooled_threads, o.workers.pooled_interpreters, o.workers.main_workers,
                std::string(fastrt::http2::python::name_of(*detected)).c_str(), wanted ? "" : " (auto)");
    int received = 0;
    while ((received = fastrt_h2::stop_signal()) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    shutdown_began = std::chrono::steady_clock::now();
    std::fprintf(stderr, "fastrt-h2: %s: shutting down (up to --shutdown-timeout %g s; a second signal exits at once)\n",
                 fastrt_h2::stop_signal_name(received), static_cast<double>(o.limits.shutdown_timeout.count()) / 1000.0);
    // Bounded: a handler that never returns or an app thread that never
    // ends must not keep the process alive (shutdown_control.hpp).
    watchdog.emplace(o.limits.shutdown_timeout, std::chrono::milliseconds(900), in_flight);
    (*server)->stop();  // GOAWAY, requests in flight answer, connections close
  }
  server->reset();
  if (watchdog) watchdog->step(fastrt_h2::shutdown_step::lifespan_shutdown);
  lifespan.shutdown(shutdown_began + o.limits.shutdown_timeout);
  if (watchdog) watchdog->step(fastrt_h2::shutdown_step::stopping_python_workers);
  if (auto down = (*executor)->shutdown(); !down) down.error().print(stderr, "fastrt-h2: stopping the Python workers");
  executor->reset();
  if (watchdog) watchdog->step(fastrt_h2::shutdown_step::finalizing_python);
  if (auto ended = (*runtime)->reset(); !ended) ended.error().print(stderr, "fastrt-h2: finalizing Python");
  if (watchdog) watchdog->finish();
  if (access_log && access_log != stdout) std::fclose(access_log);
  return status;
}
