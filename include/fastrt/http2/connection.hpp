// connection.hpp — one HTTP/2 server connection over a transport
// (transport.hpp): tells HTTP/2 from HTTP/1.x (protocol_sniffer.hpp), reads
// frames into its nghttp2 session (session.hpp), keeps its streams
// (stream_table.hpp), runs each complete request's handler
// (request_dispatch.hpp), sends the answers (response_submission.hpp,
// frame_writer.hpp), and enforces the timeouts, limits and the graceful
// shutdown (connection_watchdog.hpp). This file holds the state machine
// that ties them; everything runs on the connection's io thread.
//
//   fastrt::http2::connection c(ctx, tcp, server, list);   co_await c.run();
//
// The connection, as a state machine (connection_phase):
//
//   sniffing ──"PRI " / h2c upgrade (101)──▶ serving
//   (TLS: ALPN decided — h2 starts in serving, where nghttp2 checks the
//   preface; http/1.1 or none starts in http1; no h2c upgrade over TLS)
//   sniffing ──another HTTP/1.x request──▶ http1 (http1_connection.hpp serves it) ──▶ finished
//   sniffing ──HTTP/1.x answer (400, 413, 414, 431, 501) or not HTTP──▶ finished
//   serving ──client EOF──▶ input_ended ──every complete request answered──▶ completed
//   serving ──GOAWAY exchanged and every stream closed──▶ completed
//   serving, input_ended ──error, deadline, peer gone, flood──▶ (cut) finished
//   completed ──▶ finished
//
// In `finished` the reader has stopped: a cut connection gives its GOAWAY
// and queued bytes a second to go out, stops its handlers, waits for them,
// then closes the transport (lingering, so that the last bytes arrive).
// Graceful shutdown (begin_shutdown, from the server) is orthogonal
// (shutdown_state): GOAWAY(2^31-1) plus a PING, then — when the PING comes
// back or after a second — GOAWAY with the last stream id; streams already
// open complete, whatever is left at --shutdown-timeout is cut. A stream's
// own life is stream.hpp's.
//
// Requests: handlers start outside nghttp2's callbacks (request_dispatch.hpp),
// once the request is complete or, on a streamed route (router.hpp), once
// its header fields are: its body then reaches the handler under flow
// control (request_body.hpp; request_data says how the windows open).
// Every handler gets a stop token stopped when its stream is reset or
// closed, or the connection is cut. What no route matches goes to the
// router's fallback; without one, 404.
//
// Hostile clients: request and response bodies are charged to a
// per-connection and a server-wide budget (body_budget.hpp: beyond it a
// request is refused, an answer becomes 503); a request body that stops
// arriving for --body-timeout gets 408 and its stream reset; a connection
// whose answers cannot go out for --send-timeout (a shut window included) is
// closed; the streams a client resets or gets reset — its RST_STREAMs and
// the ones its bad frames provoke — are rate-limited (stream_reset_limit.hpp:
// GOAWAY ENHANCE_YOUR_CALM); a stream with a reset queued never starts its
// handler. Frames on closed streams, which nghttp2 forgets (session.hpp),
// are answered here: DATA with STREAM_CLOSED, a reused stream id with
// PROTOCOL_ERROR, both ignored on streams we reset
// (client_stream_history.hpp). A client that half-closes still gets its
// complete requests answered; one that closed is found out by a PING every
// half second while they run (end_of_input), and they are stopped. A
// streamed request body holds at most its stream's window unread
// (request_data), and fails its reader when the stream or the connection
// ends first. Responses are checked first (response_rules.hpp): one HTTP/2
// peers would reject, or larger than the client's header list limit,
// becomes a 500 with a log line.
//
// Thread-safety: the connection's io thread only; the server_context is
// shared read-only (see server_context.hpp). Cost: nghttp2's session, one
// stream object per open stream, and the bodies being held (bounded by the
// budgets); nothing per idle connection beyond that.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fastrt/async_scope.hpp>
#include <fastrt/http2/body_budget.hpp>
#include <fastrt/http2/client_stream_history.hpp>
#include <fastrt/http2/connection_info.hpp>
#include <fastrt/http2/connection_deadlines.hpp>
#include <fastrt/http2/connection_watchdog.hpp>
#include <fastrt/http2/field_rules.hpp>
#include <fastrt/http2/frame_writer.hpp>
#include <fastrt/http2/http1_connection.hpp>
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/protocol_sniffer.hpp>
#include <fastrt/http2/request_dispatch.hpp>
#include <fastrt/http2/response_rules.hpp>
#include <fastrt/http2/response_submission.hpp>
#include <fastrt/http2/server_context.hpp>
#include <fastrt/http2/session.hpp>
#include <fastrt/http2/stream.hpp>
#include <fastrt/http2/stream_reset_limit.hpp>
#include <fastrt/http2/stream_table.hpp>
#include <fastrt/http2/transport.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/task.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/with_stop_token.hpp>

namespace fastrt::http2 {

// Where a connection stands (the diagram at the top of this file).
enum class connection_phase : std::uint8_t {
  sniffing,     // the first bytes have not told HTTP/2 from HTTP/1.x yet: no HTTP/2 byte goes out
  http1,        // an HTTP/1.x client: the HTTP/1.1 codec serves the connection (no HTTP/2 byte goes out)
  serving,      // HTTP/2: frames are read, requests answered
  input_ended,  // the client half-closed: complete requests are answered, then the session ends
  completed,    // everything was exchanged (a clean end): the reader stops
  finished,     // the reader has stopped: handlers wind down, then the transport closes
};

// Graceful shutdown, orthogonal to the phase.
enum class shutdown_state : std::uint8_t {
  none,
  notice_sent,        // GOAWAY(2^31-1) and a PING: the client learns no new stream is certain
  final_goaway_sent,  // GOAWAY(last stream id): streams above it are refused, the rest complete
};

// The live connections of one io thread (used on that thread only), so that
// its accept loop can start their graceful shutdown. Connections over
// different transports (TCP, TLS) and TLS handshakes share it: each entry
// is the object and its begin_shutdown (a call per connection at shutdown,
// none per request).
class connection_list {
 public:
  template <class Connection>
  void add(Connection* c) {
    live_.push_back({c, [](void* self) { static_cast<Connection*>(self)->begin_shutdown(); }});
  }
  void remove(const void* c) {
    std::erase_if(live_, [c](const entry& e) { return e.self == c; });
  }
  // Graceful shutdown of every connection.
  void begin_shutdown() const {
    const std::vector<entry> snapshot = live_;  // shutting down may end connections
    for (const entry& e : snapshot) e.begin_shutdown(e.self);
  }
  std::size_t size() const noexcept { return live_.size(); }

