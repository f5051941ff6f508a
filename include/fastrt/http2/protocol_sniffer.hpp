// protocol_sniffer.hpp — what a new connection's first bytes ask for: the
// HTTP/2 client preface, an h2c upgrade from HTTP/1.1, another HTTP/1.x
// request, or nothing HTTP at all. I/O-free: the connection feeds what it
// reads and acts on the verdict.
//
//   http2             "PRI " (RFC 9113 §3.4: only the preface starts so; nghttp2
//                     checks the rest and answers a bad one with GOAWAY). The
//                     bytes held so far go to the HTTP/2 session.
//   upgrade           an h2c upgrade whose settings nghttp2 accepts, with its
//                     whole body: the connection answers 101, the request
//                     becomes stream 1, and `rest` (the preface may follow the
//                     head at once) goes to the session.
//   http1             a well-formed HTTP/1.x request that is not an h2c
//                     upgrade: the connection goes to the HTTP/1.1 codec
//                     (http1_connection.hpp) with every byte held so far.
//   answer_and_close  a malformed head (400), a request line over 8 KiB (414),
//                     a head over 8 KiB (431), a transfer coding other than
//                     chunked (501), an upgrade body over max_body_size (413),
//                     or settings nghttp2 would refuse (400).
//   not_http          no HTTP/1.x request line: close without a byte (§3.4).
//   incomplete        more bytes are needed to tell.
//
// Thread-safety: one connection's. Cost: the head (and an upgrade's body) is
// held until the verdict, at most 8 KiB + max_body_size; none for a client
// that starts with the preface in its first read.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <fastrt/http2/http1_head.hpp>
#include <fastrt/http2/session.hpp>

namespace fastrt::http2 {

enum class sniff_verdict : std::uint8_t { incomplete, http2, upgrade, http1, answer_and_close, not_http };

struct sniff_outcome {
  sniff_verdict verdict = sniff_verdict::incomplete;
  std::string_view http2_bytes;  // http2, upgrade: what the HTTP/2 session reads first; http1: every byte
                                 // read so far, for the HTTP/1.1 codec (valid until the next feed or release)
  std::string answer;            // answer_and_close: the whole HTTP/1.1 answer
  http1::upgrade_request upgrade;  // upgrade: stream 1's request (body included) and the decoded settings
};

class protocol_sniffer {
 public:
  static constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

  explicit protocol_sniffer(std::size_t max_body_size) noexcept : max_body_size_(max_body_size) {}

  sniff_outcome feed(std::string_view data) {
    const std::string_view pri = preface.substr(0, 4);
    if (held_.empty() && data.starts_with(pri)) return http2(data);  // the usual case: nothing copied
    held_.append(data);
    if (held_.starts_with(pri)) return http2(held_);  // the preface came in pieces shorter than "PRI "
    if (pri.starts_with(held_)) return {};
    http1::head head = http1::read_head(held_);
    switch (head.verdict) {
      case http1::head_verdict::incomplete:
        return {};
      case http1::head_verdict::not_http1:
        return verdict(sniff_verdict::not_http);
      case http1::head_verdict::line_too_long:
      case http1::head_verdict::too_large:
      case http1::head_verdict::malformed:
      case http1::head_verdict::unsupported_coding:
        return close_with(http1::refusal_response(head));
      case http1::head_verdict::request:  // (read_head answers not_upgrade or upgrade instead)
      case http1::head_verdict::not_upgrade:
        return verdict(sniff_verdict::http1, held_);
      case http1::head_verdict::upgrade:
        break;
    }
    http1::upgrade_request& upgrade = head.upgrade;
    if (upgrade.content_length > max_body_size_)
      return close_with(http1::closing_response("413 Content Too Large", "request body larger than --max-body-size\n"));
    const std::size_t total = head.size + upgrade.content_length;
    if (held_.size() < total) return {};  // the body is still arriving
    // Promise HTTP/2 (101) only with settings nghttp2 takes: it would
    // otherwise fail the upgrade, or accept it and end the session with a
    // GOAWAY right after the 101.
    if (const char* problem = session::upgrade_settings_problem(upgrade.settings))
      return close_with(http1::bad_request_response(problem));
    upgrade.req.body = held_.substr(head.size, upgrade.content_length);
    held_.erase(0, total);
    sniff_outcome out = verdict(sniff_verdict::upgrade, held_);
    out.upgrade = std::move(upgrade);
    return out;
  }

  // Bytes held while the verdict is incomplete (an HTTP/1.1 head half read).
  bool holding() const noexcept { return !held_.empty(); }
  // After the verdict's bytes were used: frees what was held.
  void release() noexcept { std::string().swap(held_); }

 private:
  static sniff_outcome verdict(sniff_verdict v, std::string_view http2_bytes = {}) {
    sniff_outcome out;
    out.verdict = v;
    out.http2_bytes = http2_bytes;
    return out;
  }
  static sniff_outcome http2(std::string_view bytes) { return verdict(sniff_verdict::http2, bytes); }
  static sniff_outcome close_with(std::string answer) {
    sniff_outcome out = verdict(sniff_verdict::answer_and_close);
    out.answer = std::move(answer);
    return out;
  }

  std::size_t max_body_size_;
  std::string held_;
};

}  // namespace fastrt::http2
