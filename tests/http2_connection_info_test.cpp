// ctest-labels: http2
// connection_info.hpp: the endpoints read from a connected socket — a real
// TCP connection over loopback gives both addresses and ports; a socketpair
// (AF_UNIX) has none.
#include <fastrt/http2/connection_info.hpp>
#include <fastrt/http2/request.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace {

std::uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t n = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("connection_info: a loopback TCP connection knows both endpoints") {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(listener, 1) == 0);
  const std::uint16_t server_port = local_port(listener);
  a.sin_port = htons(server_port);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const int accepted = ::accept(listener, nullptr, nullptr);
  REQUIRE(accepted >= 0);

  const auto info = fastrt::http2::connection_info::of_socket(accepted);
  CHECK(info.scheme == "http");
  CHECK(info.client.host == "127.0.0.1");
  CHECK(info.client.port == local_port(client));
  CHECK(info.server.host == "127.0.0.1");
  CHECK(info.server.port == server_port);

  fastrt::http2::request req;
  fastrt::http2::set_connection(req, info);
  CHECK(req.client.port == info.client.port);
  CHECK(req.server.host == "127.0.0.1");
  ::close(accepted);
  ::close(client);
  ::close(listener);
}

TEST_CASE("connection_info: a socketpair or a closed descriptor has no address") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  const auto info = fastrt::http2::connection_info::of_socket(pair[0]);
  CHECK(info.client.host.empty());
  CHECK(info.client.port == 0);
  CHECK(info.server.host.empty());
  CHECK(info.server.port == 0);
  ::close(pair[0]);
  ::close(pair[1]);
  const auto closed = fastrt::http2::connection_info::of_socket(pair[0]);
  CHECK(closed.client.host.empty());
}