 private:
  struct entry {
    void* self;
    void (*begin_shutdown)(void*);
  };
  std::vector<entry> live_;
};

template <transport Transport>
class basic_connection {
 public:
  using list = connection_list;

  // `info`: the scheme and endpoints stamped on every request (the server
  // reads them from the socket; a transport without addresses leaves them
  // empty).
  basic_connection(io_context& ctx, Transport& transport, const server_context& server, list& live,
                   connection_info info = {})
      : ctx_(ctx), transport_(transport), server_(server), events_(*server.events), list_(live), info_(std::move(info)),
        deadlines_(server.config, clock::now()), sniffer_(server.config.max_body_size),
        writer_(ctx, transport, session_, deadlines_, events_, reader_stop_,
                [](void* self) { static_cast<basic_connection*>(self)->finish_if_done(); }, this),
        budget_(server.buffered, server.config.max_buffered_per_connection, server.config.max_buffered) {
    list_.add(this);
    server_.connections.fetch_add(1, std::memory_order_relaxed);
    events_.count(metric::connections_opened);
  }
  basic_connection(const basic_connection&) = delete;
  basic_connection& operator=(const basic_connection&) = delete;
  ~basic_connection() {
    server_.connections.fetch_sub(1, std::memory_order_relaxed);
    events_.count(metric::connections_closed);
    list_.remove(this);
  }

  coro_task<> run() {
    if (!session_.start(*this, server_.config)) co_return;
    if (server_.connections.load(std::memory_order_relaxed) > server_.config.max_connections) {
      // Over the cap: tell the client at once (last stream id 0: nothing was
      // processed, it may retry elsewhere or later).
      events_.count(metric::connections_refused);
      session_.goaway(0, NGHTTP2_ENHANCE_YOUR_CALM, "connection limit reached");
      co_await writer_.flush_within(std::chrono::seconds(1), background_);
      co_await background_.join();
      co_await writer_.linger_close();
      co_return;
    }
    background_.spawn(watchdog_.run(*this));
    if (phase_ != connection_phase::http1) co_await with_stop_token(read_loop(), reader_token_);
    // Nothing more is read (also after a connection error nghttp2 answered
    // with GOAWAY, which leaves its streams open): a body still arriving
    // can no longer complete, and a handler reading it must not wait.
    fail_unfinished_bodies("the connection closed before the request body ended");

    if (phase_ == connection_phase::http1) {
      watchdog_.wake();  // (it stops watching: the HTTP/1.1 codec keeps its own timeouts)
      writer_.close();   // no HTTP/2 byte goes out
      co_await serve_http1();
    } else if (phase_ != connection_phase::completed) {
      // Peer gone, protocol error or a deadline: the GOAWAY (if any) and
      // what is already queued get a second to go out, then answers still
      // in flight are dropped. A client not yet known to speak HTTP/2
      // (silent, or an HTTP/1.1 head cut by --header-timeout or a shutdown)
      // gets no HTTP/2 bytes at all.
      if (phase_ == connection_phase::sniffing) writer_.close();
      if (close_code_ && !writer_.closed()) {
        session_.goaway(session_.last_processed_stream(), *close_code_, close_reason_);
      }
      co_await writer_.flush_within(std::chrono::seconds(1), background_);
      writer_.close();
      cut_all_streams();
    }
    phase_ = connection_phase::finished;
    watchdog_.wake();
    co_await background_.join();
    co_await requests_.join();  // every request coroutine refers to this connection
    co_await writer_.linger_close();
  }

  // Graceful shutdown, phase one (on this connection's io thread).
  void begin_shutdown() {
    if (phase_ == connection_phase::finished || shutdown_ != shutdown_state::none) return;
    if (phase_ == connection_phase::http1) {
      shutdown_ = shutdown_state::notice_sent;
      if (http1_) http1_->begin_shutdown();
      return;
    }
    shutdown_ = shutdown_state::notice_sent;
    deadlines_.shutdown_began(clock::now());
    if (phase_ == connection_phase::sniffing) {  // nothing was asked yet (or an HTTP/1.1 head is half read)
      stop_reading(std::nullopt, {});
      return;
    }
    session_.shutdown_notice(shutdown_ping);
    background_.spawn(flush());
    watchdog_.wake();
  }

  connection_phase phase() const noexcept { return phase_; }

 private:
  // The pieces that call back into the connection (their Receiver
  // interfaces are the event sections below).
  friend class session;
  friend class request_dispatch;
  friend class connection_watchdog;
  template <class Receiver>
  friend ssize_t detail::read_stream(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t, std::uint32_t*,
                                     nghttp2_data_source*, void*);

  // --- the session's events (session.hpp; inside receive() or next_output()) --
  void header_block_started() { deadlines_.header_block_started(connection_deadlines::coarse_now()); }
  void header_block_done() { deadlines_.header_block_done(); }

  void request_begins(std::int32_t id) {
    auto s = std::make_unique<stream>();
    s->id = id;
    if (access_records_) s->started = clock::now();
    set_connection(*s->req, info_);
    session_.set_stream_user_data(id, s.get());
    streams_.open(std::move(s));
  }

