// h2_session.hpp — one HTTP/2 connection: an nghttp2 server session over a
// tcp_stream (h2c with prior knowledge).
//
// Bytes received are fed to nghttp2_session_mem_recv; what the session wants
// to send is collected with nghttp2_session_mem_send and handed to
// tcp_stream::send (which copies it at once, so several coroutines of the
// connection may flush in turn without reordering bytes). A request whose
// stream is complete runs in its own coroutine on the connection's
// async_scope: a C++ handler (by path prefix) on this io thread, otherwise
// the Python app on the executor; its response is submitted if the stream is
// still open then. Everything here runs on the connection's io thread.
//
// A first chunk that is not the HTTP/2 client preface is read as an HTTP/1.1
// request head: an h2c upgrade (without a body) gets 101 and continues as
// HTTP/2 with the request as stream 1; anything else gets a well-formed
// HTTP/1.1 426 response and the connection is closed. A stop request (SIGINT/SIGTERM) sends GOAWAY with
// the last processed stream id, lets the requests in flight answer, and
// closes.
#pragma once

#include <nghttp2/nghttp2.h>

#include <fastrt/async_scope.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <cctype>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cpp_handlers.hpp"
#include "python_app.hpp"
#include "request.hpp"

namespace fastrt_h2 {

struct server_config {
  std::uint32_t max_concurrent_streams = 100;
  std::uint32_t max_header_list_size = 64 * 1024;
  std::size_t max_body_size = 1024 * 1024;
};

// Shared by every connection of every io thread (read-only while serving).
struct app_context {
  server_config config;
  cpp_routes routes;
  fastrt::python::subinterpreter_executor* executor = nullptr;
  python_app app{{}, {}};
};

class h2_connection {
 public:
  h2_connection(fastrt::io_context& ctx, fastrt::tcp_stream& stream, const app_context& app)
      : ctx_(ctx), stream_(stream), app_(app) {}
  h2_connection(const h2_connection&) = delete;
  h2_connection& operator=(const h2_connection&) = delete;
  ~h2_connection() {
    if (session_) nghttp2_session_del(session_);
  }

