// connection_info.hpp — what the server knows about a connection that every
// request on it shares: the scheme it is served with and the two endpoints
// (the client's and the server's address and port), as frameworks need them
// (WSGI's REMOTE_ADDR / SERVER_NAME, ASGI's client / server).
//
//   fastrt::http2::connection_info info = fastrt::http2::connection_info::of_socket(fd);
//   info.client.host   "127.0.0.1", "::1" (numeric, no brackets)
//   info.client.port   the client's port
//   info.server        the same for the local end (the address the client reached)
//   info.scheme        "http" (cleartext), "https" (TLS)
//   info.protocol      sniff: the first bytes tell (cleartext: the preface, an
//                      h2c upgrade, an HTTP/1.x request); http2 / http1: TLS's
//                      ALPN chose it, and the connection holds to it
//
// A socket without an address (an AF_UNIX socketpair, a test transport) has
// empty hosts and port 0: "unknown", never an error.
//
// Thread-safety: a plain value. Cost: two getsockname-family calls and two
// inet_ntop per connection (not per request); copying it into a request
// copies two short strings (within the small-string buffer for IPv4).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace fastrt::http2 {

struct endpoint {
  std::string host;        // numeric address; empty when unknown
  std::uint16_t port = 0;  // 0 when unknown
};

// How the connection's protocol is decided (see above).
enum class protocol_choice : std::uint8_t { sniff, http2, http1 };

struct connection_info {
  std::string_view scheme = "http";  // static text: "http" or "https"
  protocol_choice protocol = protocol_choice::sniff;
  endpoint client;
  endpoint server;

  // The endpoints of connected socket `fd` (getpeername / getsockname).
  static connection_info of_socket(int fd) {
    connection_info info;
    info.client = endpoint_of(fd, &::getpeername);
    info.server = endpoint_of(fd, &::getsockname);
    return info;
  }

 private:
  using name_call = int (*)(int, sockaddr*, socklen_t*);

  static endpoint endpoint_of(int fd, name_call call) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (call(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
      if (!::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text)) return {};
      return {text, ntohs(v4->sin_port)};
    }
    if (address.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
      if (!::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text)) return {};
      return {text, ntohs(v6->sin6_port)};
    }
    return {};  // AF_UNIX and the like: no address
  }
};

}  // namespace fastrt::http2
