// h2_session.hpp — one HTTP/2 connection: an nghttp2 server session over a
// tcp_stream. Everything here runs on the connection's io thread.
//
// Reading: received chunks go to nghttp2_session_mem_recv; what the session
// wants to send is collected with nghttp2_session_mem_send by one flusher at
// a time and handed to tcp_stream::send (which copies it at once).
//
// Requests: a stream whose request is complete runs in its own coroutine on
// `requests_`, started after mem_recv returns: a C++ handler (by path prefix)
// on this io thread, otherwise the Python app on the executor (try_submit:
// full queues give 503; a --handler-timeout gives 504 and the late result is
// dropped). A Python-bound stream has a stop source: the client resetting
// the stream stops its handler, and its work still queued is skipped.
//
// Responses: nghttp2 pulls the body through a data provider as the client's
// flow-control windows allow. A streamed body (response::stream) is fetched
// one piece at a time, one piece ahead: the provider answers DEFERRED while a
// piece is on its way and the fetch resumes the stream, so a body of any size
// costs about two pieces of server memory.
//
// Hostile clients: the request and response bodies a connection holds are
// charged to a per-connection and a server-wide budget (body_budget.hpp:
// beyond it a request is refused, an answer becomes 503); a request body
// that stops arriving for --body-timeout gets 408 and its stream reset; a
// connection whose answers cannot go out for --send-timeout (a shut window
// included) is closed; the streams a client gets reset — its RST_STREAMs and
// the ones its bad frames provoke from us — are rate-limited
// (stream_reset_limit.hpp: GOAWAY ENHANCE_YOUR_CALM), and a stream with a
// reset queued never starts its handler. A client that half-closes (EOF)
// still gets every complete request answered before the connection closes.
//
// Timers and shutdown: a watchdog coroutine enforces the idle, header-read,
// SETTINGS-ACK, send and request-body timeouts (connection_deadlines.hpp) and runs the two-phase
// graceful shutdown: GOAWAY(2^31-1) plus a PING, then — when the PING comes
// back or after a second — GOAWAY with the last stream id; streams already
// open complete (their request bodies are still read), and whatever is left
// at --shutdown-timeout is cut.
//
// HTTP/1.x: a first chunk that is not the HTTP/2 client preface is read as an
// HTTP/1.1 request head (http1_upgrade.hpp): an h2c upgrade gets 101 and its
// request becomes stream 1; a malformed head gets 400, any other HTTP/1.x
// request a well-formed 426, then close; bytes that are no HTTP/1.x request
// line are not answered at all (RFC 9113 §3.4).
//
// Responses are checked before they go out (response_rules.hpp): one that
// HTTP/2 peers would reject, or whose header list is larger than the client
// takes, becomes a 500 with a log line.
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <fastrt/async_scope.hpp>
#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/with_stop_token.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http2_names.hpp"
#include "server_config.hpp"

namespace fastrt_h2 {

class h2_connection;

// The live connections of one io thread (used on that thread only), so that
// its accept loop can start their graceful shutdown.
class connection_list {
 public:
  void add(h2_connection* c) { live_.push_back(c); }
  void remove(h2_connection* c) { std::erase(live_, c); }
  template <class F>
  void for_each(F&& f) const {
    const std::vector<h2_connection*> snapshot = live_;  // f may close connections
    for (h2_connection* c : snapshot) f(*c);
  }

 private:
  std::vector<h2_connection*> live_;
};

class h2_connection {
 public:
  h2_connection(fastrt::io_context& ctx, fastrt::tcp_stream& stream, const app_context& app, connection_list& list)
      : ctx_(ctx), stream_(stream), app_(app), list_(list), deadlines_(app.config, clock::now()),
        budget_(app.buffered, app.config.max_buffered_per_connection, app.config.max_buffered) {
    list_.add(this);
    app_.connections.fetch_add(1, std::memory_order_relaxed);
  }
  h2_connection(const h2_connection&) = delete;
  h2_connection& operator=(const h2_connection&) = delete;
  ~h2_connection() {
    app_.connections.fetch_sub(1, std::memory_order_relaxed);
    list_.remove(this);
    if (session_) nghttp2_session_del(session_);
    while (open_streams_) close_stream(open_streams_);
  }

  fastrt::coro_task<> run() {
    if (!create_session()) co_return;
    if (app_.connections.load(std::memory_order_relaxed) > app_.config.max_connections) {
      // Over the cap: tell the client at once (last stream id 0: nothing was
      // processed, it may retry elsewhere or later).
      static constexpr std::string_view why = "connection limit reached";
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_ENHANCE_YOUR_CALM,
                            reinterpret_cast<const std::uint8_t*>(why.data()), why.size());
      co_await flush_within(std::chrono::seconds(1));
      co_await background_.join();
      co_await linger_close();
      co_return;
    }
    background_.spawn(watch());
    co_await fastrt::with_stop_token(read_loop(), reader_token_);

