// observer.hpp — how a server built on fastrt::http2 hears what its
// connections do: log lines, one access record per answered request, and
// counters. The library never writes to stderr or a file itself; the
// embedding program derives from `observer`, overrides what it wants and
// hands it to the server (server_context::events). Every method has a
// no-op default, so `observer` itself is the silent observer.
//
//   struct stderr_log : fastrt::http2::observer {
//     void log(log_level, std::string_view line) override { std::fprintf(stderr, "%.*s\n", ...); }
//   };
//
// Thread-safety: every io thread calls the same observer concurrently;
// an implementation must be thread-safe (a mutex around a FILE*, atomics
// for counters). The library never calls it with one of its own locks
// held, so an implementation may block briefly, at the cost of that io
// thread's connections.
// Cost: one virtual call per event; access records only when
// wants_access_records() says so (the clock is read only then).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fastrt::http2 {

enum class log_level : std::uint8_t {
  info,     // expected events an operator may want to see (a shutdown step)
  warning,  // a client misbehaved and lost its stream or connection
  error,    // the server or the app failed a request (a 500, a failed handler)
};

// What count() counts. Each is a monotonically increasing total.
enum class metric : std::uint8_t {
  connections_opened,
  connections_closed,
  connections_refused,     // over server_config::max_connections: GOAWAY at once
  requests_dispatched,     // a complete request handed to its handler
  requests_answered_early, // 408, 413, 431 before the request was complete
  streams_refused,         // REFUSED_STREAM: the body budget was spent
  streams_reset_by_peer,   // RST_STREAM received, or provoked by the client's frames
  bodies_timed_out,        // --body-timeout: 408 and RST_STREAM
  connections_timed_out,   // idle, header, SETTINGS or send timeout
  connections_calmed,      // GOAWAY ENHANCE_YOUR_CALM: floods and reset limits
};
inline constexpr std::size_t metric_count = static_cast<std::size_t>(metric::connections_calmed) + 1;

// One answered request (its response headers went out). The views are
// valid during the call only.
struct access_record {
  std::string_view method;
  std::string_view path;
  std::string_view query;       // without '?', empty when there was none
  std::string_view protocol;    // "HTTP/2"
  int status = 0;
  std::uint64_t body_bytes = 0;  // response body bytes sent
  std::chrono::nanoseconds duration{};  // from the request's first header to the stream's close
};

class observer {
 public:
  observer() = default;
  observer(const observer&) = delete;
  observer& operator=(const observer&) = delete;
  virtual ~observer() = default;

  // One line, without a trailing newline; request text in it is escaped
  // (field_rules.hpp escape_for_log), so it cannot forge lines.
  virtual void log(log_level, std::string_view) {}
  // Whether access() wants to be called at all (read once per stream).
  virtual bool wants_access_records() const noexcept { return false; }
  virtual void access(const access_record&) {}
  virtual void count(metric, std::uint64_t = 1) {}
};

}  // namespace fastrt::http2
