// session.hpp — the nghttp2 adapter: owns one nghttp2 server session and
// turns its C callbacks into calls on the connection (the Receiver),
// already sorted by what they mean. Nothing else in fastrt::http2 calls a
// callback-registering nghttp2 function.
//
// The Receiver (basic_connection) provides, all called from inside
// receive() or next_output(), on the io thread:
//   void header_block_started();                   any HEADERS begins
//   void request_begins(std::int32_t id);          a request's HEADERS begins
//   void request_field(std::int32_t id, std::string_view name, std::string_view value);
//   void request_data(std::int32_t id, std::string_view bytes);
//   void request_frame_received(std::int32_t id, bool headers, bool end_stream);
//   void header_block_done();                      a HEADERS frame (accepted or rejected) ended
//   void settings_received(bool ack);
//   void ping_acknowledged(std::span<const std::uint8_t, 8> opaque);
//   void reset_received();                         the client's RST_STREAM
//   void headers_frame_begins(std::int32_t id);    before a HEADERS is parsed (stream-id reuse check)
//   void data_frame_begins(std::int32_t id);       before nghttp2 sees a DATA frame (closed-stream check)
//   void invalid_frame(std::int32_t id);           nghttp2 rejected a frame (it answers it itself)
//   void reset_sent(std::int32_t id, std::uint32_t code);
//   void goaway_sent(std::int32_t last_id);        any GOAWAY went out (ours, or nghttp2's own)
//   void data_sent();                              a non-empty DATA frame went out
//   void end_stream_sent(std::int32_t id);
//   void response_headers_failed(std::int32_t id, int error);
//   void stream_closed(std::int32_t id);
//
// Closed streams: nghttp2 is told to forget them (no_closed_streams), so an
// idle connection's stream map is all zero and its page can go back
// (session_memory.hpp). nghttp2 then ignores frames on streams it no longer
// knows; receive() stops in front of every DATA frame (inbound_frame_scanner)
// and calls data_frame_begins() while nghttp2 has acted on every frame
// before it, so the receiver can tell a closed stream (STREAM_CLOSED) from
// one it reset (ignored, RFC 9113 §5.1). HEADERS get the same check from
// on_begin_frame.
//
// Flood limits set here: the Rapid Reset rate limit (CVE-2023-44487) and
// the CONTINUATION limit, when the linked nghttp2 has them (Debian backports
// both to 1.52: detected by symbol, FASTRT_HAVE_NGHTTP2_*).
//
// Thread-safety: one connection's (its io thread). Cost: nghttp2's session
// (≈ 3 KiB and 2 KiB of HPACK tables; its 4 KiB stream map and 16 KiB frame
// buffer come from page_arena, resident only where written and given back
// by release_idle_memory: session_memory.hpp); receive() costs one
// nghttp2_session_mem_recv per DATA frame, one per read without DATA.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <fastrt/http2/inbound_frame_scanner.hpp>
#include <fastrt/http2/server_config.hpp>
#include <fastrt/http2/session_memory.hpp>

namespace fastrt::http2 {

class session {
 public:
  session() = default;
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session() {
    if (s_) nghttp2_session_del(s_);
  }

  // Creates the server session reporting to `receiver`, and queues our
  // SETTINGS (sent with the first output). False when out of memory.
  template <class Receiver>
  bool start(Receiver& receiver, const server_config& config) {
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &on_begin_headers<Receiver>);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &on_header<Receiver>);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &on_data_chunk<Receiver>);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &on_frame_recv<Receiver>);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &on_stream_close<Receiver>);
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, &on_begin_frame<Receiver>);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &on_frame_send<Receiver>);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, &on_frame_not_send<Receiver>);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, &on_invalid_frame_recv<Receiver>);
    nghttp2_option* option = nullptr;
    if (nghttp2_option_new(&option) != 0) {
      nghttp2_session_callbacks_del(callbacks);
      return false;
    }
    // The connection opens the receive windows itself (consume_*): at once
    // for buffered bodies, as bytes are read for streamed ones
    // (request_body.hpp).
    nghttp2_option_set_no_auto_window_update(option, 1);
    // Closed streams are forgotten at once (see the top): an idle
    // connection keeps no stream in nghttp2's map.
    nghttp2_option_set_no_closed_streams(option, 1);
#ifdef FASTRT_HAVE_NGHTTP2_RESET_RATE_LIMIT
    nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33);  // Rapid Reset (CVE-2023-44487)
#endif
#ifdef FASTRT_HAVE_NGHTTP2_MAX_CONTINUATIONS
    nghttp2_option_set_max_continuations(option, 8);  // CONTINUATION flood