    if (!finished_cleanly_) {
      // Peer gone, protocol error or a deadline: the GOAWAY (if any) and
      // what is already queued get a second to go out, then answers still
      // in flight are dropped.
      // A client not yet known to speak HTTP/2 (silent, or an HTTP/1.1 head
      // cut by --header-timeout or a shutdown) gets no HTTP/2 bytes at all.
      if (!sniffed_) closed_ = true;
      if (close_code_ && sniffed_ && !closed_) {
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                              *close_code_, reinterpret_cast<const std::uint8_t*>(close_reason_.data()),
                              close_reason_.size());
      }
      co_await flush_within(std::chrono::seconds(1));
      closed_ = true;
      cut_.request_stop();  // C++ handlers and body pieces still awaited
      cancel_all_streams();
    }
    finished_ = true;
    wake_watchdog();
    co_await background_.join();
    co_await requests_.join();  // every request coroutine refers to this connection
    co_await linger_close();
  }

  // Graceful shutdown, phase one (on this connection's io thread).
  void begin_shutdown() {
    if (finished_ || deadlines_.shutting_down()) return;
    deadlines_.shutdown_began(clock::now());
    if (!sniffed_) {  // nothing was asked yet (or an HTTP/1.1 head is half read)
      stop_reading(std::nullopt, {});
      return;
    }
    nghttp2_submit_shutdown_notice(session_);
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, shutdown_ping.data());
    background_.spawn(flush());
    wake_watchdog();
  }

 private:
  using clock = connection_deadlines::clock;
  static constexpr std::size_t piece_limit = 64 * 1024;  // bytes per flush and per pulled body piece

  // Who is resetting a stream (its RST_STREAM queued or about to be).
  enum class stream_reset : std::uint8_t {
    none,
    provoked,      // nghttp2 found a stream error in the client's frames: counts against the reset limit
    ours,          // our decision (budget, a failed body, a timeout): does not count
    after_answer,  // --body-timeout: RST_STREAM(NO_ERROR) once the 408 is out
  };

  struct stream_data {
    std::int32_t id = 0;
    request req;  // collected while the request arrives
    std::shared_ptr<const request> dispatched_req;
    const router::handler* handler = nullptr;  // at dispatch: the C++ route, or null for the Python app
    std::size_t header_bytes = 0;
    bool header_too_large = false;
    bool dispatched = false;
    bool head = false;
    bool answered = false;
    bool busy = false;  // dispatched or answered early, and its answer not all sent yet
    stream_reset reset = stream_reset::none;
    std::size_t charged_request = 0;   // request body bytes charged to budget_
    std::size_t charged_response = 0;  // response body (or current piece) bytes charged to budget_
    clock::time_point body_progress{};  // the last request DATA while a body is expected (else unset)
    // The client reset the stream: stop its handler. Only Python-bound
    // requests get one (it costs an allocation; C++ handlers are short).
    std::stop_source cancel{std::nostopstate};
    stream_data* prev = nullptr;  // the connection's open streams
    stream_data* next = nullptr;
    clock::time_point started{};  // set when an access log wants the duration
    // The response, pulled by nghttp2.
    response resp;
    std::size_t offset = 0;  // into resp.body, or into `piece` for a streamed body
    std::string piece;
    bool fetching = false;
    bool stream_ended = false;
    std::uint64_t bytes_sent = 0;
    std::uint64_t declared_length = unknown_length;  // a streamed body must match its content-length
  };

  static constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#ifdef FASTRT_HAVE_NGHTTP2_MAX_CONTINUATIONS
  static constexpr long too_many_continuations = NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
#else
  static constexpr long too_many_continuations = NGHTTP2_ERR_FLOODED;  // (no such error without the backport)
