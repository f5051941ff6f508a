// ctest-labels: uring
#include <fastrt/async_scope.hpp>
#include <fastrt/tcp_listener.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/when_all.hpp>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/io.hpp"

using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::result;
using fastrt::tcp_listener;
using fastrt::tcp_stream;
using fastrt::test::make_context;
using fastrt::test::run_on;

namespace {

tcp_listener listen_any(fastrt::io_context& ctx) {
  auto l = tcp_listener::bind(ctx, "127.0.0.1", 0);
  if (!l) FAIL("bind: " << l.error().message());
  return std::move(l).value();
}

// Reads until `n` bytes arrived or EOF/error.
coro_task<std::string> read_exactly(tcp_stream& s, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    auto chunk = co_await s.recv();
    if (!chunk || chunk->empty()) break;
    out += chunk->text();
  }
  co_return out;
}

coro_task<std::string> read_to_eof(tcp_stream& s) {
  std::string out;
  for (;;) {
    auto chunk = co_await s.recv();
    if (!chunk || chunk->empty()) break;
    out += chunk->text();
  }
  co_return out;
}

// A plain blocking socket connected to `port`, for peers that misbehave.
int raw_connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

}  // namespace

TEST_CASE("accept, send, recv, half-close and close on real loopback sockets") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  const auto port = listener.local_port();
  REQUIRE(port != 0);

  auto server = [&]() -> coro_task<std::string> {
    auto conn = co_await listener.accept();
    REQUIRE(conn.has_value());
    // (No co_await inside REQUIRE: g++ 12 evaluates the awaiter of Catch's
    // never-run branch, so every await here is stored first.)
    std::string got = co_await read_exactly(*conn, 4);
    auto pong = co_await conn->send(std::string_view("pong"));
    std::string rest = co_await read_to_eof(*conn);  // the client half-closes
    auto bye = co_await conn->send(std::string_view("bye"));  // we still may send
    conn->close();
    co_return got + "|" + rest + "|" + std::to_string(pong.value_or(0)) + std::to_string(bye.value_or(0));
  };
  auto client = [&]() -> coro_task<std::string> {
    auto conn = co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port);
    REQUIRE(conn.has_value());
    auto ping = co_await conn->send(std::string_view("ping"));
    std::string reply = co_await read_exactly(*conn, 4);
    auto tail = co_await conn->send(std::string_view("tail"));
    REQUIRE(ping.has_value());
    REQUIRE(tail.has_value());
    REQUIRE(conn->shutdown(SHUT_WR).has_value());
    std::string last = co_await read_to_eof(*conn);
    co_return reply + "|" + last;
  };
  auto both = [&]() -> coro_task<std::tuple<std::string, std::string>> {
    co_return co_await fastrt::when_all(server(), client());
  };
  auto [server_saw, client_saw] = run_on(*ctx, both());
  REQUIRE(server_saw == "ping|tail|43");
  REQUIRE(client_saw == "pong|bye");
}

TEST_CASE("many small sends are batched and arrive intact and in order; a large send completes") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  const auto port = listener.local_port();
  std::string small_expected, big(8 << 20, '\0');
  for (int i = 0; i < 2000; ++i) small_expected += "msg" + std::to_string(i) + ";";
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);

  auto server = [&]() -> coro_task<std::string> {
    auto conn = co_await listener.accept();
    co_return co_await read_to_eof(*conn);
  };
  auto client = [&]() -> coro_task<bool> {
    auto conn = co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port);
    // Fire 2000 small sends without awaiting each: they share send calls.
    std::vector<coro_task<result<std::size_t>>> sends;
    for (int i = 0; i < 2000; ++i) {
      sends.push_back([](tcp_stream& s, std::string m) -> coro_task<result<std::size_t>> {
        co_return co_await s.send(std::string_view(m));
      }(*conn, "msg" + std::to_string(i) + ";"));
    }
    auto results = co_await fastrt::when_all(std::move(sends));
    bool all_ok = true;
    for (auto& r : results) all_ok = all_ok && r.has_value();
    auto sent_big = co_await conn->send(std::string_view(big));
    conn->close();
    co_return all_ok && sent_big.value() == big.size();
  };
  auto both = [&]() -> coro_task<std::tuple<std::string, bool>> { co_return co_await fastrt::when_all(server(), client()); };
  auto [received, ok] = run_on(*ctx, both());
  REQUIRE(ok);
  REQUIRE(received.size() == small_expected.size() + big.size());
  REQUIRE(received.substr(0, small_expected.size()) == small_expected);
  REQUIRE(received.substr(small_expected.size()) == big);
}

