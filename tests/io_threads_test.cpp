// ctest-labels: concurrency uring
#include <fastrt/async_scope.hpp>
#include <fastrt/io_threads.hpp>
#include <fastrt/tcp_listener.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "support/io.hpp"

using fastrt::coro_task;

namespace {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One blocking round trip through a fresh connection.
std::string echo_once(std::uint16_t port, const std::string& msg) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size())) {
    char buffer[256];
    while (got.size() < msg.size()) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      got.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return got;
}

coro_task<> echo(fastrt::tcp_stream conn) {
  for (;;) {
    auto chunk = co_await conn.recv();
    if (!chunk || chunk->empty()) break;
    if (!co_await conn.send(chunk->bytes())) break;
  }
}

}  // namespace

// A thread that wakes a sleeping loop with MSG_RING keeps one small ring for
// that for the rest of its life. Create this thread's now, so that the fd
// count below measures only what io_threads leaves behind.
void create_this_threads_wakeup_ring() {
  auto ctx = fastrt::test::make_context();
  std::thread loop([&] { ctx->run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // asleep by now
  ctx->stop();
  loop.join();
}

TEST_CASE("io_threads: two loops share a port and stop cleanly") {
  const std::uint16_t port = free_port();
  create_this_threads_wakeup_ring();
  const std::size_t fds_before = fastrt::test::open_fd_count();
  std::atomic<int> listening{0}, accepted{0}, bind_failures{0};
  auto threads = fastrt::io_threads::start(2, [&](fastrt::io_context& ctx, std::size_t) -> coro_task<> {
    auto listener = fastrt::tcp_listener::bind(ctx, "127.0.0.1", port);
    if (!listener) {
      bind_failures.fetch_add(1);
      co_return;
    }
    listening.fetch_add(1);
    fastrt::async_scope connections;
    for (;;) {
      auto conn = co_await listener->accept();
      if (!conn) break;  // cancelled by stop()
      accepted.fetch_add(1);
      connections.spawn(echo(std::move(conn).value()));
    }
    connections.request_stop();
    co_await connections.join();
  });
  REQUIRE(threads.has_value());
  while (listening.load() + bind_failures.load() < 2) std::this_thread::yield();
  REQUIRE(bind_failures.load() == 0);

  int ok = 0;
  for (int i = 0; i < 200; ++i) ok += echo_once(port, "hello " + std::to_string(i)) == "hello " + std::to_string(i);
  REQUIRE(ok == 200);
  REQUIRE(accepted.load() == 200);

  (*threads)->stop();  // returns only once both loops have ended
  threads->reset();
  REQUIRE(fastrt::test::open_fd_count() == fds_before);
}

TEST_CASE("io_threads: a loop that cannot start is reported") {
  fastrt::io_context_options impossible;
  impossible.entries = 1u << 20;
  auto threads = fastrt::io_threads::start(
      2, [](fastrt::io_context&, std::size_t) -> coro_task<> { co_return; }, impossible);
  REQUIRE_FALSE(threads.has_value());
  REQUIRE(threads.error().message().find("io_uring setup failed") != std::string_view::npos);
}