  void request_field(std::int32_t id, std::string_view name, std::string_view value) {
    stream* s = find(id);
    if (!s || s->phase != stream_phase::receiving) return;  // oversized: the rest is decoded and dropped
    s->header_bytes += name.size() + value.size() + 32;  // RFC 9113 §6.5.2's accounting
    if (s->header_bytes > server_.config.max_header_list_size) {
      // Answered with 431 once the block is complete (the block must still
      // be decoded: HPACK state is shared by the connection).
      move(*s, stream_phase::receiving_oversized);
      *s->req = request{};
      set_connection(*s->req, info_);
      return;
    }
    add_field(*s->req, name, value);
  }

  // Flow control (nghttp2's automatic window update is off: session.hpp):
  // the connection's window opens at once for every byte received, so one
  // stream whose handler reads slowly never starves the others; a stream's
  // own window opens at once too, except for the bytes queued for a
  // streamed route's handler, which open it only as the handler reads them
  // (body_read). A stream thus holds at most its window (64 KiB) of unread
  // body, and the client waits for the handler.
  void request_data(std::int32_t id, std::string_view bytes) {
    stream* s = find(id);
    if (s && s->reset == stream_reset::none && s->body_streaming()) {
      session_.consume_connection(bytes.size());
      stream_body_data(*s, bytes);
      return;
    }
    session_.consume(id, bytes.size());
    if (!s || s->reset != stream_reset::none) return;
    s->body_progress = connection_deadlines::coarse_now();  // (PINGs and empty frames do not count)
    if (s->dispatched()) return;  // answered early: the rest of the body is discarded
    if (s->req->body.size() + bytes.size() > server_.config.max_body_size) {
      answer_early(*s, 413, "request body larger than --max-body-size\n");
      return;
    }
    if (!budget_.try_charge(bytes.size())) {
      refuse(*s);
      return;
    }
    s->charged_request += bytes.size();
    s->req->body.append(bytes);
  }

  void request_frame_received(std::int32_t id, bool headers, bool end_stream) {
    stream* s = find(id);
    if (!s) return;
    if (s->body_streaming()) {
      if (end_stream) {  // (after DATA, or trailers)
        s->body->finish();
        s->body_progress = {};
      }
      return;
    }
    if (s->dispatched()) return;
    if (s->phase == stream_phase::receiving_oversized) {
      answer_early(*s, 431, "request header fields larger than SETTINGS_MAX_HEADER_LIST_SIZE\n");
      return;
    }
    if (headers && !end_stream) {
      s->body_progress = connection_deadlines::coarse_now();  // --body-timeout runs from here
      // A body follows: refuse at once when it announces more than we take.
      const auto it = std::find_if(s->req->headers.begin(), s->req->headers.end(),
                                   [](const auto& h) { return h.first == "content-length"; });
      if (it != s->req->headers.end() && it->second.size() < 20 &&
          std::strtoull(it->second.c_str(), nullptr, 10) > server_.config.max_body_size) {
        answer_early(*s, 413, "request body larger than --max-body-size\n");
        return;
      }
      // A streamed route's handler starts now, reading the body as it comes.
      s->route = server_.routes.find_target(s->req->method, s->req->path);
      if (s->route && s->route->options.body == request_body::streamed) dispatch(*s, body_state::follows);
      return;
    }
    if (end_stream) dispatch(*s);
  }

  void settings_received(bool ack) {
    if (ack) deadlines_.settings_acked();
    else deadlines_.preface_done();
  }

  void ping_acknowledged(std::span<const std::uint8_t, 8> opaque) {
    // The client has seen the shutdown notice (one round trip).
    if (std::equal(opaque.begin(), opaque.end(), shutdown_ping.begin())) send_final_goaway();
  }

  void reset_received() {
    events_.count(metric::streams_reset_by_peer);
    count_reset();  // the same budget as the resets the client provokes
  }

  // RFC 9113 §5.1.1: a HEADERS opening a stream id not above every earlier
  // one is a connection error PROTOCOL_ERROR. nghttp2 forgets closed
  // streams (session.hpp) and silently ignores such a block, because it
  // could be trailers racing an RST_STREAM of ours (which §5.1 tolerates):
  // client_streams_ tells the two apart.
  void headers_frame_begins(std::int32_t id) {
    if (id <= 0 || (id & 1) == 0 || ignored_after_goaway(id)) return;
    if (id > client_streams_.highest()) {
      client_streams_.opened(id);
      return;
    }
    if (closed_without_our_reset(id)) session_.terminate(NGHTTP2_PROTOCOL_ERROR);
  }

  // §5.1: DATA on a closed stream is STREAM_CLOSED (§6.1: a stream error at
  // least; a connection error, as nghttp2 answers for the streams it keeps,
  // is allowed). nghttp2 would ignore it once it forgot the stream.
  void data_frame_begins(std::int32_t id) {
    if (id <= 0 || (id & 1) == 0 || ignored_after_goaway(id)) return;
    if (closed_without_our_reset(id)) session_.terminate(NGHTTP2_STREAM_CLOSED);
  }

  // Client stream `id`, not above the highest, is closed — skipped, or
  // closed by the two END_STREAMs or the client's RST_STREAM — and so no
  // frame on it may come. Not after a reset of ours (the client's frames in
  // flight are tolerated, §5.1 "closed"), nor when it is too old to know
  // (client_stream_history.hpp: ignored, as nghttp2 does).
  bool closed_without_our_reset(std::int32_t id) const {
    if (session_.stream_open(id)) return false;  // (trailers; also a stream whose RST_STREAM is queued, not sent)
    const stream_history h = client_streams_.of(id);
    return h == stream_history::opened || h == stream_history::skipped;
  }
  // §6.8: after a GOAWAY of ours, frames on streams above its last id are
  // ignored (nghttp2 drops them; their trailers must not look like a reused
  // id). nghttp2 sends one of its own too (its reset rate limit).
  bool ignored_after_goaway(std::int32_t id) const {
    return id > goaway_sent_last_id_ || (shutdown_ == shutdown_state::final_goaway_sent && id > goaway_last_id_);
  }
  void goaway_sent(std::int32_t last_id) { goaway_sent_last_id_ = std::min(goaway_sent_last_id_, last_id); }

