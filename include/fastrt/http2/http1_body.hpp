// http1_body.hpp — reading an HTTP/1.1 request body after its head
// (http1_head.hpp gave the framing): Content-Length bytes, or a chunked body
// (RFC 9112 §7.1) decoded by a byte-level state machine. Strict where the
// request-smuggling defences need it, each mistake failing the body with the
// status to answer (the connection then closes: the framing is lost):
//   400  a chunk size that is not 1*HEXDIG or overflows 60 bits, whitespace
//        after the size not followed by ';', a chunk line (size and
//        extensions) over body_limits::chunk_line, a control character in an
//        extension, chunk data not followed by exactly CRLF, a bare CR or LF
//        anywhere, a trailer line that is not `token ":" value` (obs-fold
//        included);
//   413  a body over body_limits::body (a Content-Length over it at once,
//        before any byte is read: the caller can refuse before 100 Continue);
//   431  trailers over body_limits::trailers.
// Extensions and trailer fields are checked, then dropped.
//
// Thread-safety: one connection's. Cost: no allocation of its own; every
// body byte is appended once to the caller's string; a chunked body is
// looked at byte by byte only in its chunk lines and trailers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "field_rules.hpp"
#include "http1_head.hpp"

namespace fastrt::http2::http1 {

struct body_limits {
  std::uint64_t body = 1024 * 1024;  // the decoded body (server_config::max_body_size)
  std::size_t chunk_line = 4096;     // a chunk's size line, extensions included
  std::size_t trailers = 8192;       // the trailer section
};

enum class body_status : std::uint8_t { need_more, done, failed };

struct body_progress {
  body_status status = body_status::need_more;
  std::size_t consumed = 0;  // bytes of the input used (the next request starts after them once done)
  int error_status = 0;      // failed: 400, 413 or 431
  std::string_view problem;  // failed: static text
};

class body_reader {
 public:
  body_reader(body_framing framing, std::uint64_t content_length, const body_limits& limits) noexcept
      : limits_(limits), remaining_(content_length) {
    if (framing == body_framing::chunked) state_ = state::size;
    else if (framing == body_framing::none || content_length == 0) state_ = state::done;
    else state_ = content_length > limits.body ? state::too_large : state::length;
  }

