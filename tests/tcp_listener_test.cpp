// ctest-labels: uring
#include <fastrt/tcp_listener.hpp>
#include <fastrt/timer.hpp>
#include <sys/socket.h>

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