  // nghttp2 rejected a frame on stream `id` (e.g. a WINDOW_UPDATE
  // overflowing its window) and queued a RST_STREAM for it: its handler
  // must not start, or stop.
  void invalid_frame(std::int32_t id) {
    // A stream nghttp2 refused never opens, and its RST_STREAM is not sent
    // yet: the DATA that follows its HEADERS must not look like a closed
    // stream's.
    client_streams_.reset(id);
    stream* s = find(id);
    if (s && s->reset == stream_reset::none) {
      s->reset = stream_reset::provoked;
      s->cancel.request_stop();
    }
  }

  void reset_sent(std::int32_t id, std::uint32_t code) {
    client_streams_.reset(id);
    stream* s = find(id);
    const bool ours = s && (s->reset == stream_reset::ours || s->reset == stream_reset::after_answer);
    // A reset the client's frames provoked (nghttp2 found a stream error,
    // or refused a stream over the concurrency limit): counted like the
    // client's own (MadeYouReset, CVE-2025-8671).
    if (code != NGHTTP2_NO_ERROR && !ours) {
      events_.count(metric::streams_reset_by_peer);
      count_reset();
    }
    if (s) s->cancel.request_stop();  // its handler stops; work it queued is skipped
  }

  void data_sent() { deadlines_.send_progress(connection_deadlines::coarse_now()); }

  void end_stream_sent(std::int32_t id) {
    stream* s = find(id);
    if (!s) return;
    if (s->reset == stream_reset::after_answer) {
      // The 408 of --body-timeout is out: RFC 9113 §8.1 lets the server
      // stop the upload with RST_STREAM(NO_ERROR), which frees the stream.
      s->reset = stream_reset::ours;
      session_.reset_stream(s->id, NGHTTP2_NO_ERROR);
    }
    // The whole answer is out. (After an early 413/431 the rest of the
    // upload is read and discarded, not reset: RFC 9113 §8.1 would allow
    // RST_STREAM NO_ERROR, but curl then often reports a failed transfer
    // instead of the 413. A client that never finishes its upload just
    // leaves the connection idle, and the idle timeout ends it.)
    if (s->phase == stream_phase::answering) move(*s, stream_phase::answered);
  }

  // A response HEADERS nghttp2 could not send: reset the stream, so that it
  // is freed and the client is not left waiting. (submit() checks the size
  // beforehand.)
  void response_headers_failed(std::int32_t id, int error) {
    const stream* s = find(id);
    if (!s) return;
    log_request_problem(*s, std::string("the response header fields could not be sent: ") + session::describe(error),
                        "stream reset");
    session_.reset_stream(id, NGHTTP2_INTERNAL_ERROR);
  }

  // --- a streamed request body (request_body.hpp) ---------------------------------
  // DATA for a handler reading its body: queued for it (the stream's window
  // opens as it reads: body_read), within --max-body-size and the body budget.
  void stream_body_data(stream& s, std::string_view bytes) {
    s.body_progress = connection_deadlines::coarse_now();
    s.body_received += bytes.size();
    if (s.body_received > server_.config.max_body_size) {
      session_.consume_stream(s.id, bytes.size());
      answer_streamed_early(s, 413, "request body larger than --max-body-size\n",
                            fastrt::error(std::errc::file_too_large, "the request body is larger than --max-body-size"));
      return;
    }
    if (!budget_.try_charge(bytes.size())) {
      session_.consume_stream(s.id, bytes.size() + s.body->fail(fastrt::error(
                                                       std::errc::no_buffer_space,
                                                       "the server holds too many body bytes: the stream is refused")));
      refuse(s);
      return;
    }
    s.charged_request += bytes.size();
    s.body->deliver(bytes);
  }

  // The reader handed `n` bytes to its handler (body_reader::taken_hook):
  // they leave the budget and open the stream's window by as much; the
  // WINDOW_UPDATE, when nghttp2 decides one is due, goes out now.
  static void body_taken(void* self, std::int32_t id, std::size_t n) {
    static_cast<basic_connection*>(self)->body_read(id, n);
  }
  void body_read(std::int32_t id, std::size_t n) {
    if (stream* s = find(id)) {
      release_request_bytes(*s, n);
      // Its stall clock (--body-timeout) restarts: the client may have
      // been waiting for the window.
      if (s->body_streaming()) s->body_progress = connection_deadlines::coarse_now();
    }
    session_.consume_stream(id, n);
    if (!writer_.closed() && session_.wants_to_send()) requests_.spawn(flush());
  }

  // The handler is done with its request: the body still unread is
  // discarded as it comes (its window opens at once).
  void stop_reading_body(stream& s) {
    if (!s.body) return;
    const std::size_t dropped = s.body->abandon();
    release_request_bytes(s, dropped);
    session_.consume_stream(s.id, dropped);
  }

  // A streamed body that broke a limit (--max-body-size, --body-timeout)
  // while its handler runs: the handler's reads fail and it is stopped (its
  // answer is dropped: answer()), and the client gets `status` instead.
  void answer_streamed_early(stream& s, int status, std::string text, fastrt::error why) {
    const std::size_t dropped = s.body->fail(std::move(why));
    release_request_bytes(s, dropped);
    session_.consume_stream(s.id, dropped);
    s.cancel.request_stop();
    deadlines_.send_progress(connection_deadlines::coarse_now());
    events_.count(metric::requests_answered_early);
    submit(s, text_response(status, std::move(text)));
  }

