// stream.hpp — one HTTP/2 stream as a connection keeps it: the request being
// collected, where its answer stands, and who (if anyone) is resetting it.
//
// Its life is `stream_phase`; the transitions (made through stream_table,
// which counts the streams being answered):
//
//   receiving ──header list over the limit──▶ receiving_oversized
//   receiving ──END_STREAM──▶ handling ──handler answered──▶ answering
//   receiving ──header block done, streamed route──▶ handling   (the body keeps arriving: `body`)
//   receiving, receiving_oversized ──early answer (408, 413, 431)──▶ answering
//   handling ──reset while the handler ran──▶ abandoned   (no answer goes out)
//   answering ──END_STREAM sent──▶ answered
//   any ──nghttp2 closed the stream──▶ (removed from the table)
//
// `reset` is orthogonal: once set, no handler starts and no answer goes out
// (only the 408 of --body-timeout, which asks for RST_STREAM after it).
// A streamed response body's pieces are fetched one ahead (`piece_state`).
// A streamed request body (router.hpp's request_body::streamed) goes to
// `body`, the reader its handler holds; freeing the stream detaches it (a
// reader still waiting fails).
//
// Coroutines that outlive a callback hold a `stream_key`, never a `stream&`:
// the stream may be closed and freed while they wait, so they look it up
// again (stream_table::find) after every co_await.
//
// Thread-safety: the connection's io thread only. Cost: two allocations per
// stream (the stream, its request: plus the request's strings and a stop
// state for its handler).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>

#include <fastrt/http2/request.hpp>
#include <fastrt/http2/request_body.hpp>
#include <fastrt/http2/response.hpp>
#include <fastrt/http2/response_rules.hpp>
#include <fastrt/http2/router.hpp>

namespace fastrt::http2 {

enum class stream_phase : std::uint8_t {
  receiving,            // request header fields and body arriving
  receiving_oversized,  // header list over the limit: fields dropped, 431 when the block ends
  handling,             // complete; its handler runs
  answering,            // response submitted; going out as the flow-control windows allow
  answered,             // END_STREAM sent
  abandoned,            // reset while its handler ran: nothing goes out
};

// Who is resetting a stream (its RST_STREAM queued or about to be).
enum class stream_reset : std::uint8_t {
  none,
  provoked,      // nghttp2 found a stream error in the client's frames: counts against the reset limit
  ours,          // our decision (budget, a failed body, a timeout): does not count
  after_answer,  // --body-timeout: RST_STREAM(NO_ERROR) once the 408 is out
};

// A streamed response body (response::stream), one piece ahead.
enum class piece_state : std::uint8_t {
  ready,     // `piece` holds bytes to send (or none yet before the first fetch)
  fetching,  // the next piece is on its way; the data provider answered DEFERRED
  last,      // the body ended: once `piece` is sent, END_STREAM
};

// Names a stream across a co_await (see the top of this file).
struct stream_key {
  std::int32_t id;
};

struct stream {
  using clock = std::chrono::steady_clock;

  stream() = default;
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream() {
    if (body) body->detach();
  }

  std::int32_t id = 0;
  stream_phase phase = stream_phase::receiving;
  stream_reset reset = stream_reset::none;
  bool head_request = false;  // HEAD: the answer's header fields only
  // Collected while the request arrives; at dispatch it moves (the pointer,
  // not the request) to dispatched_req, so `req` is null from then on and
  // the request is never written again (a handler may read it on another
  // thread).
  std::shared_ptr<request> req = std::make_shared<request>();
  std::shared_ptr<const request> dispatched_req;  // from dispatch on (the handler and the access log share it)
  const router::target* route = nullptr;  // looked up when a body follows the header block (else at dispatch)
  std::shared_ptr<body_reader> body;      // a streamed route's request body, while it arrives
  std::uint64_t body_received = 0;        // request body bytes received (--max-body-size)
  std::size_t header_bytes = 0;       // RFC 9113 §6.5.2's accounting of the request's fields
  std::size_t charged_request = 0;    // request body bytes charged to the connection's budget
  std::size_t charged_response = 0;   // response body (or current piece) bytes charged
  clock::time_point body_progress{};  // the last request DATA while a body is expected (else unset)
  clock::time_point started{};        // set when an access record is wanted
  // Stopped when the stream is reset or closed, or the connection is cut:
  // its handler and everything it awaits see it.
  std::stop_source cancel;
  // The response, pulled by nghttp2.
  response resp;
  std::size_t offset = 0;  // into resp.body, or into `piece` for a streamed body
  std::string piece;
  piece_state pieces = piece_state::ready;
  std::uint64_t bytes_sent = 0;
  std::uint64_t declared_length = unknown_length;  // a streamed body must match its content-length
  // The table's intrusive list.
  stream* prev = nullptr;
  stream* next = nullptr;

  stream_key key() const noexcept { return {id}; }
  // The request is complete (or was answered early, or its handler started
  // on a streamed route): DATA arriving goes to `body` or is discarded.
  bool dispatched() const noexcept {
    return phase != stream_phase::receiving && phase != stream_phase::receiving_oversized;
  }
  // DATA arriving goes to a streamed route's handler.
  bool body_streaming() const noexcept { return body && body->state() == body_reader_state::open; }
  // Its answer went (or is going) out: an access record is due.
  bool answer_submitted() const noexcept {
    return phase == stream_phase::answering || phase == stream_phase::answered;
  }
  // Being answered: holds the connection open (not idle).
  bool busy() const noexcept { return phase == stream_phase::handling || phase == stream_phase::answering; }
  // Answer bytes are ready and only the client's windows hold them back
  // (--send-timeout applies). A 408 whose RST_STREAM waits for it counts:
  // a shut window must not keep it — and the connection — busy forever.
  bool waiting_for_window() const noexcept {
    const bool answer_going_out = reset == stream_reset::none || reset == stream_reset::after_answer;
    return phase == stream_phase::answering && pieces != piece_state::fetching && answer_going_out;
  }
};

}  // namespace fastrt::http2