#endif
  static constexpr std::array<std::uint8_t, 8> shutdown_ping{'s', 'h', 'u', 't', 'd', 'o', 'w', 'n'};

  // "PRI " can only be the HTTP/2 preface (RFC 9113 §3.4); nghttp2 checks
  // the rest of it and answers a bad one with GOAWAY. Anything else (fewer
  // bytes included) is read by handle_http1.
  static bool looks_like_h2(std::string_view data) noexcept { return data.starts_with(preface.substr(0, 4)); }

  // --- reading ----------------------------------------------------------------
  // Stopped (reader_token_) by the watchdog or by a graceful shutdown that
  // has nothing left to wait for.
  fastrt::coro_task<> read_loop() {
    for (;;) {
      auto chunk = co_await stream_.recv();
      if (!chunk) break;  // stopped or error
      if (chunk->empty()) {  // EOF: the client may still read its answers
        co_await end_of_input();
        break;
      }
      deadlines_.received(connection_deadlines::coarse_now());
      std::string_view data = chunk->text();
      std::string after_upgrade;
      if (!sniffed_) {
        if (!http1_.empty() || !looks_like_h2(data)) {
          const http1_outcome outcome = co_await handle_http1(data);
          if (outcome == http1_outcome::closed) break;
          if (outcome == http1_outcome::incomplete) continue;
          after_upgrade = std::move(http1_);  // the client preface may follow the head at once
          data = after_upgrade;
        }
        sniffed_ = true;
      }
      in_mem_recv_ = true;
      const auto consumed = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
      in_mem_recv_ = false;
      start_ready();
      if (consumed < 0) {
        // A fatal protocol error (flooding included): nghttp2 has queued a
        // GOAWAY (floods get ENHANCE_YOUR_CALM from us, nghttp2 would just
        // close); send it and close this connection only.
        if (consumed == NGHTTP2_ERR_FLOODED || consumed == too_many_continuations)
          nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
        if (consumed == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
          closed_ = true;  // RFC 9113 §3.4: not an HTTP/2 client, it gets no HTTP/2 frame
        } else {
          std::fprintf(stderr, "fastrt-h2: closing a connection: %s\n", nghttp2_strerror(static_cast<int>(consumed)));
        }
        co_await flush();
        break;
      }
      co_await flush();
      if (closed_ || close_code_) break;
      if (session_over()) {
        finished_cleanly_ = true;  // GOAWAY exchanged and every stream closed
        break;
      }
    }
  }

  // The client half-closed (shutdown(SHUT_WR)) or closed: no request can
  // still arrive, but those complete are answered (a client that only
  // half-closed reads them) before the connection closes; the handler,
  // send and shutdown timeouts bound the wait. Requests the client had not
  // finished can no longer complete and are dropped.
  fastrt::coro_task<> end_of_input() {
    if (!sniffed_) co_return;
    eof_ = true;
    if (busy_streams_ > 0 && !session_over())
      (void)co_await fastrt::with_stop_token(fastrt::sleep_for(ctx_, std::chrono::hours(24)), reader_token_);
    if ((busy_streams_ > 0 && !session_over()) || close_code_ || closed_) co_return;  // a deadline or a failed send: cut
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    co_await flush_within(std::chrono::seconds(1));
    finished_cleanly_ = true;
  }

  // Ends the read loop; with a code, a GOAWAY saying why goes out first.
  void stop_reading(std::optional<std::uint32_t> code, std::string_view why) {
    if (!close_code_) {
      close_code_ = code;
      close_reason_ = why;
    }
    reader_stop_.request_stop();
  }

  // nghttp2 wants neither to read nor to write: its session is over.
  bool session_over() const noexcept {
    return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
  }

  // The connection ends as soon as nothing is left to read or write: after
  // our final GOAWAY that is a clean end; otherwise nghttp2 ended the session
  // over a connection error (its GOAWAY is out), whatever streams still look busy.
  void finish_if_done() {
    if (closed_ || !session_over()) return;
    if (final_goaway_sent_) finished_cleanly_ = true;
    reader_stop_.request_stop();
  }

  // `prior_knowledge`: the bytes held in http1_ are the start of the HTTP/2
  // preface after all (it came in pieces shorter than "PRI ").
  enum class http1_outcome { incomplete, closed, upgraded, prior_knowledge };

  // Collects an HTTP/1.x request head (and the body of an h2c upgrade) and
  // answers it as http1_upgrade.hpp describes: an h2c upgrade whose settings
  // nghttp2 accepts gets 101 and becomes stream 1 (nghttp2_session_upgrade2);
  // a malformed head 400, a head over 8 KiB 431, any other HTTP/1.x request a
  // 426, each followed by close; bytes that are no HTTP/1.x request line at
  // all are not answered (RFC 9113 §3.4): the connection is closed.
  fastrt::coro_task<http1_outcome> handle_http1(std::string_view data) {
    http1_.append(data);
    const std::string_view pri = preface.substr(0, 4);
    if (http1_.starts_with(pri)) co_return http1_outcome::prior_knowledge;
    if (pri.starts_with(http1_)) co_return http1_outcome::incomplete;
    http1::head head = http1::read_head(http1_);
    switch (head.verdict) {
      case http1::head_verdict::incomplete:
        co_return http1_outcome::incomplete;
      case http1::head_verdict::not_http1:
        closed_ = true;  // not a byte goes out
        co_return http1_outcome::closed;
      case http1::head_verdict::too_large:
        co_return co_await close_http1(http1::closing_response("431 Request Header Fields Too Large",
                                                               "request head larger than 8 KiB\n"));
      case http1::head_verdict::malformed:
        co_return co_await close_http1(http1::bad_request_response(head.problem));
      case http1::head_verdict::not_upgrade:
        co_return co_await close_http1(http1::upgrade_required_response());
      case http1::head_verdict::upgrade:
        break;
    }
    http1::upgrade_request& upgrade = head.upgrade;
    if (upgrade.content_length > app_.config.max_body_size) {
      co_return co_await close_http1(
          http1::closing_response("413 Content Too Large", "request body larger than --max-body-size\n"));
    }
    const std::size_t total = head.size + upgrade.content_length;
    if (http1_.size() < total) co_return http1_outcome::incomplete;  // the body is still arriving
    // Promise HTTP/2 (101) only with settings nghttp2 takes: it would
    // otherwise fail the upgrade, or accept it and end the session with a
    // GOAWAY right after the 101.
    if (const char* problem = upgrade_settings_problem(upgrade.settings))
      co_return co_await close_http1(http1::bad_request_response(problem));
    upgrade.req.body = http1_.substr(head.size, upgrade.content_length);
    http1_.erase(0, total);  // what follows is HTTP/2
    auto s = std::make_unique<stream_data>();
    s->id = 1;
    if (app_.config.access_log) s->started = clock::now();
    s->req = std::move(upgrade.req);
    const int rv = nghttp2_session_upgrade2(session_, reinterpret_cast<const std::uint8_t*>(upgrade.settings.data()),
                                            upgrade.settings.size(), s->req.method == "HEAD", s.get());
    if (rv != 0) {
      std::fprintf(stderr, "fastrt-h2: h2c upgrade failed: %s (500)\n", nghttp2_strerror(rv));
      co_return co_await close_http1(http1::closing_response("500 Internal Server Error", "h2c upgrade failed\n"));
    }
    open_stream(std::move(s));  // nghttp2 holds it as stream 1's user data from here on
    if (!co_await send_unstoppable(std::string(http1::switching_protocols))) co_return http1_outcome::closed;
    stream_data* first = find_stream(1);
    if (!first) co_return http1_outcome::closed;
    dispatch(*first);
    co_return http1_outcome::upgraded;
  }

  // Why nghttp2 would refuse `payload` (a decoded HTTP2-Settings) — too many
  // entries, or a value RFC 9113 §6.5.2 forbids — or null. Tried on a
  // throwaway session: the real one must stay untouched until the 101.
  static const char* upgrade_settings_problem(std::string_view payload) {
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return "out of memory";
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
        callbacks, [](nghttp2_session*, const nghttp2_frame*, int, void* invalid) {
          *static_cast<bool*>(invalid) = true;  // the settings would end the session with a GOAWAY
          return 0;
        });
    bool invalid = false;
    nghttp2_session* trial = nullptr;
    int rv = nghttp2_session_server_new(&trial, callbacks, &invalid);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) return "out of memory";
    rv = nghttp2_session_upgrade2(trial, reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size(), 0,
                                  nullptr);
    nghttp2_session_del(trial);
    if (rv == NGHTTP2_ERR_TOO_MANY_SETTINGS) return "HTTP2-Settings has too many settings";
    if (rv != 0 || invalid) return "HTTP2-Settings has a value HTTP/2 does not allow";
    return nullptr;
  }

  fastrt::coro_task<http1_outcome> close_http1(std::string answer) {
    (void)co_await send_unstoppable(std::move(answer));
    (void)stream_.shutdown(SHUT_WR);
    closed_ = true;
    co_return http1_outcome::closed;
  }

  bool create_session() {
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &on_stream_close);
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, &on_begin_frame);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &on_frame_send);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, &on_frame_not_send);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, &on_invalid_frame_recv);
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
    // Queued now, sent with the first flush.
    return nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) == 0;
  }

  // --- nghttp2 callbacks (inside mem_recv / mem_send, on the io thread) -----
  static h2_connection& self(void* user_data) noexcept { return *static_cast<h2_connection*>(user_data); }
  static stream_data* stream_of(nghttp2_session* session, std::int32_t id) noexcept {
    return static_cast<stream_data*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    h2_connection& c = self(user_data);
    c.deadlines_.header_block_started(connection_deadlines::coarse_now());
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto s = std::make_unique<stream_data>();
    s->id = frame->hd.stream_id;
    if (c.app_.config.access_log) s->started = clock::now();
    nghttp2_session_set_stream_user_data(session, s->id, s.get());
    c.open_stream(std::move(s));
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t name_length, const std::uint8_t* value, std::size_t value_length, std::uint8_t,
                       void* user_data) {
    stream_data* s = stream_of(session, frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: ignored
    if (s->header_too_large) return 0;
    s->header_bytes += name_length + value_length + 32;  // RFC 9113 §6.5.2's accounting
    if (s->header_bytes > self(user_data).app_.config.max_header_list_size) {
      // Answered with 431 once the block is complete (the block must still
      // be decoded: HPACK state is shared by the connection).
      s->header_too_large = true;
      s->req = request{};
      return 0;
    }
    add_field(s->req, std::string_view(reinterpret_cast<const char*>(name), name_length),
              std::string_view(reinterpret_cast<const char*>(value), value_length));
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                           std::size_t length, void* user_data) {
    stream_data* s = stream_of(session, stream_id);
    if (!s || s->reset != stream_reset::none) return 0;
    s->body_progress = connection_deadlines::coarse_now();  // (PINGs and empty frames do not count)
    if (s->dispatched) return 0;  // answered early: the rest of the body is discarded
    h2_connection& c = self(user_data);
    if (s->req.body.size() + length > c.app_.config.max_body_size) {
      c.answer_early(*s, 413, "request body larger than --max-body-size\n");
      return 0;
    }
    if (!c.budget_.try_charge(length)) {
      c.refuse(*s);
      return 0;
    }
    s->charged_request += length;
    s->req.body.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    h2_connection& c = self(user_data);
    switch (frame->hd.type) {
      case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) c.deadlines_.settings_acked();
        else c.deadlines_.preface_done();
        return 0;
      case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) &&
            std::memcmp(frame->ping.opaque_data, shutdown_ping.data(), shutdown_ping.size()) == 0) {
          c.send_final_goaway();  // the client has seen the shutdown notice (one round trip)
        }
        return 0;
      case NGHTTP2_HEADERS:
        c.deadlines_.header_block_done();
        break;
      case NGHTTP2_DATA:
        break;
      case NGHTTP2_RST_STREAM:
        c.count_reset();  // the same budget as the resets the client provokes
        return 0;
      default:
        return 0;
    }
    stream_data* s = stream_of(session, frame->hd.stream_id);
    if (!s || s->dispatched) return 0;
    if (s->header_too_large) {
      c.answer_early(*s, 431, "request header fields larger than SETTINGS_MAX_HEADER_LIST_SIZE\n");
      return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      s->body_progress = connection_deadlines::coarse_now();  // --body-timeout runs from here
      // A body follows: refuse at once when it announces more than we take.
      const auto it = std::find_if(s->req.headers.begin(), s->req.headers.end(),
                                   [](const auto& h) { return h.first == "content-length"; });
      if (it != s->req.headers.end() && it->second.size() < 20 &&
          std::strtoull(it->second.c_str(), nullptr, 10) > c.app_.config.max_body_size) {
        c.answer_early(*s, 413, "request body larger than --max-body-size\n");
      }
      return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) c.dispatch(*s);
    return 0;
  }

  // RFC 9113 §5.1.1: a HEADERS opening a stream id not above every earlier
  // one is a connection error PROTOCOL_ERROR. nghttp2 silently ignores such
  // a block when it no longer knows the stream, because it could be
  // trailers racing an RST_STREAM of ours (which §5.1 tolerates): tell the
  // two apart with the ids we reset lately.
  static int on_begin_frame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* user_data) {
    h2_connection& c = self(user_data);
    if (hd->type != NGHTTP2_HEADERS || hd->stream_id <= 0 || (hd->stream_id & 1) == 0) return 0;
    // §6.8: after our GOAWAY, frames on streams above its last id are ignored
    // (nghttp2 drops them; their trailers must not look like a reused id).
    if (c.final_goaway_sent_ && hd->stream_id > c.goaway_last_id_) return 0;
    if (hd->stream_id > c.max_client_stream_) {
      c.max_client_stream_ = hd->stream_id;
      return 0;
    }
    if (nghttp2_session_find_stream(session, hd->stream_id)) return 0;  // trailers of an open stream
    if (std::find(c.reset_lately_.begin(), c.reset_lately_.end(), hd->stream_id) != c.reset_lately_.end()) return 0;
    nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    h2_connection& c = self(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      auto& reset = c.reset_lately_;  // the last 64 streams we reset
      if (reset.size() == 64) reset.erase(reset.begin());
      reset.push_back(frame->hd.stream_id);
      stream_data* s = c.find_stream(frame->hd.stream_id);
      const bool ours = s && (s->reset == stream_reset::ours || s->reset == stream_reset::after_answer);
      // A reset the client's frames provoked (nghttp2 found a stream error,
      // or refused a stream over the concurrency limit): counted like the
      // client's own (MadeYouReset, CVE-2025-8671).
      if (frame->rst_stream.error_code != NGHTTP2_NO_ERROR && !ours) c.count_reset();
      if (s) s->cancel.request_stop();  // its handler stops; queued Python work is skipped
      return 0;
    }
    if (frame->hd.type == NGHTTP2_DATA && frame->hd.length > 0)
      c.deadlines_.send_progress(connection_deadlines::coarse_now());
    if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
      return 0;
    stream_data* s = c.find_stream(frame->hd.stream_id);
    if (!s) return 0;
    if (s->reset == stream_reset::after_answer) {
      // The 408 of --body-timeout is out: RFC 9113 §8.1 lets the server
      // stop the upload with RST_STREAM(NO_ERROR), which frees the stream.
      s->reset = stream_reset::ours;
      nghttp2_submit_rst_stream(c.session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    }
    // The whole answer is out. (After an early 413/431 the rest of the
    // upload is read and discarded, not reset: RFC 9113 §8.1 would allow
    // RST_STREAM NO_ERROR, but curl then often reports a failed transfer
    // instead of the 413. A client that never finishes its upload just
    // leaves the connection idle, and the idle timeout ends it.)
    c.mark_done(*s);
    return 0;
  }

  // A response HEADERS nghttp2 could not send (it closes only streams whose
  // request HEADERS failed): reset the stream, so that it is freed and the
  // client is not left waiting. (submit() checks the size beforehand.)
  static int on_frame_not_send(nghttp2_session* session, const nghttp2_frame* frame, int error, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || !self(user_data).find_stream(frame->hd.stream_id) ||
        !nghttp2_session_find_stream(session, frame->hd.stream_id))
      return 0;
    std::fprintf(stderr, "fastrt-h2: stream %d: the response header fields could not be sent: %s (stream reset)\n",
                 frame->hd.stream_id, nghttp2_strerror(error));
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_INTERNAL_ERROR);
    return 0;
  }

  // A header block nghttp2 rejected (it answers with RST_STREAM or GOAWAY
  // itself) is over as far as the header-read timeout is concerned. A frame
  // rejected on a stream (e.g. a WINDOW_UPDATE overflowing its window) has
  // queued a RST_STREAM for it: its handler must not start, or stop.
  static int on_invalid_frame_recv(nghttp2_session*, const nghttp2_frame* frame, int, void* user_data) {
    h2_connection& c = self(user_data);
    if (frame->hd.type == NGHTTP2_HEADERS) c.deadlines_.header_block_done();
    if (frame->hd.stream_id == 0) return 0;
    stream_data* s = c.find_stream(frame->hd.stream_id);
    if (s && s->reset == stream_reset::none) {
      s->reset = stream_reset::provoked;
      s->cancel.request_stop();
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* user_data) {
    h2_connection& c = self(user_data);
    stream_data* s = c.find_stream(stream_id);  // (the user data is still there during this callback)
    if (!s) return 0;
    c.log_access(*s);
    // Reset by the client (or answered): a handler still running stops, and
    // Python work still queued for it is skipped.
    s->cancel.request_stop();
    c.close_stream(s);
    return 0;
  }

  // Plain body: copied out of resp.body.
  static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* s = static_cast<stream_data*>(source->ptr);
    const std::size_t n = std::min(length, s->resp.body.size() - s->offset);
    std::memcpy(buffer, s->resp.body.data() + s->offset, n);
    s->offset += n;
    s->bytes_sent += n;
    if (s->offset == s->resp.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  // Streamed body: copied out of the current piece; the next piece is
  // fetched as soon as this one is used up.
  static ssize_t read_stream(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source* source, void* user_data) {
    auto* s = static_cast<stream_data*>(source->ptr);
    h2_connection& c = self(user_data);
    const std::size_t n = std::min(length, s->piece.size() - s->offset);
    if (s->bytes_sent + n > s->declared_length) return c.length_mismatch(*s, "more");
    std::memcpy(buffer, s->piece.data() + s->offset, n);
    s->offset += n;
    s->bytes_sent += n;
    if (s->offset == s->piece.size()) {
      if (s->stream_ended) {
        if (s->declared_length != unknown_length && s->bytes_sent != s->declared_length)
          return c.length_mismatch(*s, "fewer");
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
      }
      if (!s->fetching) {
        if (c.closed_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        s->fetching = true;
        c.requests_.spawn(c.fetch_piece(s->id));
      }
      if (n == 0) return NGHTTP2_ERR_DEFERRED;  // resumed by fetch_piece
    }
    return static_cast<ssize_t>(n);
  }

  // --- requests ---------------------------------------------------------------
  // Requests completed inside mem_recv start after it returns: a C++
  // handler answers at once and flushes, and nghttp2 must not be asked to
  // send from inside its own callbacks.
  void dispatch(stream_data& s) {
    // After the final GOAWAY went into the queue, streams above its last id
    // are refused by nghttp2 when it goes out (the client may retry them):
    // they must not run.
    if (final_goaway_sent_ && s.id > goaway_last_id_) return;
    if (s.reset != stream_reset::none) return;  // a RST_STREAM is on its way
    s.body_progress = {};
    mark_busy(s);
    s.dispatched = true;
    s.head = s.req.method == "HEAD";
    s.handler = app_.routes.find(s.req.method, s.req.path);
    if (!s.handler) s.cancel = std::stop_source();
    s.dispatched_req = std::make_shared<const request>(std::move(s.req));
    if (in_mem_recv_) ready_.push_back(s.id);
    else requests_.spawn(handle(s.id, s.handler, s.dispatched_req, s.cancel.get_token()));
  }

  void start_ready() {
    for (const std::int32_t id : ready_) {
      stream_data* s = find_stream(id);
      // Reset in the same read (by the client, or by us over its frames), or
      // the connection is closing over an error: no handler runs.
      if (!s || s->reset != stream_reset::none || close_code_) continue;
      requests_.spawn(handle(id, s->handler, s->dispatched_req, s->cancel.get_token()));
    }
    ready_.clear();
  }

  // Answers before the request is complete (413, 431); the rest of the
  // request body is discarded.
  void answer_early(stream_data& s, int status, std::string body) {
    drop_request_body(s);
    s.body_progress = connection_deadlines::coarse_now();  // the rest of the body must keep coming
    deadlines_.send_progress(connection_deadlines::coarse_now());
    mark_busy(s);
    s.dispatched = true;
    s.head = s.req.method == "HEAD";
    s.dispatched_req = std::make_shared<const request>(std::move(s.req));
    submit(s, text_response(status, std::move(body)));
  }

  fastrt::coro_task<> handle(std::int32_t id, const router::handler* handler, std::shared_ptr<const request> req,
                             std::stop_token cancel) {
    response resp;
    if (handler) {
      // Stopped when the connection is cut: the handler gets the token, and
      // so does every cancellable await inside it.
      resp = co_await fastrt::with_stop_token((*handler)(*req, cut_token_), cut_token_);
    } else {
      auto out = co_await fastrt::with_stop_token(call_python(req, cancel), cancel);
      if (!out && out.error() == fastrt::errc::canceled) co_return;  // reset by the client, or cut at shutdown
      resp = out ? std::move(out).value() : error_response(*req, out.error());
    }
    if (closed_) co_return;
    stream_data* s = find_stream(id);
    if (!s) co_return;  // closed meanwhile
    if (s->reset != stream_reset::none) {  // reset meanwhile: no answer goes out, so it is not busy
      mark_done(*s);
      co_return;
    }
    req.reset();
    forget_request_body(*s);
    if (!resp.stream && !budget_.try_charge(resp.body.size())) {
      log_over_budget("answers get 503");
      resp = text_response(503, "Service Unavailable: too many response bytes held\n");
      resp.headers.emplace_back("retry-after", "1");
    } else if (!resp.stream) {
      s->charged_response = resp.body.size();
    }
    deadlines_.send_progress(connection_deadlines::coarse_now());
    submit(*s, std::move(resp));
    co_await flush();
    finish_if_done();
  }

  // --- the body budget ----------------------------------------------------------
  // The request body is no longer needed once the handler answered: a large
  // one is dropped (the access log keeps the request line) and its charge
  // given back. A small one stays until the stream closes (copying the
  // request line for it would cost more than it frees).
  void forget_request_body(stream_data& s) {
    static constexpr std::size_t worth_dropping = 16 * 1024;
    if (s.charged_request < worth_dropping || !s.dispatched_req) return;
    auto line = std::make_shared<request>();
    line->method = s.dispatched_req->method;
    line->path = s.dispatched_req->path;
    line->query = s.dispatched_req->query;
    s.dispatched_req = std::move(line);
    budget_.release(std::exchange(s.charged_request, 0));
  }

  // Before an early answer: what arrived of the body is discarded.
  void drop_request_body(stream_data& s) {
    std::string().swap(s.req.body);
    budget_.release(std::exchange(s.charged_request, 0));
  }

  // The body budget is spent: the stream is refused (the client may retry
  // it; no handler ran) and what arrived of its body freed.
  void refuse(stream_data& s) {
    drop_request_body(s);
    s.body_progress = {};
    s.reset = stream_reset::ours;
    log_over_budget("request bodies are refused");
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_REFUSED_STREAM);
  }

  // Once per connection: a flood of refusals must not flood the log.
  void log_over_budget(const char* consequence) {
    if (budget_logged_) return;
    budget_logged_ = true;
    std::fprintf(stderr,
                 "fastrt-h2: a connection is over --max-buffered-per-connection (%zu bytes held) or --max-buffered "
                 "(%zu bytes held in all): %s\n",
                 budget_.used(), app_.buffered.used(), consequence);
  }

  // One stream reset the client sent or provoked; over the limit the
  // connection ends with GOAWAY(ENHANCE_YOUR_CALM).
  void count_reset() {
    if (resets_.allow(stream_reset_limit::clock::now()) || close_code_) return;
    std::fprintf(stderr, "fastrt-h2: closing a connection: too many streams reset (sent or provoked by the client)\n");
    stop_reading(NGHTTP2_ENHANCE_YOUR_CALM, "too many streams reset");
  }

  // Runs the app on a Python worker. The job owns the request (shared): a
  // timed-out or reset stream does not wait for the worker, which may still
  // be reading it.
  fastrt::coro_task<fastrt::result<response>> call_python(std::shared_ptr<const request> req, std::stop_token cancel) {
    const python_app app = app_.app;
    auto future = app_.executor->try_submit(

        [req, app, cancel](fastrt::python::call_context& ctx) -> fastrt::result<response> {
          if (cancel.stop_requested())
            return fastrt::error(fastrt::errc::canceled, "the stream was reset before the app ran");
          return app(ctx, *req);
        });
    if (app_.config.handler_timeout.count() <= 0) co_return co_await std::move(future);
    co_return co_await fastrt::with_timeout(ctx_, std::move(future), app_.config.handler_timeout);
  }

  static response error_response(const request& req, const fastrt::error& e) {
    const std::string_view why = e.message();
    const int length = static_cast<int>(why.size());
    if (e == std::errc::resource_unavailable_try_again) {
      response r = text_response(503, "Service Unavailable: the Python workers are busy\n");
      r.headers.emplace_back("retry-after", "1");
      return r;
    }
    if (e == fastrt::errc::timed_out) {
      std::fprintf(stderr, "fastrt-h2: %s %s: the app did not answer within --handler-timeout (504)\n",
                   req.method.c_str(), req.path.c_str());
      return text_response(504, "Gateway Timeout: the app did not answer in time\n");
    }
    if (e == fastrt::python::exception_code) {
      std::fprintf(stderr, "fastrt-h2: %s %s: the app raised an exception (500):\n%.*s\n", req.method.c_str(),
                   req.path.c_str(), length, why.data());
    } else {
      std::fprintf(stderr, "fastrt-h2: %s %s: %.*s (500)\n", req.method.c_str(), req.path.c_str(), length, why.data());
    }
    return text_response(500, "Internal Server Error\n");
  }

  static bool connection_specific(std::string_view name) noexcept {
    return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
           name == "transfer-encoding" || name == "upgrade" || name.starts_with(':');
  }

  // Sends `r` as stream `s`'s response. A response that breaks the rules of
  // response_rules.hpp is replaced by a 500 (with a log line saying why);
  // one nghttp2 refuses resets the stream.
  void submit(stream_data& s, response r) {
    s.answered = true;
    response_verdict verdict = check_response(r, s.head);
    bool tell = true;
    const std::uint32_t client_limit =
        nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE);
    if (verdict.problem.empty() && verdict.header_bytes > client_limit) {
      verdict.problem = "the header fields take " + std::to_string(verdict.header_bytes) +
                        " bytes, more than the client's SETTINGS_MAX_HEADER_LIST_SIZE of " +
                        std::to_string(client_limit);
      // Said once per connection: a client can set a tiny limit on purpose.
      tell = !told_client_limit_;
      told_client_limit_ = true;
    }
    if (!verdict.problem.empty()) {
      if (tell) log_request_problem(s, verdict.problem, "500");
      r = text_response(500, "Internal Server Error\n");
      verdict = response_verdict{};
    }
    s.declared_length = verdict.declared_length;
    s.resp = std::move(r);
    s.offset = 0;
    const std::string status = std::to_string(s.resp.status);
    std::string length;
    static thread_local std::vector<nghttp2_nv> nva;  // reused: one allocation per thread, not per response
    nva.clear();
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
    const bool streamed = static_cast<bool>(s.resp.stream);
    if (!has_length && !no_body && !streamed) {
      length = std::to_string(s.resp.body.size());
      add("content-length", length);
    }
    const bool with_body = !no_body && !s.head;
    if (!with_body) s.resp.stream = nullptr;
    nghttp2_data_provider provider{};
    provider.source.ptr = &s;
    provider.read_callback = streamed ? &read_stream : &read_body;
    // nghttp2 copies the header fields.
    const int rv = nghttp2_submit_response(session_, s.id, nva.data(), nva.size(), with_body ? &provider : nullptr);
    if (rv != 0) {
      log_request_problem(s, nghttp2_strerror(rv), "stream reset");
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
    }
  }

  // A streamed body that ends up longer or shorter than its content-length:
  // the stream is reset (RST_STREAM INTERNAL_ERROR) rather than ended, since
  // the client would reject it anyway (RFC 9113 §8.1.1).
  int length_mismatch(const stream_data& s, std::string_view more_or_fewer) const {
    std::string why = "the streamed body has ";
    why += more_or_fewer;
    why += " bytes than its content-length: " + std::to_string(s.declared_length);
    log_request_problem(s, why, "stream reset");
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets the stream with INTERNAL_ERROR
  }

  // "fastrt-h2: METHOD PATH: WHY (OUTCOME)" on stderr, the request escaped.
  static void log_request_problem(const stream_data& s, std::string_view why, std::string_view outcome) {
    std::string line = "fastrt-h2: ";
    if (s.dispatched_req) {
      fields::escape_for_log(s.dispatched_req->method, line);
      line += ' ';
      fields::escape_for_log(s.dispatched_req->path, line);
    } else {
      line += "stream " + std::to_string(s.id);
    }
    line += ": ";
    line += why;
    line += " (";
    line += outcome;
    line += ")\n";
    std::fputs(line.c_str(), stderr);
  }

  // Pulls the next piece of stream `id`'s body and resumes its DATA frames.
  fastrt::coro_task<> fetch_piece(std::int32_t id) {
    co_await ctx_.schedule();  // not inside nghttp2's read callback
    const stream_data* before = find_stream(id);
    if (!before) co_return;  // reset meanwhile
    // The function lives in this frame while its coroutine runs: a reset
    // stream frees its stream_data (and response) meanwhile.
    const body_stream next = before->resp.stream;
    // --handler-timeout covers each piece of the Python app's bodies: a
    // generator that stalls gets its stream reset instead of keeping the
    // client waiting. (C++ producers run on this thread and are trusted like
    // C++ handlers: no timer per piece.)
    const bool timed = !before->handler && app_.config.handler_timeout.count() > 0;
    auto task = timed ? fastrt::with_timeout(ctx_, next(), app_.config.handler_timeout) : next();
    // A cut connection does not wait for a slow producer.
    auto piece = co_await fastrt::with_stop_token(std::move(task), cut_token_);
    stream_data* found = closed_ ? nullptr : find_stream(id);
    if (!found) co_return;
    stream_data& s = *found;
    s.fetching = false;
    if (s.reset != stream_reset::none) co_return;
    budget_.release(std::exchange(s.charged_response, 0));  // the previous piece is all sent
    if (!piece || !budget_.try_charge(piece->size())) {
      if (!piece && piece.error() == fastrt::errc::timed_out) {
        std::fprintf(stderr, "fastrt-h2: stream %d: the response body gave no piece within --handler-timeout (stream reset)\n", id);
      } else if (!piece) {
        std::fprintf(stderr, "fastrt-h2: stream %d: the response body failed: %s (stream reset)\n", id,
                     piece.error().message().data());
      } else {
        log_over_budget("streamed bodies are reset");
      }
      s.reset = stream_reset::ours;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    } else {
      s.charged_response = piece->size();
      if (piece->empty()) s.stream_ended = true;
      s.piece = std::move(piece).value();
      s.offset = 0;
      deadlines_.send_progress(connection_deadlines::coarse_now());
      nghttp2_session_resume_data(session_, id);
    }
    co_await flush();
    finish_if_done();
  }

  void cancel_all_streams() {
    for (stream_data* s = open_streams_; s; s = s->next) s->cancel.request_stop();
  }

  // --- open streams -----------------------------------------------------------
  // nghttp2 keeps each open stream's stream_data as its stream user data
  // (found by id without a map of our own); the intrusive list reaches them
  // all (cancel at close, idle check, and freeing what nghttp2_session_del
  // leaves: it calls no close callbacks).
  // (nghttp2 does not hand out the user data of the stream an h2c upgrade
  // opened: the list answers for it.)
  stream_data* find_stream(std::int32_t id) const noexcept {
    if (stream_data* s = stream_of(session_, id)) return s;
    for (stream_data* s = open_streams_; s; s = s->next) {
      if (s->id == id) return s;
    }
    return nullptr;
  }

  stream_data& open_stream(std::unique_ptr<stream_data> owned) {
    stream_data* s = owned.release();
    s->next = open_streams_;
    if (open_streams_) open_streams_->prev = s;
    open_streams_ = s;
    return *s;
  }

  void mark_busy(stream_data& s) noexcept {
    if (!s.busy) ++busy_streams_;
    s.busy = true;
  }
  void mark_done(stream_data& s) noexcept {
    if (!s.busy) return;
    s.busy = false;
    if (--busy_streams_ == 0) {
      deadlines_.became_idle(connection_deadlines::coarse_now());
      if (eof_) reader_stop_.request_stop();  // end_of_input: every answer is out
    }
  }

  void close_stream(stream_data* s) noexcept {
    mark_done(*s);
    budget_.release(s->charged_request + s->charged_response);
    if (s->prev) s->prev->next = s->next;
    else open_streams_ = s->next;
    if (s->next) s->next->prev = s->prev;
    delete s;
  }

  // One access-log line; the request's text is escaped (\xHH for control
  // characters, '"' and '\') so that it can neither forge nor garble lines.
  void log_access(const stream_data& s) const {
    if (!app_.config.access_log || !s.answered) return;
    const request& r = *s.dispatched_req;
    const double ms = std::chrono::duration<double, std::milli>(clock::now() - s.started).count();
    static thread_local std::string line;  // reused: no allocation per request
    line = '"';
    fields::escape_for_log(r.method, line);
    line += ' ';
    fields::escape_for_log(r.path, line);
    if (!r.query.empty()) {
      line += '?';
      fields::escape_for_log(r.query, line);
    }
    std::fprintf(app_.config.access_log, "%s HTTP/2\" %d %llu %.3fms\n", line.c_str(), s.resp.status,
                 static_cast<unsigned long long>(s.bytes_sent), ms);
  }

  // --- watchdog: timeouts and graceful shutdown ------------------------------
  fastrt::coro_task<> watch() {
    while (!finished_) {
      const auto now = clock::now();
      if (expire_stalled_bodies(now)) {
        co_await flush();
        continue;
      }
      if (auto expiry = deadlines_.expired(now, busy_streams_ == 0, waiting_to_send())) {
        if (expiry->why != "idle timeout" && expiry->why != "shutdown deadline") {
          std::fprintf(stderr, "fastrt-h2: closing a connection: %.*s\n", static_cast<int>(expiry->why.size()),
                       expiry->why.data());
        }
        stop_reading(expiry->code, expiry->why);
        co_return;
      }
      std::optional<clock::time_point> final_goaway_at;
      if (deadlines_.shutting_down() && !final_goaway_sent_) {
        final_goaway_at = *deadlines_.shutdown_since() + std::chrono::seconds(1);
        if (now >= *final_goaway_at) {
          send_final_goaway();  // no PING answer within a second: do not wait longer
          co_await flush();
          finish_if_done();
          continue;
        }
      }
      wake_ = std::stop_source();
      (void)co_await fastrt::with_stop_token(
          fastrt::sleep_for(ctx_, deadlines_.next(now, busy_streams_ == 0, final_goaway_at) - now), wake_.get_token());
    }
  }

  void wake_watchdog() { wake_.request_stop(); }

  // --body-timeout: a request body that got no DATA for that long (PINGs
  // and other frames do not count) gets 408 and its stream reset; its
  // memory is freed at once. True if any stream was.
  bool expire_stalled_bodies(clock::time_point now) {
    const milliseconds limit = app_.config.body_timeout;
    if (limit.count() <= 0 || closed_) return false;
    std::size_t expired = 0;
    for (stream_data* s = open_streams_; s; s = s->next) {
      if (s->body_progress == clock::time_point{} || now - s->body_progress < limit) continue;
      s->body_progress = {};
      if (s->reset != stream_reset::none || nghttp2_session_get_stream_remote_close(session_, s->id) != 0) continue;
      ++expired;
      if (!s->dispatched) {
        answer_early(*s, 408, "Request Timeout: the request body stopped arriving\n");
        s->reset = stream_reset::after_answer;
      } else if (s->busy) {
        s->reset = stream_reset::after_answer;  // its early answer (413, 431) is still going out
      } else {
        s->reset = stream_reset::ours;
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
      }
    }
    if (expired) {
      std::fprintf(stderr, "fastrt-h2: %zu request bod%s stalled for --body-timeout (408, stream reset)\n", expired,
                   expired == 1 ? "y" : "ies");
    }
    return expired > 0;
  }

  // An answer has bytes ready that only the client's flow-control windows
  // hold back (not one waiting for its app to produce the next piece).
  // after_answer counts: its 408 (or early 413/431) is still going out and
  // its RST_STREAM waits for it, so a shut window would keep the stream busy
  // (no idle timeout) for as long as the client liked. The other resets have
  // a RST_STREAM queued, which no window holds: their answers are dropped.
  bool waiting_to_send() const noexcept {
    for (const stream_data* s = open_streams_; s; s = s->next) {
      const bool answer_going_out = s->reset == stream_reset::none || s->reset == stream_reset::after_answer;
      if (s->answered && s->busy && !s->fetching && answer_going_out) return true;
    }
    return false;
  }

  void send_final_goaway() {
    if (final_goaway_sent_ || closed_) return;
    final_goaway_sent_ = true;
    goaway_last_id_ = nghttp2_session_get_last_proc_stream_id(session_);
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, goaway_last_id_, NGHTTP2_NO_ERROR, nullptr, 0);
  }

  // --- sending ----------------------------------------------------------------
  // Sends what the session has queued. One flusher at a time, and it keeps
  // going until nghttp2 has nothing more: a flush() while it runs returns at
  // once (what it queued goes out with the running flusher), so the bytes
  // held for sending stay bounded by one batch however many streams and
  // handlers want to flush. Immune to stop requests: a closing connection
  // still sends its GOAWAY and answers.
  fastrt::coro_task<> flush() {
    if (flushing_) co_return;
    flushing_ = true;
    co_await fastrt::with_stop_token(flush_now(), std::stop_token{});
    flushing_ = false;
    for (const std::coroutine_handle<> h : std::exchange(flush_waiters_, {})) ctx_.post(h);
    finish_if_done();
  }

  // Like flush(), and if another flusher runs, waits until it has sent
  // everything (before closing the connection).
  fastrt::coro_task<> flush_all() {
    if (flushing_) co_await flush_waiter{this};
    else co_await flush();
  }

  // flush_all(), but a peer that does not read gets its connection cut
  // after `limit` (its socket shut down: pending sends fail at once).
  fastrt::coro_task<> flush_within(std::chrono::milliseconds limit) {
    std::stop_source done;
    background_.spawn(cut_after(limit, done.get_token()));
    co_await flush_all();
    done.request_stop();
  }

  // Shuts the socket down after `limit` unless `done` is requested first.
  // (A spawned task sees its scope's stop token, so the sleep gets `done`.)
  fastrt::coro_task<> cut_after(std::chrono::milliseconds limit, std::stop_token done) {
    const fastrt::result<void> slept = co_await fastrt::with_stop_token(fastrt::sleep_for(ctx_, limit), done);
    if (slept) (void)stream_.shutdown(SHUT_RDWR);
  }

  struct flush_waiter {
    h2_connection* self;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { self->flush_waiters_.push_back(h); }
    void await_resume() const noexcept {}
  };

  fastrt::coro_task<> flush_now() {
    // One batch buffer per io thread: send() copies it before suspending, so
    // connections take turns with it and an idle connection holds none.
    static thread_local std::string out;
    while (!closed_) {
      out.clear();
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
        if (out.size() >= piece_limit) break;  // bounds memory per flush
      }
      if (out.empty()) co_return;
      if (!deadlines_.settings_timer_started()) deadlines_.settings_sent(clock::now());  // with the first bytes
      deadlines_.send_started(connection_deadlines::coarse_now());
      const auto outcome = co_await stream_.send(out);
      const bool sent = outcome.has_value();
      deadlines_.send_done();
      if (!sent) {
        closed_ = true;
        reader_stop_.request_stop();
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
    (void)co_await fastrt::with_stop_token(fastrt::with_timeout(ctx_, drain(stream_), std::chrono::seconds(1)),
                                           std::stop_token{});
    stream_.close();
  }

  fastrt::coro_task<bool> send_unstoppable(std::string bytes) {
    auto send = stream_.send(bytes);  // an awaiter that cannot move: awaited in place
    co_return (co_await fastrt::with_stop_token(send, std::stop_token{})).has_value();
  }

  fastrt::io_context& ctx_;
  fastrt::tcp_stream& stream_;
  const app_context& app_;
  connection_list& list_;
  connection_deadlines deadlines_;
  nghttp2_session* session_ = nullptr;
  stream_data* open_streams_ = nullptr;  // owned (see open_stream)
  std::int32_t max_client_stream_ = 0;
  std::vector<std::int32_t> ready_;  // requests completed during mem_recv
  bool in_mem_recv_ = false;
  std::vector<std::int32_t> reset_lately_;
  fastrt::async_scope requests_;    // handlers and body fetches
  fastrt::async_scope background_;  // the watchdog and shutdown flushes
  std::stop_source cut_;  // the connection ends without a clean close
  const std::stop_token cut_token_ = cut_.get_token();
  std::stop_source reader_stop_;
  const std::stop_token reader_token_ = reader_stop_.get_token();
  std::stop_source wake_;  // replaced before each watchdog nap
  std::optional<std::uint32_t> close_code_;
  std::string_view close_reason_;  // static text
  std::string http1_;
  std::vector<std::coroutine_handle<>> flush_waiters_;
  bool flushing_ = false;
  bool sniffed_ = false;
  bool closed_ = false;           // no more bytes go out
  bool finished_ = false;         // the read loop has ended
  bool finished_cleanly_ = false; // ... because everything was exchanged
  bool final_goaway_sent_ = false;
  bool told_client_limit_ = false;  // a response over the client's header list limit was logged
  std::int32_t goaway_last_id_ = 0;  // valid once final_goaway_sent_
  std::size_t busy_streams_ = 0;     // streams with a request being answered
  connection_body_budget budget_;    // request and response body bytes held
  stream_reset_limit resets_;        // streams the client reset or got reset
  bool budget_logged_ = false;
  bool eof_ = false;  // the client half-closed: answer what is complete, then close
};

}  // namespace fastrt_h2