  void release_request_bytes(stream& s, std::size_t n) {
    n = std::min(n, s.charged_request);
    s.charged_request -= n;
    budget_.release(n);
  }

  void stream_closed(std::int32_t id) {
    stream* s = find(id);  // (the user data is still there during this callback)
    if (!s) return;
    record_access(*s);
    // Reset by the client (or answered): a handler still running stops, and
    // work it queued is skipped.
    s->cancel.request_stop();
    budget_.release(s->charged_request + s->charged_response);
    if (streams_.close(*s)) became_idle();
  }

  // --- response_submission.hpp's events -------------------------------------
  bool next_piece_wanted(stream& s) {
    if (writer_.closed()) return false;
    requests_.spawn(fetch_piece(s.key()));
    return true;
  }

  void streamed_length_mismatch(const stream& s, std::string_view more_or_fewer) {
    std::string why = "the streamed body has ";
    why += more_or_fewer;
    why += " bytes than its content-length: " + std::to_string(s.declared_length);
    log_request_problem(s, why, "stream reset");
  }

  // --- request_dispatch.hpp's events ---------------------------------------------
  stream* find(stream_key key) const noexcept { return find(key.id); }
  // Reset in the same read (by the client, or by us over its frames), or
  // the connection is closing over an error: no handler runs.
  bool may_start(const stream& s) const noexcept { return s.reset == stream_reset::none && !close_code_; }
  async_scope& request_scope() noexcept { return requests_; }

  // The handler's response for stream `key` goes out (true: flush), unless
  // the stream was reset or closed meanwhile (its stop token says so too).
  // A handler that answered without suspending, inside start_ready(), gets
  // false: start_ready() flushes once after all of them.
  bool answer(stream_key key, response&& resp, const std::stop_token& cancel) {
    if (writer_.closed()) return false;
    stream* s = find(key);
    if (!s) return false;  // closed meanwhile
    // A whole answer ends the reading of a streamed body now; a streamed
    // answer may go on reading it while it streams (full duplex: an ASGI
    // app's receive() after http.response.start) until its last piece
    // (fetch_piece) or the stream's close.
    if (!resp.stream) stop_reading_body(*s);
    if (s->answer_submitted()) return false;  // answered by the server already (a streamed body's 408 or 413)
    if (s->reset != stream_reset::none || cancel.stop_requested()) {  // reset meanwhile: nothing goes out
      move(*s, stream_phase::abandoned);
      return false;
    }
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
    return !dispatch_.defer_flush();
  }

  // --- connection_watchdog.hpp's events -----------------------------------------
  bool watched() const noexcept { return phase_ != connection_phase::finished && phase_ != connection_phase::http1; }
  bool idle() const noexcept { return streams_.busy() == 0; }
  // (the watchdog, when it finds the connection idle: session_memory.hpp)
  void release_idle_memory() noexcept { session_.release_idle_memory(); }
  bool final_goaway_due() const noexcept { return shutdown_ == shutdown_state::notice_sent; }
  void deadline_passed(const connection_deadlines::expiry& expiry) {
    if (expiry.why != "idle timeout" && expiry.why != "shutdown deadline") {
      events_.count(metric::connections_timed_out);
      events_.log(log_level::warning, "closing a connection: " + std::string(expiry.why));
    }
    stop_reading(expiry.code, expiry.why);
  }
  // Sends what the session queued; the writer then calls finish_if_done:
  // the connection ends if that was all.
  coro_task<> flush() { return writer_.flush(); }

  // --body-timeout: a request body that got no DATA for that long (PINGs
  // and other frames do not count) gets 408 and its stream reset; its
  // memory is freed at once. True if any stream was.
  bool expire_stalled_bodies(connection_deadlines::time_point now) {
    const std::chrono::milliseconds limit = server_.config.body_timeout;
    if (limit.count() <= 0 || writer_.closed()) return false;
    std::size_t expired = 0;
    streams_.for_each([&](stream& s) {
      if (s.body_progress == clock::time_point{} || now - s.body_progress < limit) return;
      // A handler that has not read what came is the one holding the client
      // back (the window is shut): not the client's stall.
      if (s.body_streaming() && s.body->queued() > 0) return;
      s.body_progress = {};
      if (s.reset != stream_reset::none || session_.stream_remote_closed(s.id)) return;
      ++expired;
      if (s.body_streaming()) {
        answer_streamed_early(s, 408, "Request Timeout: the request body stopped arriving\n",
                              fastrt::error(fastrt::errc::timed_out, "the request body stopped arriving (--body-timeout)"));
        s.reset = stream_reset::after_answer;
      } else if (!s.dispatched()) {
        answer_early(s, 408, "Request Timeout: the request body stopped arriving\n");
        s.reset = stream_reset::after_answer;
      } else if (s.busy()) {
        s.reset = stream_reset::after_answer;  // its early answer (413, 431) is still going out
      } else {
        s.reset = stream_reset::ours;
        session_.reset_stream(s.id, NGHTTP2_NO_ERROR);
      }
    });
    if (expired) {
      events_.count(metric::bodies_timed_out, expired);
      events_.log(log_level::warning, std::to_string(expired) + (expired == 1 ? " request body" : " request bodies") +
                                          " stalled for --body-timeout (408, stream reset)");
    }
    return expired > 0;
  }

  // An answer has bytes ready that only the client's flow-control windows
  // hold back (not one waiting for its app to produce the next piece).
  bool waiting_to_send() const noexcept {
    return streams_.any_of([](const stream& s) { return s.waiting_for_window(); });
  }

  void send_final_goaway() {
    if (shutdown_ == shutdown_state::final_goaway_sent || writer_.closed()) return;
    shutdown_ = shutdown_state::final_goaway_sent;
    goaway_last_id_ = session_.last_processed_stream();
    session_.goaway(goaway_last_id_, NGHTTP2_NO_ERROR);
  }