#endif
    const int rv = nghttp2_session_server_new3(&s_, callbacks, &receiver, option, memory_.table());
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) {
      s_ = nullptr;
      return false;
    }
    memory_.seal_output_buffer();  // the frame buffer made with the session
    receiver_ = &receiver;
    data_frame_begins_ = [](void* r, std::int32_t id) { static_cast<Receiver*>(r)->data_frame_begins(id); };
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, config.max_header_list_size},
    };
    return nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) == 0;
  }

  // Feeds received bytes: the callbacks run inside. The count consumed, or
  // a negative nghttp2 error (fatal: nghttp2 has queued a GOAWAY, except
  // for bad_client_magic).
  long receive(std::string_view bytes) noexcept {
    std::size_t fed = 0;
    std::size_t scanned = 0;
    while (scanned < bytes.size()) {
      const inbound_frame_scanner::step step = frames_.scan(bytes.substr(scanned));
      scanned += step.consumed;
      if (!step.head || step.head->type != NGHTTP2_DATA) continue;
      // Up to the byte that completes this DATA header: nghttp2 has then
      // acted on every frame before it, and not yet on this one.
      const long n = feed(bytes.substr(fed, scanned - 1 - fed));
      if (n < 0) return n;
      fed = scanned - 1;
      if (nghttp2_session_want_read(s_)) data_frame_begins_(receiver_, step.head->stream);
    }
    const long n = feed(bytes.substr(fed));
    return n < 0 ? n : static_cast<long>(bytes.size());
  }
  // The next bytes to send (valid until the next call), empty when there
  // are none, or a negative nghttp2 error (fatal) in `error`.
  std::string_view next_output(int& error) noexcept {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(s_, &data);
    error = n < 0 ? static_cast<int>(n) : 0;
    if (n <= 0) return {};
    return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(n)};
  }

  // A fatal receive error: the client sent flood frames (answered with
  // GOAWAY ENHANCE_YOUR_CALM), or no HTTP/2 preface at all.
  static bool flooded(long error) noexcept { return error == NGHTTP2_ERR_FLOODED || error == too_many_continuations; }
  static bool not_http2(long error) noexcept { return error == NGHTTP2_ERR_BAD_CLIENT_MAGIC; }
  static const char* describe(long error) noexcept { return nghttp2_strerror(static_cast<int>(error)); }

  // Gives the pages of nghttp2's frame buffer and empty stream map back to
  // the kernel, when no frame is being sent (session_memory.hpp says why
  // that is safe). For an idle connection; the next response faults in a
  // zero page or two. Returns the bytes dropped.
  std::size_t release_idle_memory() noexcept {
    return !s_ || nghttp2_session_want_write(s_) ? 0 : memory_.release_idle();
  }

  // nghttp2 wants neither to read nor to write: the session is over.
  bool over() const noexcept { return !nghttp2_session_want_read(s_) && !nghttp2_session_want_write(s_); }

  void* stream_user_data(std::int32_t id) const noexcept { return nghttp2_session_get_stream_user_data(s_, id); }
  void set_stream_user_data(std::int32_t id, void* data) noexcept { nghttp2_session_set_stream_user_data(s_, id, data); }
  bool stream_open(std::int32_t id) const noexcept { return nghttp2_session_find_stream(s_, id) != nullptr; }
  bool stream_remote_closed(std::int32_t id) const noexcept {
    return nghttp2_session_get_stream_remote_close(s_, id) != 0;
  }
  std::int32_t last_processed_stream() const noexcept { return nghttp2_session_get_last_proc_stream_id(s_); }
  std::uint32_t client_max_header_list_size() const noexcept {
    return nghttp2_session_get_remote_settings(s_, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE);
  }

  void reset_stream(std::int32_t id, std::uint32_t code) noexcept {
    nghttp2_submit_rst_stream(s_, NGHTTP2_FLAG_NONE, id, code);
  }
  void goaway(std::int32_t last_id, std::uint32_t code, std::string_view why = {}) noexcept {
    nghttp2_submit_goaway(s_, NGHTTP2_FLAG_NONE, last_id, code, reinterpret_cast<const std::uint8_t*>(why.data()),
                          why.size());
  }
  void terminate(std::uint32_t code) noexcept { nghttp2_session_terminate_session(s_, code); }
  // Graceful shutdown's first step: GOAWAY(2^31-1) and a PING with `opaque`.
  void shutdown_notice(std::span<const std::uint8_t, 8> opaque) noexcept {
    nghttp2_submit_shutdown_notice(s_);
    nghttp2_submit_ping(s_, NGHTTP2_FLAG_NONE, opaque.data());
  }
  // A PING with `opaque` (its ACK, if any, is not waited for).
  void ping(std::span<const std::uint8_t, 8> opaque) noexcept { nghttp2_submit_ping(s_, NGHTTP2_FLAG_NONE, opaque.data()); }
  // The h2c upgrade: stream 1 opens half-closed with `data` as its user data.
  int upgrade(std::string_view settings, bool head_request, void* data) noexcept {
    return nghttp2_session_upgrade2(s_, reinterpret_cast<const std::uint8_t*>(settings.data()), settings.size(),
                                    head_request ? 1 : 0, data);
  }
  int submit_response(std::int32_t id, std::span<const nghttp2_nv> fields, const nghttp2_data_provider* body) noexcept {
    return nghttp2_submit_response(s_, id, fields.data(), fields.size(), body);
  }
  void resume_data(std::int32_t id) noexcept { nghttp2_session_resume_data(s_, id); }

  // Received DATA bytes the connection is done with: the windows open by as
  // much (nghttp2 queues a WINDOW_UPDATE once half a window is consumed).
  // The automatic window update is off (start()); nghttp2 itself consumes
  // padding and DATA on streams it ignores. Errors are out of memory only:
  // the window then stays shut and --body-timeout ends the stream.
  void consume(std::int32_t id, std::size_t n) noexcept {
    if (n) (void)nghttp2_session_consume(s_, id, n);
  }
  void consume_connection(std::size_t n) noexcept {
    if (n) (void)nghttp2_session_consume_connection(s_, n);
  }
  void consume_stream(std::int32_t id, std::size_t n) noexcept {
    if (n) (void)nghttp2_session_consume_stream(s_, id, n);
  }
  bool wants_to_send() const noexcept { return nghttp2_session_want_write(s_) != 0; }

  // Why nghttp2 would refuse `payload` (a decoded HTTP2-Settings) — too
  // many entries, or a value RFC 9113 §6.5.2 forbids — or null. Tried on a
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

 private:
#ifdef FASTRT_HAVE_NGHTTP2_MAX_CONTINUATIONS
  static constexpr long too_many_continuations = NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
#else
  static constexpr long too_many_continuations = NGHTTP2_ERR_FLOODED;  // (no such error without the backport)
#endif

  static std::string_view text(const std::uint8_t* p, std::size_t n) noexcept {
    return {reinterpret_cast<const char*>(p), n};
  }
  static bool request_headers(const nghttp2_frame* frame) noexcept {
    return frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
  }

  long feed(std::string_view bytes) noexcept {
    if (bytes.empty()) return 0;
    return static_cast<long>(
        nghttp2_session_mem_recv(s_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  }

  template <class R>
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    R& r = *static_cast<R*>(user_data);
    r.header_block_started();
    if (request_headers(frame)) r.request_begins(frame->hd.stream_id);
    return 0;
  }
  template <class R>
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t name_length,
                       const std::uint8_t* value, std::size_t value_length, std::uint8_t, void* user_data) {
    if (!request_headers(frame)) return 0;  // trailers: ignored
    static_cast<R*>(user_data)->request_field(frame->hd.stream_id, text(name, name_length), text(value, value_length));
    return 0;
  }
  template <class R>
  static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                           std::size_t length, void* user_data) {
    static_cast<R*>(user_data)->request_data(id, text(data, length));
    return 0;
  }
  template <class R>
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    R& r = *static_cast<R*>(user_data);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_SETTINGS:
        r.settings_received((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0);
        return 0;
      case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) r.ping_acknowledged(std::span<const std::uint8_t, 8>(frame->ping.opaque_data));
        return 0;
      case NGHTTP2_HEADERS:
        r.header_block_done();
        r.request_frame_received(frame->hd.stream_id, true, end_stream);
        return 0;
      case NGHTTP2_DATA:
        r.request_frame_received(frame->hd.stream_id, false, end_stream);
        return 0;
      case NGHTTP2_RST_STREAM:
        r.reset_received();
        return 0;
      default:
        return 0;
    }
  }
  template <class R>
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
    if (hd->type == NGHTTP2_HEADERS) static_cast<R*>(user_data)->headers_frame_begins(hd->stream_id);
    return 0;
  }
  template <class R>
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    R& r = *static_cast<R*>(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      r.reset_sent(frame->hd.stream_id, frame->rst_stream.error_code);
      return 0;
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      r.goaway_sent(frame->goaway.last_stream_id);
      return 0;
    }
    if (frame->hd.type == NGHTTP2_DATA && frame->hd.length > 0) r.data_sent();
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
      r.end_stream_sent(frame->hd.stream_id);
    return 0;
  }
  // nghttp2 closes only streams whose request HEADERS failed; a response
  // HEADERS that could not go out is the receiver's to handle.
  template <class R>
  static int on_frame_not_send(nghttp2_session* s, const nghttp2_frame* frame, int error, void* user_data) {
    if (frame->hd.type == NGHTTP2_HEADERS && nghttp2_session_find_stream(s, frame->hd.stream_id))
      static_cast<R*>(user_data)->response_headers_failed(frame->hd.stream_id, error);
    return 0;
  }
  template <class R>
  static int on_invalid_frame_recv(nghttp2_session*, const nghttp2_frame* frame, int, void* user_data) {
    R& r = *static_cast<R*>(user_data);
    if (frame->hd.type == NGHTTP2_HEADERS) r.header_block_done();
    if (frame->hd.stream_id != 0) r.invalid_frame(frame->hd.stream_id);
    return 0;
  }
  template <class R>
  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user_data) {
    static_cast<R*>(user_data)->stream_closed(id);
    return 0;
  }

  session_memory memory_;  // (declared first: outlives the session it serves)
  nghttp2_session* s_ = nullptr;
  inbound_frame_scanner frames_;
  void* receiver_ = nullptr;
  void (*data_frame_begins_)(void*, std::int32_t) = nullptr;
};

}  // namespace fastrt::http2