  fastrt::coro_task<> run() {
    if (!create_session()) co_return;
    bool sniffed = false;
    bool stopping = false;
    for (;;) {
      auto chunk = co_await stream_.recv();
      if (!chunk) {
        stopping = chunk.error() == fastrt::errc::canceled;
        break;
      }
      if (chunk->empty()) break;  // EOF
      std::string_view data = chunk->text();
      std::string after_upgrade;
      if (!sniffed) {
        if (!http1_.empty() || !looks_like_h2(data)) {
          const http1_outcome outcome = co_await handle_http1(data);
          if (outcome == http1_outcome::closed) break;
          if (outcome == http1_outcome::incomplete) continue;
          after_upgrade = std::move(http1_);  // the client preface may follow the head at once
          data = after_upgrade;
        }
        sniffed = true;
      }
      const auto consumed = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
      if (consumed < 0) {
        // A fatal protocol error: nghttp2 has queued a GOAWAY; send it, then close.
        if (consumed != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
          std::fprintf(stderr, "fastrt-h2: closing a connection: %s\n", nghttp2_strerror(static_cast<int>(consumed)));
        }
        co_await flush();
        break;
      }
      co_await flush();
      if (closed_ || (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_))) break;
    }
    if (stopping && sniffed && !closed_) {
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                            NGHTTP2_NO_ERROR, nullptr, 0);
      co_await flush();
    } else if (!stopping) {
      closed_ = true;  // the peer is gone: answers of requests in flight are dropped
    }
    co_await requests_.join();  // every request coroutine refers to this connection
    co_await linger_close();
  }

 private:
  struct stream_data {
    std::int32_t id = 0;
    request req;
    std::size_t header_bytes = 0;
    bool dispatched = false;
    response resp;
    std::size_t sent = 0;
  };

  static constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

  static bool looks_like_h2(std::string_view data) noexcept {
    const std::size_t n = std::min(data.size(), preface.size());
    // Something that starts like the preface but is not it is left to
    // nghttp2, which answers a bad preface with GOAWAY.
    return data.substr(0, n) == preface.substr(0, n) || data.starts_with("PRI ");
  }

  enum class http1_outcome { incomplete, closed, upgraded };

  // Collects an HTTP/1.x request head. A request asking for h2c (Upgrade:
  // h2c, one HTTP2-Settings, no body) is answered with 101 and becomes
  // stream 1 (nghttp2_session_upgrade2); any other gets a well-formed 426
  // saying HTTP/2 is required, and the connection is closed.
  fastrt::coro_task<http1_outcome> handle_http1(std::string_view data) {
    http1_.append(data);
    const auto head_end = http1_.find("\r\n\r\n");
    if (head_end == std::string::npos && http1_.size() < 8192) co_return http1_outcome::incomplete;
    if (head_end != std::string::npos) {
      auto upgrade = parse_upgrade(std::string_view(http1_).substr(0, head_end + 2));
      if (upgrade) {
        static constexpr std::string_view switching =
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
        http1_.erase(0, head_end + 4);  // what follows is HTTP/2
        if (!co_await send_unstoppable(std::string(switching))) co_return http1_outcome::closed;
        auto s = std::make_unique<stream_data>();
        s->id = 1;
        s->req = std::move(upgrade->req);
        s->dispatched = true;
        const int rv = nghttp2_session_upgrade2(session_, reinterpret_cast<const std::uint8_t*>(upgrade->settings.data()),
                                                upgrade->settings.size(), s->req.method == "HEAD", s.get());
        if (rv != 0) {
          std::fprintf(stderr, "fastrt-h2: h2c upgrade failed: %s\n", nghttp2_strerror(rv));
          closed_ = true;
          co_return http1_outcome::closed;
        }
        request req = s->req;
        streams_.emplace(1, std::move(s));
        requests_.spawn(handle(1, std::move(req)));
        co_return http1_outcome::upgraded;
      }
    }
    static constexpr std::string_view body =
        "This server speaks HTTP/2 only: use h2c with prior knowledge (curl --http2-prior-knowledge) "
        "or an h2c upgrade without a request body (curl --http2).\n";
    std::string out = "HTTP/1.1 426 Upgrade Required\r\n"
                      "Upgrade: h2c\r\n"
                      "Connection: Upgrade, close\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n";
    out += body;
    (void)co_await send_unstoppable(std::move(out));
    (void)stream_.shutdown(SHUT_WR);
    closed_ = true;
    co_return http1_outcome::closed;
  }

  struct upgrade_request {
    request req;
    std::string settings;  // the decoded HTTP2-Settings payload
  };

  static std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  static std::string_view trim(std::string_view text) noexcept {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
  }
  // Whether a comma-separated field value holds `token` (case-insensitive).
  static bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
      const auto comma = value.find(',');
      if (lower(trim(value.substr(0, comma))) == token) return true;
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
    return false;
  }
  static std::optional<std::string> base64url_decode(std::string_view text) {
    std::string out;
    std::uint32_t bits = 0;
    int count = 0;
    for (const char c : text) {
      int v;
      if (c >= 'A' && c <= 'Z') v = c - 'A';
      else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
      else if (c >= '0' && c <= '9') v = c - '0' + 52;
      else if (c == '-' || c == '+') v = 62;
      else if (c == '_' || c == '/') v = 63;
      else if (c == '=') break;
      else return std::nullopt;
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      count += 6;
      if (count >= 8) {
        count -= 8;
        out.push_back(static_cast<char>((bits >> count) & 0xff));
      }
    }
    return out;
  }

  // The request of an h2c upgrade, if `head` (request line and fields, each
  // ending in CRLF) is one this server accepts.
  static std::optional<upgrade_request> parse_upgrade(std::string_view head) {
    const auto line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 <= sp1 || line.substr(sp2 + 1) != "HTTP/1.1") return std::nullopt;
    upgrade_request u;
    u.req.method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (!target.starts_with('/')) return std::nullopt;
    const auto q = target.find('?');
    u.req.path = target.substr(0, q);
    u.req.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    bool upgrade_h2c = false, connection_ok = false;
    int settings_fields = 0;
    std::string_view rest = head.substr(line_end + 2);
    while (!rest.empty()) {
      const auto end = rest.find("\r\n");
      const std::string_view field = rest.substr(0, end);
      rest.remove_prefix(end + 2);
      const auto colon = field.find(':');
      if (colon == std::string_view::npos || colon == 0) return std::nullopt;
      const std::string name = lower(field.substr(0, colon));
      const std::string_view value = trim(field.substr(colon + 1));
      if (name == "upgrade") upgrade_h2c = has_token(value, "h2c");
      else if (name == "connection") connection_ok = has_token(value, "upgrade") && has_token(value, "http2-settings");
      else if (name == "http2-settings") {
        ++settings_fields;
        auto decoded = base64url_decode(value);
        if (!decoded) return std::nullopt;
        u.settings = std::move(*decoded);
      } else if (name == "host") u.req.authority = value;
      else if (name == "content-length") {
        if (value != "0") return std::nullopt;  // upgrading with a body is not supported
      } else if (name == "transfer-encoding") return std::nullopt;
      else if (name == "keep-alive" || name == "proxy-connection" || name == "te") continue;
      else if (name == "cookie") {
        auto it = std::find_if(u.req.headers.begin(), u.req.headers.end(), [](const auto& h) { return h.first == "cookie"; });
        if (it == u.req.headers.end()) u.req.headers.emplace_back(name, value);
        else (it->second += "; ") += value;
      } else u.req.headers.emplace_back(name, value);
    }
    if (!upgrade_h2c || !connection_ok || settings_fields != 1) return std::nullopt;
    return u;
  }

  bool create_session() {
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &on_stream_close);
    nghttp2_option* option = nullptr;
    if (nghttp2_option_new(&option) != 0) {
      nghttp2_session_callbacks_del(callbacks);
      return false;
    }