  using clock = connection_deadlines::clock;
  static constexpr connection_phase first_phase(protocol_choice protocol) noexcept {
    switch (protocol) {
      case protocol_choice::http2:
        return connection_phase::serving;
      case protocol_choice::http1:
        return connection_phase::http1;
      case protocol_choice::sniff:
        break;
    }
    return connection_phase::sniffing;
  }
  static constexpr std::array<std::uint8_t, 8> shutdown_ping{'s', 'h', 'u', 't', 'd', 'o', 'w', 'n'};
  // After the client's FIN: is it still there (end_of_input)?
  static constexpr std::array<std::uint8_t, 8> gone_probe{'s', 't', 'i', 'l', 'l', 'r', 'e', 'a'};
  static constexpr std::chrono::milliseconds probe_interval{500};

  stream* find(std::int32_t id) const noexcept {
    if (stream* s = streams_.recent(id)) return s;
    return streams_.find(id, static_cast<stream*>(session_.stream_user_data(id)));
  }

  // --- reading ----------------------------------------------------------------
  // Stopped (reader_token_) by the watchdog, a failed send or a graceful
  // shutdown that has nothing left to wait for.
  coro_task<> read_loop() {
    for (;;) {
      auto chunk = co_await transport_.recv();
      if (!chunk) break;  // stopped or error
      if (chunk->empty()) {  // EOF: the client may still read its answers
        co_await end_of_input();
        break;
      }
      deadlines_.received(connection_deadlines::coarse_now());
      std::string_view data = chunk->text();
      if (phase_ == connection_phase::sniffing) {
        const sniff_outcome sniffed = sniffer_.feed(data);
        if (!co_await act_on(sniffed)) break;
        if (phase_ == connection_phase::sniffing) continue;  // incomplete
        data = sniffed.http2_bytes;
      }
      long consumed = 0;
      {
        const request_dispatch::receiving span(dispatch_);
        consumed = session_.receive(data);
      }
      sniffer_.release();
      dispatch_.start_ready(*this);
      if (consumed < 0) {
        // A fatal protocol error (flooding included): nghttp2 has queued a
        // GOAWAY (floods get ENHANCE_YOUR_CALM from us, nghttp2 would just
        // close); send it and close this connection only.
        if (session::flooded(consumed)) {
          events_.count(metric::connections_calmed);
          session_.terminate(NGHTTP2_ENHANCE_YOUR_CALM);
        }
        if (session::not_http2(consumed)) {
          writer_.close();  // RFC 9113 §3.4: not an HTTP/2 client, it gets no HTTP/2 frame
        } else {
          events_.log(log_level::warning, std::string("closing a connection: ") + session::describe(consumed));
        }
        co_await flush();
        break;
      }
      co_await flush();
      if (writer_.closed() || close_code_ || phase_ == connection_phase::completed) break;
      if (session_.over()) {
        phase_ = connection_phase::completed;  // GOAWAY exchanged and every stream closed
        break;
      }
    }
  }

  // The sniffer's verdict (protocol_sniffer.hpp); false when the connection
  // is over. An h2c upgrade answers 101 and starts stream 1 here.
  coro_task<bool> act_on(const sniff_outcome& sniffed) {
    switch (sniffed.verdict) {
      case sniff_verdict::incomplete:
        co_return true;
      case sniff_verdict::http2:
        phase_ = connection_phase::serving;
        co_return true;
      case sniff_verdict::not_http:
        writer_.close();  // not a byte goes out
        co_return false;
      case sniff_verdict::http1:
        phase_ = connection_phase::http1;
        http1_held_ = sniffed.http2_bytes;
        sniffer_.release();
        co_return false;
      case sniff_verdict::answer_and_close:
        co_await close_http1(sniffed.answer);
        co_return false;
      case sniff_verdict::upgrade:
        break;
    }
    auto s = std::make_unique<stream>();
    s->id = 1;
    if (access_records_) s->started = clock::now();
    *s->req = sniffed.upgrade.req;
    set_connection(*s->req, info_);
    const int rv = session_.upgrade(sniffed.upgrade.settings, s->req->method == "HEAD", s.get());
    if (rv != 0) {
      events_.log(log_level::error, std::string("h2c upgrade failed: ") + session::describe(rv) + " (500)");
      co_await close_http1(http1::closing_response("500 Internal Server Error", "h2c upgrade failed\n"));
      co_return false;
    }
    streams_.open_upgraded(std::move(s));
    client_streams_.opened(1);  // the upgrade's request is stream 1
    if (!co_await writer_.send_raw(std::string(http1::switching_protocols))) {
      writer_.close();
      co_return false;
    }
    phase_ = connection_phase::serving;
    if (stream* first = find(1)) dispatch(*first);
    co_return true;
  }

  // The HTTP/1.1 codec serves the rest of the connection, from the bytes
  // the sniffer held; a graceful shutdown reaches it through http1_.
  coro_task<> serve_http1() {
    basic_http1_connection<Transport> codec(ctx_, transport_, server_, info_, budget_);
    http1_ = &codec;
    if (shutdown_ != shutdown_state::none) codec.begin_shutdown();
    co_await codec.run(std::exchange(http1_held_, {}));
    http1_ = nullptr;
  }

  coro_task<> close_http1(std::string answer) {
    (void)co_await writer_.send_raw(std::move(answer));
    (void)transport_.shutdown(SHUT_WR);
    writer_.close();
  }

