// fastrt-echo — TCP echo server on N io threads (io_uring, one SO_REUSEPORT
// listener and one io_context per thread). Built with -fno-exceptions.
//
//   fastrt-echo [--host 127.0.0.1] [--port 7000] [--threads N]
// Stops cleanly on SIGINT/SIGTERM. Bad arguments: one-line error, exit 2.
#include <fastrt/async_scope.hpp>
#include <fastrt/io_threads.hpp>
#include <fastrt/tcp_listener.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct options {
  std::string host = "127.0.0.1";
  long port = 7000;
  long threads = 1;
};

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
    if (flag == "--help") {
      std::puts("usage: fastrt-echo [--host ADDR] [--port P] [--threads N]");
      std::exit(0);
    }
    if (i + 1 == argc) return fastrt::error(std::errc::invalid_argument, std::string(flag) + " needs a value");
    const char* value = argv[++i];
    if (flag == "--host") o.host = value;
    else if (flag == "--port") o.port = FASTRT_TRY(parse_number(flag, value, 0, 65535));
    else if (flag == "--threads") o.threads = FASTRT_TRY(parse_number(flag, value, 1, 256));
    else return fastrt::error(std::errc::invalid_argument, "unknown option " + std::string(flag));
  }
  return o;
}

fastrt::coro_task<> echo(fastrt::tcp_stream stream) {
  for (;;) {
    auto chunk = co_await stream.recv();
    if (!chunk || chunk->empty()) break;  // error or EOF
    if (!co_await stream.send(chunk->bytes())) break;
  }
}

fastrt::coro_task<> serve(fastrt::tcp_listener& listener) {
  fastrt::async_scope connections;
  for (;;) {
    auto accepted = co_await listener.accept();
    if (!accepted) {
      if (accepted.error() == fastrt::errc::canceled) break;  // shutting down
      std::fprintf(stderr, "fastrt-echo: accept: %s\n", accepted.error().message().data());
      continue;
    }
    connections.spawn(echo(std::move(accepted).value()));
  }
  listener.close();
  connections.request_stop();
  co_await connections.join();
}

std::atomic<bool> stop_requested{false};

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "fastrt-echo: %s (try --help)\n", parsed.error().message().data());
    return 2;
  }
  const options o = *parsed;
  std::signal(SIGINT, [](int) { stop_requested.store(true); });
  std::signal(SIGTERM, [](int) { stop_requested.store(true); });
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::optional<fastrt::tcp_listener>> listeners(static_cast<std::size_t>(o.threads));
  std::atomic<int> bound{0}, failed{0};
  auto threads = fastrt::io_threads::start(
      static_cast<std::size_t>(o.threads),
      [&](fastrt::io_context& ctx, std::size_t index) -> fastrt::coro_task<> {
        auto listener = fastrt::tcp_listener::bind(ctx, o.host, static_cast<std::uint16_t>(o.port));
        if (!listener) {
          std::fprintf(stderr, "fastrt-echo: %s: %s\n", listener.error().message().data(),
                       std::strerror(listener.error().value()));
          failed.fetch_add(1);
          co_return;
        }
        listeners[index].emplace(std::move(listener).value());
        bound.fetch_add(1);
        co_await serve(*listeners[index]);
        listeners[index].reset();
      });
  if (!threads) {
    std::fprintf(stderr, "fastrt-echo: %s\n", threads.error().message().data());
    return 1;
  }
  while (bound.load() + failed.load() < o.threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (failed.load() != 0) {
    (*threads)->stop();
    return 1;
  }
  std::printf("fastrt-echo: listening on %s:%ld with %ld io thread(s)\n", o.host.c_str(), o.port, o.threads);
  std::fflush(stdout);
  while (!stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*threads)->stop();
  return 0;
}