  // Appends the body bytes at the front of `in` to `body`.
  body_progress read(std::string_view in, std::string& body) {
    std::size_t at = 0;
    while (at < in.size() && state_ != state::done && state_ != state::failed && state_ != state::too_large) {
      if (state_ == state::length || state_ == state::data) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - at));
        body.append(in.substr(at, n));
        at += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state_ == state::length ? state::done : state::data_cr;
        continue;
      }
      if (!step(static_cast<unsigned char>(in[at]))) return failure(at);
      ++at;
    }
    if (state_ == state::too_large) return failure(at);
    body_progress p;
    p.status = state_ == state::done ? body_status::done : body_status::need_more;
    p.consumed = at;
    return p;
  }

  bool done() const noexcept { return state_ == state::done; }

 private:
  enum class state : std::uint8_t {
    length,         // Content-Length bytes
    size,           // chunk-size hex digits
    size_space,     // whitespace after the size: only ';' may follow
    extension,      // chunk-ext, up to CR
    line_lf,        // the LF ending a chunk line
    data,           // chunk-data
    data_cr,        // the CRLF after chunk-data
    data_lf,
    trailer_start,  // a trailer line or the final CRLF
    trailer_name,
    trailer_value,
    trailer_lf,
    final_lf,
    done,
    too_large,  // 413
    failed,
  };

  static constexpr int hex_value(unsigned char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool fail(std::string_view problem, int status = 400) noexcept {
    problem_ = problem;
    error_status_ = status;
    state_ = state::failed;
    return false;
  }
  body_progress failure(std::size_t at) const noexcept {
    body_progress p;
    p.status = body_status::failed;
    p.consumed = at;
    p.error_status = state_ == state::too_large ? 413 : error_status_;
    p.problem = state_ == state::too_large ? std::string_view("the request body is larger than the server accepts")
                                           : problem_;
    return p;
  }
  bool count_line_byte() noexcept {
    return ++line_bytes_ <= limits_.chunk_line || fail("a chunk line (size and extensions) is too long");
  }
  bool count_trailer_byte() noexcept {
    return ++trailer_bytes_ <= limits_.trailers || fail("the trailers are larger than the server accepts", 431);
  }
  // The chunk line ended (its LF): the data, or the trailers after the last chunk.
  bool chunk_line_done() noexcept {
    if (digits_ == 0) return fail("a chunk line has no size");
    if (chunk_size_ == 0) {
      state_ = state::trailer_start;
      return true;
    }
    if (chunk_size_ > limits_.body - body_bytes_) {
      state_ = state::too_large;
      return true;
    }
    body_bytes_ += chunk_size_;
    remaining_ = chunk_size_;
    state_ = state::data;
    return true;
  }

  // One byte outside chunk data; false when the body failed.
  bool step(unsigned char c) noexcept {
    switch (state_) {
      case state::size:
        if (!count_line_byte()) return false;
        if (const int v = hex_value(c); v >= 0) {
          if (chunk_size_ > (std::uint64_t{1} << 56)) return fail("a chunk size overflows");
          chunk_size_ = chunk_size_ * 16 + static_cast<std::uint64_t>(v);
          ++digits_;
          return true;
        }
        if (digits_ == 0) return fail("a chunk size is not a hexadecimal number");
        if (c == ';') state_ = state::extension;
        else if (c == ' ' || c == '\t') state_ = state::size_space;
        else if (c == '\r') state_ = state::line_lf;
        else return fail("a chunk size is not a hexadecimal number");
        return true;
      case state::size_space:
        if (!count_line_byte()) return false;
        if (c == ';') state_ = state::extension;
        else if (c != ' ' && c != '\t') return fail("whitespace after a chunk size not followed by ';'");
        return true;
      case state::extension:
        if (!count_line_byte()) return false;
        if (c == '\r') state_ = state::line_lf;
        else if (fields::is_ctl(c) && c != '\t') return fail("a chunk extension has a control character");
        return true;
      case state::line_lf:
        if (c != '\n') return fail("a chunk line ends with a bare CR");
        return chunk_line_done();
      case state::data_cr:
        if (c != '\r') return fail("chunk data is not followed by CRLF");
        state_ = state::data_lf;
        return true;
      case state::data_lf:
        if (c != '\n') return fail("chunk data is not followed by CRLF");
        state_ = state::size;
        chunk_size_ = 0;
        digits_ = 0;
        line_bytes_ = 0;
        return true;
      case state::trailer_start:
        if (!count_trailer_byte()) return false;
        if (c == '\r') state_ = state::final_lf;
        else if (c == ' ' || c == '\t') return fail("obs-fold in the trailers is not accepted");
        else if (fields::is_tchar(c)) state_ = state::trailer_name;
        else return fail("a trailer field name is not a token");
        return true;
      case state::trailer_name:
        if (!count_trailer_byte()) return false;
        if (c == ':') state_ = state::trailer_value;
        else if (c == '\r' || c == '\n') return fail("a trailer line has no colon");
        else if (!fields::is_tchar(c)) return fail("a trailer field name is not a token");
        return true;
      case state::trailer_value:
        if (!count_trailer_byte()) return false;
        if (c == '\r') state_ = state::trailer_lf;
        else if (fields::is_ctl(c) && c != '\t') return fail("a trailer field value has a control character");
        return true;
      case state::trailer_lf:
        if (!count_trailer_byte()) return false;
        if (c != '\n') return fail("a trailer line ends with a bare CR");
        state_ = state::trailer_start;
        return true;
      case state::final_lf:
        if (c != '\n') return fail("the chunked body does not end with CRLF");
        state_ = state::done;
        return true;
      case state::length:
      case state::data:
      case state::done:
      case state::too_large:
      case state::failed:
        break;
    }
    return fail("internal: a byte in a state that takes none");
  }

  body_limits limits_;
  state state_ = state::done;
  std::uint64_t remaining_ = 0;   // of the Content-Length body, or of the current chunk
  std::uint64_t chunk_size_ = 0;  // the size line being read
  std::uint64_t body_bytes_ = 0;  // the chunks' sizes so far
  std::size_t digits_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  int error_status_ = 0;
  std::string_view problem_;
};

}  // namespace fastrt::http2::http1