  // The client half-closed (shutdown(SHUT_WR)) or closed: no request can
  // still arrive, but those complete are answered (a client that only
  // half-closed reads them) before the connection closes; the handler,
  // send and shutdown timeouts bound the wait. Requests the client had not
  // finished can no longer complete and are dropped.
  //
  // A FIN does not say whether the client still reads. While handlers run,
  // a PING goes out every probe_interval: a client that closed its socket
  // answers the first with a RST, the next send fails, and the connection
  // is cut (the handlers' stop tokens: an ASGI app gets http.disconnect,
  // an async one CancelledError) instead of running them for nobody.
  coro_task<> end_of_input() {
    if (phase_ != connection_phase::serving) co_return;
    phase_ = connection_phase::input_ended;
    fail_unfinished_bodies("the client closed its side before the request body ended");  // (they may still answer)
    while (streams_.busy() > 0 && !session_.over() && !writer_.closed()) {
      session_.ping(gone_probe);
      co_await flush();
      const result<void> slept = co_await with_stop_token(sleep_for(ctx_, probe_interval), reader_token_);
      if (!slept) break;  // every answer is out (became_idle), or the connection is cut
    }
    if (phase_ == connection_phase::completed) co_return;
    if ((streams_.busy() > 0 && !session_.over()) || close_code_ || writer_.closed()) co_return;  // cut
    session_.terminate(NGHTTP2_NO_ERROR);
    co_await writer_.flush_within(std::chrono::seconds(1), background_);
    phase_ = connection_phase::completed;
  }

  // Ends the read loop; with a code, a GOAWAY saying why goes out first.
  void stop_reading(std::optional<std::uint32_t> code, std::string_view why) {
    if (!close_code_) {
      close_code_ = code;
      close_reason_ = why;
    }
    reader_stop_.request_stop();
  }

  // The connection ends as soon as nothing is left to read or write: after
  // our final GOAWAY that is a clean end; otherwise nghttp2 ended the session
  // over a connection error (its GOAWAY is out), whatever streams still look busy.
  void finish_if_done() {
    if (writer_.closed() || phase_ == connection_phase::sniffing || !session_.over()) return;
    if (shutdown_ == shutdown_state::final_goaway_sent && phase_ != connection_phase::finished)
      phase_ = connection_phase::completed;
    reader_stop_.request_stop();
  }

  // --- requests ---------------------------------------------------------------
  // Whether a request's body is still to come when its handler starts.
  enum class body_state : std::uint8_t { complete, follows };

  // A request goes to its handler (request_dispatch.hpp), unless it must
  // not run: a complete one, or a streamed route's once its header fields
  // are (body_state::follows).
  void dispatch(stream& s, body_state body = body_state::complete) {
    // After the final GOAWAY went into the queue, streams above its last id
    // are refused by nghttp2 when it goes out (the client may retry them):
    // they must not run.
    if (shutdown_ == shutdown_state::final_goaway_sent && s.id > goaway_last_id_) return;
    if (s.reset != stream_reset::none) return;  // a RST_STREAM is on its way
    if (body == body_state::complete) s.body_progress = {};
    move(s, stream_phase::handling);
    s.head_request = s.req->method == "HEAD";
    // (A complete request comes whole even on a streamed route: request_body.hpp.)
    if (body == body_state::follows) {
      s.body = std::make_shared<body_reader>(this, &body_taken, s.id);
      s.req->body_pieces = s.body;
    }
    s.dispatched_req = std::move(s.req);  // the handler's from now on: read-only
    events_.count(metric::requests_dispatched);
    dispatch_.dispatch(*this, s);
  }

  // Answers before the request is complete (408, 413, 431); the rest of
  // the request body is discarded.
  void answer_early(stream& s, int status, std::string body) {
    drop_request_body(s);
    s.body_progress = connection_deadlines::coarse_now();  // the rest of the body must keep coming
    deadlines_.send_progress(connection_deadlines::coarse_now());
    s.head_request = s.req->method == "HEAD";
    s.dispatched_req = std::move(s.req);
    events_.count(metric::requests_answered_early);
    submit(s, text_response(status, std::move(body)));
  }

  // Sends `r` as `s`'s response (the stream moves to answering). A response
  // that breaks response_rules.hpp is replaced by a 500 (with a log line
  // saying why); one nghttp2 refuses resets the stream.
  void submit(stream& s, response&& r) {
    move(s, stream_phase::answering);
    response_verdict verdict = check_response(r, s.head_request);
    bool tell = true;
    const std::uint32_t client_limit = session_.client_max_header_list_size();
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
    if (const int rv = submit_response<basic_connection>(session_, s); rv != 0) {
      log_request_problem(s, session::describe(rv), "stream reset");
      session_.reset_stream(s.id, NGHTTP2_INTERNAL_ERROR);
    }
  }

  // Pulls the next piece of a streamed body and resumes its DATA frames.
  coro_task<> fetch_piece(stream_key key) {
    co_await ctx_.schedule();  // not inside nghttp2's read callback
    const stream* before = find(key);
    if (!before) co_return;  // reset meanwhile
    // The function lives in this frame while its coroutine runs: a reset
    // stream frees its stream (and response) meanwhile.
    const body_stream next = before->resp.stream;
    // A cut connection does not wait for a slow producer.
    auto piece = co_await with_stop_token(next(), cut_token_);
    stream* found = writer_.closed() ? nullptr : find(key);
    if (!found) co_return;
    stream& s = *found;
    s.pieces = piece_state::ready;
    if (s.reset != stream_reset::none) co_return;
    budget_.release(std::exchange(s.charged_response, 0));  // the previous piece is all sent
    if (!piece || !budget_.try_charge(piece->size())) {
      if (!piece) {
        log_request_problem(s, "the response body failed: " + std::string(piece.error().message()), "stream reset");
      } else {
        log_over_budget("streamed bodies are reset");
      }
      s.reset = stream_reset::ours;
      session_.reset_stream(s.id, NGHTTP2_INTERNAL_ERROR);
    } else {
      s.charged_response = piece->size();
      if (piece->empty()) {
        s.pieces = piece_state::last;
        stop_reading_body(s);  // the answer is complete: what the client still sends is discarded
      }
      s.piece = std::move(piece).value();
      s.offset = 0;
      deadlines_.send_progress(connection_deadlines::coarse_now());
      session_.resume_data(s.id);
    }
    co_await flush();
  }

