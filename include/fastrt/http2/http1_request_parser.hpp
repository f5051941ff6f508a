// http1_request_parser.hpp — the requests on an HTTP/1.1 connection, one
// after another (pipelining), out of the bytes the client sent: the head
// (http1_head.hpp), then the body in its framing (http1_body.hpp). I/O-free:
// the connection keeps the unread bytes, calls parse() whenever more arrive,
// and drops the `consumed` bytes each call reports; the next request starts
// right after them.
//
//   need_more      everything given was used or is held for later: read more
//   head_ready     the head is complete: head() says the request, its framing,
//                  keep-alive and 100-continue (answer it, or refuse the body,
//                  before calling parse() again for the body)
//   request_ready  the body too: take() the request; the parser starts over
//   failed         a refusal: error_status (400, 413, 414, 431, 501) and the
//                  reason; the connection answers it and closes, since the
//                  framing of what follows is lost
//
// Thread-safety: one connection's. Cost: the request being read (its head
// fields and body) and a few words; each byte is looked at a bounded number
// of times however the input is split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "http1_body.hpp"
#include "http1_head.hpp"

namespace fastrt::http2::http1 {

enum class parse_status : std::uint8_t { need_more, head_ready, request_ready, failed };

struct parse_result {
  parse_status status = parse_status::need_more;
  std::size_t consumed = 0;  // bytes of the input this call used
  int error_status = 0;      // failed
  std::string_view problem;  // failed: static text (why)
};

class request_parser {
 public:
  request_parser(head_limits heads = {}, body_limits bodies = {}) noexcept : heads_(heads), bodies_(bodies) {}

  parse_result parse(std::string_view in) {
    if (phase_ == phase::failed) return failure(0, error_status_, problem_);
    if (phase_ == phase::head) return parse_head(in);
    const body_progress p = body_->read(in, head_.req.body);
    if (p.status == body_status::failed) return failure(p.consumed, p.error_status, p.problem);
    parse_result r;
    r.consumed = p.consumed;
    if (p.status == body_status::done) {
      phase_ = phase::complete;
      r.status = parse_status::request_ready;
    }
    return r;
  }

  // The request whose head was read (valid from head_ready until take()).
  const request_head& head() const noexcept { return head_; }
  request_head& head() noexcept { return head_; }

  // After request_ready: the request (body included); the parser then
  // waits for the next one.
  request_head take() {
    request_head out = std::move(head_);
    head_ = request_head{};
    body_.reset();
    reader_.reset();
    phase_ = phase::head;
    return out;
  }

  // Whether some of a request was read (a head begun and not finished, or a
  // head whose body is due): the connection's header and body timeouts.
  bool between_requests() const noexcept { return phase_ == phase::head && !reading_head_; }

 private:
  enum class phase : std::uint8_t { head, body, complete, failed };

  parse_result parse_head(std::string_view in) {
    reading_head_ = !in.empty();
    http1::head h = reader_.read(in);
    switch (h.verdict) {
      case head_verdict::incomplete:
        return {};
      case head_verdict::request:
      case head_verdict::not_upgrade:
      case head_verdict::upgrade:
        break;
      case head_verdict::not_http1:
      case head_verdict::line_too_long:
      case head_verdict::too_large:
      case head_verdict::malformed:
      case head_verdict::unsupported_coding:
        return failure(0, refusal_status(h.verdict),
                       h.verdict == head_verdict::not_http1 ? "not an HTTP/1.x request line" : h.problem);
    }
    head_ = std::move(h.parsed);
    head_.target = {};  // (a view into the caller's buffer, which it is about to drop)
    head_.settings = {};
    body_.emplace(head_.framing, head_.content_length, bodies_);
    phase_ = phase::body;
    reading_head_ = false;
    parse_result r;
    r.status = parse_status::head_ready;
    r.consumed = h.size;
    return r;
  }

  parse_result failure(std::size_t consumed, int status, std::string_view problem) noexcept {
    phase_ = phase::failed;
    error_status_ = status;
    problem_ = problem;
    parse_result r;
    r.status = parse_status::failed;
    r.consumed = consumed;
    r.error_status = status;
    r.problem = problem;
    return r;
  }

  head_limits heads_;
  body_limits bodies_;
  request_head_reader reader_{heads_};
  request_head head_;
  std::optional<body_reader> body_;
  phase phase_ = phase::head;
  bool reading_head_ = false;  // some bytes of the next head have arrived
  int error_status_ = 0;
  std::string_view problem_;
};

}  // namespace fastrt::http2::http1