TEST_CASE("a peer reset is reported as an error, not EOF") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  const int raw = raw_connect(listener.local_port());
  ::send(raw, "x", 1, 0);
  linger hard{1, 0};  // close with RST
  ::setsockopt(raw, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(raw);
  auto server = [&]() -> coro_task<std::string> {
    auto conn = co_await listener.accept();
    std::string seen;
    for (;;) {
      auto chunk = co_await conn->recv();
      if (!chunk) co_return seen + "error:" + std::to_string(chunk.error().value());
      if (chunk->empty()) co_return seen + "eof";
      seen += chunk->text();
    }
  };
  const std::string outcome = run_on(*ctx, server());
  REQUIRE(outcome.find("error:" + std::to_string(ECONNRESET)) != std::string::npos);
}

TEST_CASE("connecting to a closed port fails with connection refused") {
  auto ctx = make_context();
  std::uint16_t port;
  {
    auto l = listen_any(*ctx);
    port = l.local_port();
  }  // closed again: nobody listens there now
  auto attempt = [&]() -> coro_task<result<tcp_stream>> { co_return co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port); };
  auto r = run_on(*ctx, attempt());
  REQUIRE_FALSE(r.has_value());
  REQUIRE(r.error() == std::errc::connection_refused);
  auto bad = [&]() -> coro_task<result<tcp_stream>> { co_return co_await fastrt::tcp_connect(*ctx, "example.org", 80); };
  REQUIRE(run_on(*ctx, bad()).error() == std::errc::invalid_argument);
}

TEST_CASE("a cancelled recv ends with errc::canceled and the stream stays usable") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  const auto port = listener.local_port();
  auto scenario = [&]() -> coro_task<std::string> {
    auto client = co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port);
    auto conn = co_await listener.accept();
    // Nothing is sent: the recv waits, then the timeout stops it.
    auto waited = co_await fastrt::with_timeout(*ctx, [](tcp_stream& s) -> coro_task<result<std::size_t>> {
      auto chunk = co_await s.recv();
      if (!chunk) co_return chunk.error();
      co_return chunk->size();
    }(*conn), 30ms);
    REQUIRE(waited.error() == fastrt::errc::timed_out);
    // Data sent afterwards still arrives on the same stream.
    (void)co_await client->send(std::string_view("late"));
    co_return co_await read_exactly(*conn, 4);
  };
  REQUIRE(run_on(*ctx, scenario()) == "late");
}

TEST_CASE("a coroutine destroyed while waiting in recv leaves nothing dangling") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  const auto port = listener.local_port();
  auto scenario = [&]() -> coro_task<std::string> {
    auto client = co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port);
    auto conn = co_await listener.accept();
    {
      auto waiter = [](tcp_stream& s) -> coro_task<> { (void)co_await s.recv(); }(*conn);
      waiter.handle().resume();  // now suspended in recv, the multishot armed
      (void)co_await fastrt::sleep_for(*ctx, 2ms);
    }  // destroyed mid-wait
    (void)co_await client->send(std::string_view("after"));
    co_return co_await read_exactly(*conn, 5);  // the data is not lost either
  };
  REQUIRE(run_on(*ctx, scenario()) == "after");
}

TEST_CASE("a stop request ends a waiting accept with errc::canceled") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  auto body = [&]() -> coro_task<bool> {
    auto r = co_await fastrt::with_timeout(*ctx, [](tcp_listener& l) -> coro_task<result<tcp_stream>> {
      co_return co_await l.accept();
    }(listener), 20ms);
    co_return !r.has_value() && r.error() == fastrt::errc::timed_out;
  };
  REQUIRE(run_on(*ctx, body()));
}

TEST_CASE("binding a port that is taken gives a clear error") {
  auto ctx = make_context();
  fastrt::listen_options exclusive;
  exclusive.reuse_port = false;
  auto first = tcp_listener::bind(*ctx, "127.0.0.1", 0, exclusive);
  REQUIRE(first.has_value());
  auto second = tcp_listener::bind(*ctx, "127.0.0.1", first->local_port(), exclusive);
  REQUIRE_FALSE(second.has_value());
  REQUIRE(second.error() == std::errc::address_in_use);
  REQUIRE(second.error().message().find("bind 127.0.0.1:") != std::string_view::npos);
}

