// fastrt/detail/socket_address.hpp — numeric host + port to a sockaddr.
//
// Accepts IPv4 and IPv6 literals, "localhost" and "" / "*" (any address).
// No DNS: a server binds to addresses, and a blocking resolver has no place on
// an event loop.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "../result.hpp"

namespace fastrt::detail {

struct socket_address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const noexcept { return storage.ss_family; }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
};

inline result<socket_address> resolve_numeric(std::string_view host, std::uint16_t port) {
  socket_address out;
  const std::string text(host == "localhost" ? "127.0.0.1" : host == "" || host == "*" ? "0.0.0.0" : host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.length = sizeof(sockaddr_in);
    return out;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  return error(std::errc::invalid_argument, "not a numeric IPv4/IPv6 address: '" + text + "' (no DNS here)");
}

}  // namespace fastrt::detail
