// server_config.hpp — the limits and timeouts every connection of a server
// shares: streams and header sizes, body sizes and the memory budgets for
// bodies, the connection cap, and each timeout (zero disables one). The
// embedding program fills it (fastrt-h2 from its command line) before
// serving. (Logs and access records go to the server's observer.hpp.)
//
// Thread-safety: read-only while serving (every io thread reads it). Cost:
// a plain struct.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fastrt::http2 {

struct server_config {
  using milliseconds = std::chrono::milliseconds;

  std::uint32_t max_concurrent_streams = 100;
  std::uint32_t max_header_list_size = 64 * 1024;
  std::size_t max_body_size = 1024 * 1024;
  std::size_t max_connections = 100000;  // beyond it: GOAWAY at once
  // Request and response bodies held in memory (0: no limit). Beyond them a
  // request still arriving is refused (RST_STREAM REFUSED_STREAM) and an
  // answer gets 503 instead of its body.
  std::size_t max_buffered_per_connection = std::size_t{64} << 20;
  std::size_t max_buffered = std::size_t{1} << 30;  // server-wide
  // Zero disables a timeout.
  milliseconds handler_timeout{30'000};      // a handler that has not answered → 504
  milliseconds idle_timeout{60'000};         // no open stream, nothing received → GOAWAY, close
  milliseconds header_timeout{10'000};       // preface and each header block must arrive within it
  milliseconds settings_ack_timeout{10'000}; // our SETTINGS unacknowledged → GOAWAY(SETTINGS_TIMEOUT)
  milliseconds shutdown_timeout{10'000};     // graceful shutdown: streams still open then are cut
  milliseconds send_timeout{30'000};         // data to send and nothing went out (also a zero window) → close
  milliseconds body_timeout{30'000};         // a request body without DATA for this long → 408, stream reset
  milliseconds tls_handshake_timeout{10'000};  // a TLS handshake not done by then → close (tls_connection.hpp)
};

}  // namespace fastrt::http2
