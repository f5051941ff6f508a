// response_rules.hpp — what a response made by a handler (C++ or a Python
// app) must satisfy before it goes out as HTTP/2, so that a mistake
// becomes a 500 and a log line instead of a response the client resets or
// never gets: a status in 200..599; field names that are lower-case tokens
// (C++ names are lower-cased here, Python's already are); field values
// without control characters (HTAB aside) or surrounding whitespace (RFC
// 9110 §5.5, RFC 9113 §8.2.1); one decimal content-length that matches a
// plain body (RFC 9110 §8.6; a HEAD answer may state the GET length, a 204
// may say only 0); and a header list within the server's 64 KiB (nghttp2
// cannot send a larger header block at all) — the caller compares
// `header_bytes` with the client's SETTINGS_MAX_HEADER_LIST_SIZE.
//
// Pure functions: thread-safe; one pass over the header fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "field_rules.hpp"
#include "response.hpp"

namespace fastrt::http2 {

// The server's cap on a response's header list (RFC 9113 §6.5.2 accounting:
// name + value + 32 per field). Below nghttp2's default limit on a header
// block it sends (64 KiB, counted with less overhead per field).
inline constexpr std::size_t max_response_header_bytes = 64 * 1024;
inline constexpr std::uint64_t unknown_length = std::numeric_limits<std::uint64_t>::max();

struct response_verdict {
  std::string problem;                             // empty: the response may go out
  std::uint64_t declared_length = unknown_length;  // its content-length, when it has one
  std::size_t header_bytes = 0;                    // its header list, as RFC 9113 §6.5.2 counts
};

namespace detail {
inline response_verdict refused(std::string why) { return response_verdict{std::move(why), unknown_length, 0}; }
inline std::string about(std::string_view name, std::string_view problem) {
  std::string out = "header '";
  fields::escape_for_log(name, out);
  out += "': ";
  out += problem;
  return out;
}
}  // namespace detail

// Checks `r` (lower-casing its field names in place). `head_request`: the
// answer to a HEAD, whose content-length need not match its (unsent) body.
// The connection-specific fields (RFC 9113 §8.2.2) are not counted: the
// server drops them.
inline response_verdict check_response(response& r, bool head_request) {
  if (r.status < 200 || r.status > 599)
    return detail::refused("status " + std::to_string(r.status) + " is not in 200..599");
  response_verdict v;
  std::size_t bytes = 7 + 3 + 32;  // :status
  bool has_length = false;
  for (auto& [name, value] : r.headers) {
    const char* name_problem = fields::lower_case_sent_name(name);
    if (fields::is_connection_specific(name)) continue;
    if (name_problem) return detail::refused(detail::about(name, name_problem));
    if (const char* problem = fields::sent_value_problem(value)) return detail::refused(detail::about(name, problem));
    if (name == "content-length") {
      const auto length = fields::content_length(value);
      if (!length) return detail::refused(detail::about(name, "the value is not a decimal number"));
      if (has_length && *length != v.declared_length)
        return detail::refused(detail::about(name, "two different values"));
      has_length = true;
      v.declared_length = *length;
    }
    bytes += name.size() + value.size() + 32;
  }
  const bool no_body = r.status == 204 || r.status == 304;
  if (!has_length && !no_body && !r.stream) bytes += 14 + 20 + 32;  // the content-length the server adds
  if (bytes > max_response_header_bytes) {
    return detail::refused("the header fields take " + std::to_string(bytes) +
                           " bytes, more than the server sends (64 KiB)");
  }
  v.header_bytes = bytes;
  if (has_length && r.status == 204 && v.declared_length != 0)
    return detail::refused("header 'content-length': a 204 response may only say 0");
  if (has_length && !r.stream && !no_body && !head_request && v.declared_length != r.body.size()) {
    return detail::refused("header 'content-length': " + std::to_string(v.declared_length) +
                           " does not match the body's " + std::to_string(r.body.size()) + " bytes");
  }
  return v;
}

}  // namespace fastrt::http2
