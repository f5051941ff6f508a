// field_rules.hpp — the RFC 9110 grammar the server holds header fields and
// request lines to: tokens (methods, field names), field values, decimal
// Content-Length values, and the escaping of request text written to the
// access log. Used by the HTTP/1.1 head reader (what a client sends)
// and by the response checks (what an app sends).
//
// Pure functions on bytes: no allocation except escape_for_log's output,
// thread-safe, O(length).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fastrt::http2::fields {

// tchar (RFC 9110 §5.6.2): what methods and field names are made of.
constexpr bool is_tchar(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

constexpr bool is_token(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The control characters: C0 and DEL.
constexpr bool is_ctl(unsigned char c) noexcept { return c < 0x20 || c == 0x7f; }

// A request-target (origin, absolute or authority form, or "*"): visible
// ASCII and obs-text, no space, no control character (RFC 9112 §3.2).
constexpr bool is_request_target(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (is_ctl(u) || u == ' ') return false;
  }
  return true;
}

// Why `value` is not a field value as received (surrounding whitespace
// already trimmed: RFC 9110 §5.5 — field-vchar, SP and HTAB), or null.
// obs-text (0x80-0xFF) is allowed, as RFC 9110 and nghttp2 do.
constexpr const char* value_problem(std::string_view value) noexcept {
  bool other_ctl = false;  // NUL, CR and LF have their own message: they split fields
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (!is_ctl(u) || u == '\t') continue;
    if (c == '\0' || c == '\r' || c == '\n') return "the header value contains NUL, CR or LF";
    other_ctl = true;
  }
  return other_ctl ? "the header value contains a control character" : nullptr;
}

// Why `value` may not be sent as a field value, or null: value_problem(),
// and no leading or trailing SP / HTAB (RFC 9110 §5.5; HTTP/2 peers reject
// such a value: RFC 9113 §8.2.1).
constexpr const char* sent_value_problem(std::string_view value) noexcept {
  if (const char* problem = value_problem(value)) return problem;
  if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' || value.back() == '\t'))
    return "the header value has leading or trailing whitespace";
  return nullptr;
}

// Why `name` may not be sent as an HTTP/2 field name, or null: a token in
// lower case (RFC 9113 §8.2.1; this also keeps out pseudo-header fields).
constexpr const char* sent_name_problem(std::string_view name) noexcept {
  if (name.empty()) return "the header name is empty";
  if (!is_token(name)) return "the header name has a character that is not allowed in a field name";
  for (const char c : name) {
    if (c >= 'A' && c <= 'Z') return "the header name is not lower-case";
  }
  return nullptr;
}

// The fields RFC 9113 §8.2.2 forbids in HTTP/2 (`name` lower-case).
constexpr bool is_connection_specific(std::string_view name) noexcept {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

// A Content-Length value: 1*DIGIT (RFC 9110 §8.6), at most 15 digits so
// that it fits any size this server handles; nullopt otherwise (a list such
// as "5, 5" included).
constexpr std::optional<std::uint64_t> content_length(std::string_view value) noexcept {
  if (value.empty() || value.size() > 15) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Appends `text` to `out` with the bytes that could forge or garble a log
// line escaped as \xHH: control characters, DEL, '"' and '\'.
inline void escape_for_log(std::string_view text, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (is_ctl(u) || c == '"' || c == '\\') {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
}

}  // namespace fastrt::http2::fields
