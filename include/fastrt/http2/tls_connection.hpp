// tls_connection.hpp — serving a listener over TLS: each accepted socket
// does its handshake (fastrt/tls/stream.hpp) on its io thread, then runs as
// an HTTP/2 connection (ALPN h2) or an HTTP/1.1 one (ALPN http/1.1, or no
// ALPN) over the tls_stream, with scheme "https" on every request.
//
//   auto tls = fastrt::tls_context::load("cert.pem", "key.pem");
//   auto s = fastrt::http2::server::bind(options, fastrt::http2::tls_starter(*tls));   // *tls outlives the server
//
// A handshake that fails (not TLS, an old version, no shared ALPN) or does
// not finish within server_config::tls_handshake_timeout costs only its
// connection: it is closed, with a warning line naming OpenSSL's reason
// (none for a peer that just leaves). A
// graceful shutdown ends handshakes still running at once.
//
// Thread-safety: the connection's io thread; the context is shared
// read-only. Cost: per connection one tls_stream (an SSL object) besides
// the HTTP connection; the cleartext path does not pass here.
#pragma once

#include <chrono>
#include <stop_token>
#include <string>
#include <utility>

#include <fastrt/http2/connection.hpp>
#include <fastrt/http2/connection_info.hpp>
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/server.hpp>
#include <fastrt/http2/server_context.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/task.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/tls/context.hpp>
#include <fastrt/tls/stream.hpp>
#include <fastrt/with_stop_token.hpp>

namespace fastrt::http2 {

namespace detail {

// A handshake in progress, as the connection list sees it: a graceful
// shutdown stops it.
struct pending_handshake {
  std::stop_source stop;
  void begin_shutdown() { stop.request_stop(); }
};

inline coro_task<> serve_tls_connection(const void* self, io_context& ctx, tcp_stream tcp, const server_context& server,
                                        connection_list& live, connection_info info) {
  tls_stream stream(*static_cast<const tls_context*>(self), std::move(tcp));
  result<void> shaken = error(std::errc::timed_out, "TLS handshake timed out (--tls-handshake-timeout)");
  {
    pending_handshake pending;
    live.add(&pending);
    const auto limit = server.config.tls_handshake_timeout;
    if (limit.count() > 0) {
      shaken = co_await with_stop_token(with_timeout(ctx, stream.handshake(), limit), pending.stop.get_token());
      if (!shaken && shaken.error() == errc::timed_out)
        shaken = error(std::errc::timed_out, "TLS handshake timed out (--tls-handshake-timeout)");
    } else {
      shaken = co_await with_stop_token(stream.handshake(), pending.stop.get_token());
    }
    live.remove(&pending);
  }
  if (!shaken) {
    // (A peer that leaves before finishing — a TCP health check, a port
    // scan — is not worth a line; shutdown's cancel neither.)
    if (shaken.error() != errc::canceled && shaken.error() != std::errc::connection_reset) {
      if (shaken.error() == errc::timed_out) server.events->count(metric::connections_timed_out);
      std::string line = "closing a connection: ";
      line += shaken.error().message();
      server.events->log(log_level::warning, line);
    }
    stream.close();
    co_return;
  }
  info.scheme = "https";
  info.protocol = stream.protocol() == tls_alpn::h2 ? protocol_choice::http2 : protocol_choice::http1;
  basic_connection<tls_stream> c(ctx, stream, server, live, std::move(info));
  co_await c.run();
}

}  // namespace detail

// The connection_starter (server::bind) that serves TLS with `context` (which must
// outlive the server).
inline connection_starter tls_starter(const tls_context& context) noexcept {
  return connection_starter{&detail::serve_tls_connection, &context};
}

}  // namespace fastrt::http2