TEST_CASE("10,000 connections opened and closed leak no file descriptor") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  const auto port = listener.local_port();
  const std::size_t fds_before = fastrt::test::open_fd_count();
  constexpr int total = 10'000, parallel = 50;
  // The server echoes every connection until EOF, then closes it.
  auto echo = [](tcp_stream conn) -> coro_task<> {
    for (;;) {
      auto chunk = co_await conn.recv();
      if (!chunk || chunk->empty()) break;
      if (!co_await conn.send(chunk->bytes())) break;
    }
  };
  auto acceptor = [&]() -> coro_task<int> {
    fastrt::async_scope handlers;
    int accepted = 0;
    for (; accepted < total; ++accepted) {
      auto conn = co_await listener.accept();
      if (!conn) break;
      handlers.spawn(echo(std::move(conn).value()));
    }
    co_await handlers.join();
    co_return accepted;
  };
  auto one = [&](int i) -> coro_task<bool> {
    auto client = co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port);
    if (!client) co_return false;
    const std::string msg = std::to_string(i);
    auto sent = co_await client->send(std::string_view(msg));
    const std::string got = co_await read_exactly(*client, msg.size());
    client->close();
    co_return sent.has_value() && got == msg;
  };
  auto clients = [&]() -> coro_task<int> {
    int ok = 0;
    for (int base = 0; base < total; base += parallel) {
      std::vector<coro_task<bool>> batch;
      for (int i = base; i < base + parallel; ++i) batch.push_back(one(i));
      for (bool b : co_await fastrt::when_all(std::move(batch))) ok += b;
    }
    co_return ok;
  };
  auto all = [&]() -> coro_task<std::tuple<int, int>> { co_return co_await fastrt::when_all(acceptor(), clients()); };
  auto [accepted, ok] = run_on(*ctx, all());
  REQUIRE(accepted == total);
  REQUIRE(ok == total);
  REQUIRE(fastrt::test::open_fd_count() == fds_before);
}

TEST_CASE("when the buffer ring runs dry (ENOBUFS) receiving resumes once buffers return, losing nothing") {
  fastrt::io_context_options tiny;
  tiny.receive_buffers.count = 4;  // four 64-byte buffers for the whole loop
  tiny.receive_buffers.size = 64;
  auto ctx = make_context(tiny);
  auto listener = listen_any(*ctx);
  const auto port = listener.local_port();
  std::string payload(20'000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('A' + i % 23);

  auto server = [&]() -> coro_task<std::pair<std::string, int>> {
    auto conn = co_await listener.accept();
    std::string got;
    int times_held_all = 0;
    std::vector<fastrt::received> held;  // keeps every buffer busy until all four are taken
    while (got.size() < payload.size()) {
      auto chunk = co_await conn->recv();
      if (!chunk || chunk->empty()) break;
      got += chunk->text();
      held.push_back(std::move(chunk).value());
      if (held.size() == 4) {
        ++times_held_all;
        (void)co_await fastrt::sleep_for(*ctx, 1ms);  // the kernel meanwhile hits ENOBUFS
        held.clear();  // buffers go back: the stream re-arms
      }
    }
    co_return std::pair{got, times_held_all};
  };
  auto client = [&]() -> coro_task<bool> {
    auto conn = co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port);
    auto sent = co_await conn->send(std::string_view(payload));
    co_return sent.has_value();
  };
  auto both = [&]() -> coro_task<std::tuple<std::pair<std::string, int>, bool>> {
    co_return co_await fastrt::when_all(server(), client());
  };
  auto [outcome, sent] = run_on(*ctx, both());
  REQUIRE(sent);
  REQUIRE(outcome.first == payload);
  REQUIRE(outcome.second > 10);  // the ring really ran dry many times
}

TEST_CASE("sending on a closed stream fails instead of pretending") {
  auto ctx = make_context();
  auto listener = listen_any(*ctx);
  const auto port = listener.local_port();
  auto body = [&]() -> coro_task<result<std::size_t>> {
    auto client = co_await fastrt::tcp_connect(*ctx, "127.0.0.1", port);
    auto server = co_await listener.accept();
    client->close();
    co_return co_await client->send(std::string_view("hello"));
  };
  auto sent = run_on(*ctx, body());
  REQUIRE_FALSE(sent.has_value());
  REQUIRE(sent.error() == std::errc::bad_file_descriptor);
}
