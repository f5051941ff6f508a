// Standalone-asio coroutine echo server (asio::awaitable + co_spawn + use_awaitable), one
// thread running one io_context. Built twice from this source:
//   asio_echo_epoll  asio's default Linux reactor (epoll)
//   asio_echo_uring  ASIO_HAS_IO_URING + ASIO_DISABLE_EPOLL: asio's io_uring backend
// Errors (including EOF) come back as values through as_tuple, so no exception is thrown per
// connection. Each connection is one coroutine whose frame holds its 1 KiB read buffer (the
// buffer must outlive the pending read, so it cannot be shared the way the epoll server does).
//
// usage: asio_echo_{epoll,uring} --port P [--host 127.0.0.1]
#include "echo_common.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <array>
#include <cstdint>

namespace {

using asio::ip::tcp;
constexpr auto use_nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kBufferSize = 1024;

#if defined(ASIO_HAS_IO_URING_AS_DEFAULT)
constexpr const char* kBackend = "io_uring";
#else
constexpr const char* kBackend = "epoll";
#endif

asio::awaitable<void> echo(tcp::socket socket) {
  std::array<char, kBufferSize> data;
  for (;;) {
    auto [read_error, n] = co_await socket.async_read_some(asio::buffer(data), use_nothrow_awaitable);
    if (read_error) co_return;  // EOF or reset
    auto [write_error, written] =
        co_await asio::async_write(socket, asio::buffer(data.data(), n), use_nothrow_awaitable);
    (void)written;
    if (write_error) co_return;
  }
}

asio::awaitable<void> listener(tcp::acceptor acceptor) {
  bool warned = false;
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(use_nothrow_awaitable);
    if (error) {
      if (!warned) std::fprintf(stderr, "asio_echo_server: accept: %s\n", error.message().c_str());
      warned = true;
      continue;
    }
    asio::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  echo_bench::args a(argc, argv, {"port", "host"}, "--port P [--host 127.0.0.1]");
  if (!a.has("port")) {
    std::fprintf(stderr, "usage: %s --port P [--host 127.0.0.1]\n", argv[0]);
    return 2;
  }
  echo_bench::raise_nofile_limit();
  try {
    asio::io_context context(1);  // one thread runs it
    tcp::endpoint endpoint(asio::ip::make_address(a.str("host", "127.0.0.1")),
                           static_cast<std::uint16_t>(a.integer("port", 0)));
    tcp::acceptor acceptor(context);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    asio::signal_set signals(context, SIGINT, SIGTERM);
    signals.async_wait([&](const asio::error_code&, int) { context.stop(); });
    asio::co_spawn(context, listener(std::move(acceptor)), asio::detached);
    std::fprintf(stderr, "asio_echo_server (%s): listening on port %u\n", kBackend, endpoint.port());
    context.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_echo_server: %s\n", e.what());
    return 1;
  }
}