#ifdef FASTRT_HAVE_NGHTTP2_RESET_RATE_LIMIT
    nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33);  // Rapid Reset (CVE-2023-44487)
#endif
#ifdef FASTRT_HAVE_NGHTTP2_MAX_CONTINUATIONS
    nghttp2_option_set_max_continuations(option, 8);  // CONTINUATION flood
#endif
    const int rv = nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) {
      session_ = nullptr;
      return false;
    }
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, app_.config.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, app_.config.max_header_list_size},
    };
    // Queued now, sent with the first flush once the client preface is seen.
    return nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) == 0;
  }

  // --- nghttp2 callbacks (inside mem_recv / mem_send, on the io thread) -----
  static h2_connection& self(void* user_data) noexcept { return *static_cast<h2_connection*>(user_data); }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto s = std::make_unique<stream_data>();
    s->id = frame->hd.stream_id;
    nghttp2_session_set_stream_user_data(session, s->id, s.get());
    self(user_data).streams_.emplace(s->id, std::move(s));
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name_data,
                       std::size_t name_length, const std::uint8_t* value_data, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    auto* s = static_cast<stream_data*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (!s || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: ignored
    s->header_bytes += name_length + value_length + 32;  // RFC 9113 §6.5.2's accounting
    if (s->header_bytes > self(user_data).app_.config.max_header_list_size) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const std::string_view name(reinterpret_cast<const char*>(name_data), name_length);
    const std::string_view value(reinterpret_cast<const char*>(value_data), value_length);
    request& r = s->req;
    if (name == ":method") {
      r.method = value;
    } else if (name == ":path") {
      const auto q = value.find('?');
      r.path = value.substr(0, q);
      r.query = q == std::string_view::npos ? std::string_view() : value.substr(q + 1);
    } else if (name == ":authority") {
      r.authority = value;
    } else if (name.starts_with(':')) {
      // :scheme (nghttp2 has validated the pseudo-headers)
    } else if (name == "cookie") {
      // RFC 9113 §8.2.3: cookie crumbs are joined with "; " for the application.
      auto it = std::find_if(r.headers.begin(), r.headers.end(), [](const auto& h) { return h.first == "cookie"; });
      if (it == r.headers.end()) r.headers.emplace_back(name, value);
      else (it->second += "; ") += value;
    } else {
      r.headers.emplace_back(name, value);
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                           std::size_t length, void* user_data) {
    auto* s = static_cast<stream_data*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (!s || s->dispatched) return 0;
    h2_connection& c = self(user_data);
    if (s->req.body.size() + length > c.app_.config.max_body_size) {
      s->dispatched = true;  // answered now; the rest of the body is discarded
      s->req.body.clear();
      s->req.body.shrink_to_fit();
      c.submit(*s, text_response(413, "request body larger than --max-body-size\n"));
      return 0;
    }
    s->req.body.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    auto* s = static_cast<stream_data*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (!s || s->dispatched) return 0;
    s->dispatched = true;
    h2_connection& c = self(user_data);
    c.requests_.spawn(c.handle(s->id, std::move(s->req)));
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* user_data) {
    self(user_data).streams_.erase(stream_id);  // a request in flight finds it gone and drops its answer
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                                        std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* s = static_cast<stream_data*>(source->ptr);
    const std::size_t n = std::min(length, s->resp.body.size() - s->sent);
    std::memcpy(buffer, s->resp.body.data() + s->sent, n);
    s->sent += n;
    if (s->sent == s->resp.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  // --- requests ---------------------------------------------------------------
  fastrt::coro_task<> handle(std::int32_t id, request req) {
    response resp;
    if (const cpp_handler* h = app_.routes.find(req.path)) {
      resp = co_await (*h)(req);
    } else {
      const python_app app = app_.app;
      auto out = co_await app_.executor->submit(
          [&req, app](fastrt::python::call_context& ctx) { return app(ctx, req); });
      if (out) {
        resp = std::move(out).value();
      } else {
        const std::string_view why = out.error().message();
        if (out.error() == fastrt::python::exception_code) {
          std::fprintf(stderr, "fastrt-h2: %s %s: the app raised an exception (500):\n%.*s\n", req.method.c_str(),
                       req.path.c_str(), static_cast<int>(why.size()), why.data());
        } else {
          std::fprintf(stderr, "fastrt-h2: %s %s: %.*s (500)\n", req.method.c_str(), req.path.c_str(),
                       static_cast<int>(why.size()), why.data());
        }
        resp = text_response(500, "Internal Server Error\n");
      }
    }
    if (closed_) co_return;
    auto it = streams_.find(id);
    if (it == streams_.end()) co_return;  // reset by the client meanwhile
    it->second->req.method = std::move(req.method);  // HEAD decides whether a body goes out
    submit(*it->second, std::move(resp));
    co_await flush();
  }

  static bool connection_specific(std::string_view name) noexcept {
    return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
           name == "transfer-encoding" || name == "upgrade" || name.starts_with(':');
  }

  void submit(stream_data& s, response r) {
    s.resp = std::move(r);
    s.sent = 0;
    const std::string status = std::to_string(s.resp.status);
    std::string length;
    std::vector<nghttp2_nv> nva;
    nva.reserve(s.resp.headers.size() + 2);
    auto add = [&](std::string_view name, std::string_view value) {
      nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    };
    add(":status", status);
    bool has_length = false;
    for (const auto& [name, value] : s.resp.headers) {
      if (connection_specific(name)) continue;
      has_length = has_length || name == "content-length";
      add(name, value);
    }
    const bool no_body = s.resp.status == 204 || s.resp.status == 304;
    if (!has_length && !no_body) {
      length = std::to_string(s.resp.body.size());
      add("content-length", length);
    }
    nghttp2_data_provider provider{};
    provider.source.ptr = &s;
    provider.read_callback = &read_body;
    const bool with_body = !no_body && s.req.method != "HEAD";
    // nghttp2 copies the header fields.
    const int rv = nghttp2_submit_response(session_, s.id, nva.data(), nva.size(), with_body ? &provider : nullptr);
    if (rv != 0) std::fprintf(stderr, "fastrt-h2: submitting a response: %s\n", nghttp2_strerror(rv));
  }

  // --- sending ----------------------------------------------------------------
  // Sends what the session has queued. Immune to the connection's stop
  // request: a shutting-down server still sends its GOAWAY and answers.
  fastrt::coro_task<> flush() {
    auto task = flush_now();
    task.handle().promise().set_stop_token(&never_stops_);
    co_await std::move(task);
  }

  fastrt::coro_task<> flush_now() {
    static constexpr std::size_t batch = 64 * 1024;  // bounds memory per flush
    while (!closed_) {
      std::string out;
      for (;;) {
        const std::uint8_t* data = nullptr;
        const auto n = nghttp2_session_mem_send(session_, &data);
        if (n < 0) {
          std::fprintf(stderr, "fastrt-h2: closing a connection: %s\n", nghttp2_strerror(static_cast<int>(n)));
          closed_ = true;
          stream_.close();
          co_return;
        }
        if (n == 0) break;
        out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
        if (out.size() >= batch) break;
      }
      if (out.empty()) co_return;
      if (!co_await stream_.send(out)) {  // copied at once: other flushes keep the byte order
        closed_ = true;
        co_return;
      }
    }
  }

  // Half-closes, then reads until the peer closes (at most a second), then
  // closes: closing with unread input makes the kernel send RST, and the
  // peer could lose the GOAWAY or the last answer still in its receive buffer.
  fastrt::coro_task<> linger_close() {
    (void)stream_.shutdown(SHUT_WR);
    auto drain = [](fastrt::tcp_stream& s) -> fastrt::coro_task<> {
      for (;;) {
        auto chunk = co_await s.recv();
        if (!chunk || chunk->empty()) co_return;
      }
    };
    auto task = fastrt::with_timeout(ctx_, drain(stream_), std::chrono::seconds(1));
    task.handle().promise().set_stop_token(&never_stops_);
    (void)co_await std::move(task);
    stream_.close();
  }

  fastrt::coro_task<bool> send_unstoppable(std::string bytes) {
    auto task = [](fastrt::tcp_stream& s, std::string b) -> fastrt::coro_task<bool> {
      co_return (co_await s.send(b)).has_value();
    }(stream_, std::move(bytes));
    task.handle().promise().set_stop_token(&never_stops_);
    co_return co_await std::move(task);
  }

  static inline const std::stop_token never_stops_{};

  fastrt::io_context& ctx_;
  fastrt::tcp_stream& stream_;
  const app_context& app_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::unique_ptr<stream_data>> streams_;
  fastrt::async_scope requests_;
  std::string http1_;
  bool closed_ = false;
};

}  // namespace fastrt_h2
