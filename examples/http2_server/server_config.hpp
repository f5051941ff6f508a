// server_config.hpp — what every connection of fastrt-h2 shares: the limits
// and timeouts from the command line, the C++ routes, the Python app, the
// connection count and the access log.
#pragma once

#include <fastrt/python/subinterpreter_executor.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "body_budget.hpp"
#include "cpp_handlers.hpp"
#include "python_app.hpp"

namespace fastrt_h2 {

using std::chrono::milliseconds;

struct server_config {
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
  milliseconds handler_timeout{30'000};      // Python app → 504
  milliseconds idle_timeout{60'000};         // no open stream, nothing received → GOAWAY, close
  milliseconds header_timeout{10'000};       // preface and each header block must arrive within it
  milliseconds settings_ack_timeout{10'000}; // our SETTINGS unacknowledged → GOAWAY(SETTINGS_TIMEOUT)
  milliseconds shutdown_timeout{10'000};     // SIGINT/SIGTERM: streams still open then are cut
  milliseconds send_timeout{30'000};         // data to send and nothing went out (also a zero window) → close
  milliseconds body_timeout{30'000};         // a request body without DATA for this long → 408, stream reset
  std::FILE* access_log = nullptr;           // one line per answered request when set
};

// Shared by every connection of every io thread. Read-only while serving,
// except the connection counter and the body budget.
struct app_context {
  server_config config;
  cpp_routes routes;
  fastrt::python::subinterpreter_executor* executor = nullptr;
  python_app app{{}, {}};
  mutable std::atomic<std::size_t> connections{0};
  mutable server_body_budget buffered;  // bytes of bodies held, all connections
};

}  // namespace fastrt_h2
