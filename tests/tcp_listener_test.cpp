// ctest-labels: uring
#include <fastrt/tcp_listener.hpp>
#include <fastrt/timer.hpp>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

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
  auto owner = fastrt::tcp_listener::adopt(*ctx, fd, fastrt::accept_mode::multishot).value();
  const auto port = owner.local_port();
  REQUIRE(port != 0);
  for (const bool reuse_port : {true, false}) {
    auto second = fastrt::tcp_listener::listen_socket("127.0.0.1", port, {.reuse_port = reuse_port});
    REQUIRE_FALSE(second.has_value());
    REQUIRE(second.error().value() == EADDRINUSE);
  }
}

TEST_CASE("adopt: listeners on dups of one socket, one per io_context, all accept") {
  const int fd = fastrt::tcp_listener::listen_socket("127.0.0.1", 0, {.reuse_port = false}).value();
  constexpr int loops = 2, clients = 200;
  std::vector<std::unique_ptr<fastrt::io_context>> contexts;
  std::vector<std::optional<fastrt::tcp_listener>> listeners(loops);
  for (int i = 0; i < loops; ++i) {
    contexts.push_back(make_context());
    listeners[i].emplace(fastrt::tcp_listener::adopt(*contexts[i], i == 0 ? fd : ::dup(fd), fastrt::accept_mode::one_at_a_time).value());
  }
  const auto port = listeners[0]->local_port();
  std::atomic<int> accepted[loops] = {0, 0};
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < loops; ++i) {
    threads.emplace_back([&, i] {
      auto body = [&]() -> coro_task<> {
        std::vector<fastrt::tcp_stream> kept;  // held open, like a server's connections
        while (total.load(std::memory_order_acquire) < clients) {
          auto accept = [&]() -> coro_task<fastrt::result<fastrt::tcp_stream>> { co_return co_await listeners[i]->accept(); };
          auto conn = co_await fastrt::with_timeout(*contexts[i], accept(), 100ms);
          if (!conn) continue;  // timed out: look at the total again
          accepted[i].fetch_add(1, std::memory_order_relaxed);
          total.fetch_add(1, std::memory_order_acq_rel);
          kept.push_back(std::move(conn).value());
        }
      };
      run_on(*contexts[i], body());
    });
  }
  std::vector<int> sockets;
  for (int c = 0; c < clients; ++c) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    sockets.push_back(s);
    if (c % 10 == 9) std::this_thread::sleep_for(1ms);  // arrivals spread in time, as from real clients
  }
  for (auto& t : threads) t.join();
  for (int s : sockets) ::close(s);
  INFO("accepted per loop: " << accepted[0].load() << " / " << accepted[1].load());
  REQUIRE(total.load() == clients);
  for (int i = 0; i < loops; ++i) CHECK(accepted[i].load() >= clients / 10);
}
