// ctest-labels: uring
#include <fastrt/tcp_listener.hpp>
#include <fastrt/timer.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "support/io.hpp"

using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::test::make_context;
using fastrt::test::run_on;

namespace {
// The listening socket's fd, found by its port (tcp_listener does not expose it).
int listening_fd_for(std::uint16_t port) {
  for (int fd = 3; fd < 1024; ++fd) {
    int accepting = 0;
    socklen_t len = sizeof accepting;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) continue;
    sockaddr_in addr{};
    socklen_t addr_len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) == 0 && ntohs(addr.sin_port) == port) return fd;
  }
  return -1;
}
}  // namespace

TEST_CASE("several accept() waiters: each gets its own connection, in order") {
  auto ctx = make_context();
  auto listener = fastrt::tcp_listener::bind(*ctx, "127.0.0.1", 0).value();
  const auto port = listener.local_port();
  int served[3] = {0, 0, 0};
  auto waiter = [&](int i) -> coro_task<> {
    auto conn = co_await listener.accept();
    if (conn) served[i] = 1;
  };
  auto body = [&]() -> coro_task<> {
    auto a = waiter(0), b = waiter(1), c = waiter(2);
    a.handle().resume();
    b.handle().resume();
    c.handle().resume();
    std::vector<fastrt::tcp_stream> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(std::move(co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port)).value());
    (void)co_await fastrt::sleep_for(*ctx, 20ms);
  };
  run_on(*ctx, body());
  REQUIRE(served[0] + served[1] + served[2] == 3);
}

TEST_CASE("an accept error reaches one waiter with its real code; the others keep waiting") {
  auto ctx = make_context();
  auto listener = fastrt::tcp_listener::bind(*ctx, "127.0.0.1", 0).value();
  const int fd = listening_fd_for(listener.local_port());
  REQUIRE(fd >= 0);
  int codes[2] = {-1, -1};
  auto waiter = [&](int i) -> coro_task<> {
    auto r = co_await listener.accept();
    codes[i] = r ? -2 : r.error().value();
  };
  auto body = [&]() -> coro_task<> {
    auto a = waiter(0), b = waiter(1);
    a.handle().resume();
    b.handle().resume();
    (void)co_await fastrt::sleep_for(*ctx, 10ms);
    ::shutdown(fd, SHUT_RD);  // accept now fails with EINVAL
    (void)co_await fastrt::sleep_for(*ctx, 50ms);
    listener.close();  // ends the remaining wait(s)
    (void)co_await fastrt::sleep_for(*ctx, 5ms);
  };
  run_on(*ctx, body());
  REQUIRE(codes[0] == EINVAL);
  REQUIRE(codes[1] != 0);  // a real code (EINVAL again, or EBADF from the close), never 0
  REQUIRE(codes[1] != -1);
}

TEST_CASE("a socket opened without reuse_port owns its port: a second bind fails, with or without SO_REUSEPORT") {
  const int fd = fastrt::tcp_listener::listen_socket("127.0.0.1", 0, {.reuse_port = false}).value();
  auto ctx = make_context();
  auto owner = fastrt::tcp_listener::adopt(*ctx, fd).value();
  const auto port = owner.local_port();
  REQUIRE(port != 0);
  for (const bool reuse_port : {true, false}) {
    auto second = fastrt::tcp_listener::listen_socket("127.0.0.1", port, {.reuse_port = reuse_port});
    REQUIRE_FALSE(second.has_value());
    REQUIRE(second.error().value() == EADDRINUSE);
  }
}

TEST_CASE("accept_descriptor: the connection as a descriptor the caller owns, served on another io_context") {
  auto ctx = make_context();
  auto listener = fastrt::tcp_listener::bind(*ctx, "127.0.0.1", 0, {.reuse_port = false}).value();
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(listener.local_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);  // queued in the backlog
  REQUIRE(::write(client, "ping", 4) == 4);
  auto take = [&]() -> coro_task<int> {
    auto fd = co_await listener.accept_descriptor();
    co_return fd ? *fd : -1;
  };
  const int accepted = run_on(*ctx, take());
  REQUIRE(accepted >= 0);
  // The descriptor is ours: another loop adopts it as a stream and reads what the client sent.
  auto other = make_context();
  std::string got;
  {
    fastrt::tcp_stream stream(*other, accepted);
    auto read = [&]() -> coro_task<> {
      auto in = co_await stream.recv();
      if (in) got = in->text();
    };
    run_on(*other, read());
  }
  ::close(client);
  REQUIRE(got == "ping");
}