  // --- the body budget ----------------------------------------------------------
  // The request body is no longer needed once the handler answered: a large
  // one is dropped (the access record keeps the request line) and its charge
  // given back. A small one stays until the stream closes (copying the
  // request line for it would cost more than it frees).
  void forget_request_body(stream& s) {
    static constexpr std::size_t worth_dropping = 16 * 1024;
    if (s.charged_request < worth_dropping || !s.dispatched_req) return;
    auto line = std::make_shared<request>();
    line->method = s.dispatched_req->method;
    line->path = s.dispatched_req->path;
    line->query = s.dispatched_req->query;
    s.dispatched_req = std::move(line);
    budget_.release(std::exchange(s.charged_request, 0));
  }

  void drop_request_body(stream& s) {
    if (s.req) std::string().swap(s.req->body);  // (once dispatched, the request is the handler's)
    budget_.release(std::exchange(s.charged_request, 0));
  }

  // The body budget is spent: the stream is refused (the client may retry
  // it; no handler ran) and what arrived of its body freed.
  void refuse(stream& s) {
    drop_request_body(s);
    s.body_progress = {};
    s.reset = stream_reset::ours;
    events_.count(metric::streams_refused);
    log_over_budget("request bodies are refused");
    session_.reset_stream(s.id, NGHTTP2_REFUSED_STREAM);
  }

  // Once per connection: a flood of refusals must not flood the log.
  void log_over_budget(std::string_view consequence) {
    if (budget_logged_) return;
    budget_logged_ = true;
    events_.log(log_level::warning, "a connection is over --max-buffered-per-connection (" +
                                        std::to_string(budget_.used()) + " bytes held) or --max-buffered (" +
                                        std::to_string(server_.buffered.used()) + " bytes held in all): " +
                                        std::string(consequence));
  }

  // One stream reset the client sent or provoked; over the limit the
  // connection ends with GOAWAY(ENHANCE_YOUR_CALM).
  void count_reset() {
    if (resets_.allow(stream_reset_limit::clock::now()) || close_code_) return;
    events_.count(metric::connections_calmed);
    events_.log(log_level::warning, "closing a connection: too many streams reset (sent or provoked by the client)");
    stop_reading(NGHTTP2_ENHANCE_YOUR_CALM, "too many streams reset");
  }

  // --- streams ------------------------------------------------------------------
  void move(stream& s, stream_phase to) {
    if (streams_.move(s, to)) became_idle();
  }

  void became_idle() {
    deadlines_.became_idle(connection_deadlines::coarse_now());
    if (phase_ == connection_phase::input_ended) reader_stop_.request_stop();  // end_of_input: every answer is out
  }

  void fail_unfinished_bodies(std::string_view why) {
    streams_.for_each([why](stream& s) {
      if (s.body_streaming()) (void)s.body->fail(fastrt::error(std::errc::connection_reset, why));
    });
  }

  void cut_all_streams() {
    cut_.request_stop();  // body pieces still awaited
    streams_.for_each([](stream& s) { s.cancel.request_stop(); });
  }

  // "METHOD PATH: WHY (OUTCOME)", the request escaped.
  void log_request_problem(const stream& s, std::string_view why, std::string_view outcome) const {
    std::string line;
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
    line += ")";
    events_.log(log_level::error, line);
  }

  void record_access(const stream& s) const {
    if (!access_records_ || !s.answer_submitted() || !s.dispatched_req) return;
    const request& r = *s.dispatched_req;
    events_.access(access_record{.method = r.method,
                                 .path = r.path,
                                 .query = r.query,
                                 .protocol = "HTTP/2",
                                 .status = s.resp.status,
                                 .body_bytes = s.bytes_sent,
                                 .duration = clock::now() - s.started});
  }

  io_context& ctx_;
  Transport& transport_;
  const server_context& server_;
  observer& events_;
  list& list_;
  const connection_info info_;  // scheme and endpoints, stamped on every request
  connection_deadlines deadlines_;
  stream_table streams_;  // outlives session_: nghttp2_session_del calls no close callback, the table frees the rest
  session session_;
  protocol_sniffer sniffer_;
  std::string http1_held_;  // an HTTP/1.x client's first bytes, for the codec
  basic_http1_connection<Transport>* http1_ = nullptr;  // while the codec serves
  std::stop_source reader_stop_;  // the read loop ends
  const std::stop_token reader_token_ = reader_stop_.get_token();
  frame_writer<Transport> writer_;
  std::stop_source cut_;  // the connection ends without a clean close
  const std::stop_token cut_token_ = cut_.get_token();
  connection_watchdog watchdog_{ctx_, deadlines_};
  request_dispatch dispatch_{server_.routes};
  async_scope requests_;    // handlers and body fetches
  async_scope background_;  // the watchdog and shutdown flushes
  connection_phase phase_ = first_phase(info_.protocol);
  shutdown_state shutdown_ = shutdown_state::none;
  std::optional<std::uint32_t> close_code_;
  std::string_view close_reason_;  // static text
  std::int32_t goaway_last_id_ = 0;  // valid once the final GOAWAY was sent
  std::int32_t goaway_sent_last_id_ = std::numeric_limits<std::int32_t>::max();  // the lowest of every GOAWAY sent
  client_stream_history client_streams_;  // frames on closed streams (nghttp2 forgets them)
  connection_body_budget budget_;  // request and response body bytes held
  stream_reset_limit resets_;      // streams the client reset or got reset
  const bool access_records_ = events_.wants_access_records();
  bool told_client_limit_ = false;   // a response over the client's header list limit was logged
  bool budget_logged_ = false;       // going over the body budget was logged
};

using connection = basic_connection<tcp_stream>;

}  // namespace fastrt::http2
