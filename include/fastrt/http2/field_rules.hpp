// field_rules.hpp — the RFC 9110 grammar the server holds header fields and
// request lines to: tokens (methods, field names), field values, decimal
// Content-Length values, and the escaping of request text written to the
// access log. Used by the HTTP/1.1 head reader (what a client sends)
// and by the response checks (what an app sends).
//
// Pure functions on bytes: no allocation except escape_for_log's output,
// thread-safe, O(length).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fastrt::http2::fields {

// The character classes, one table look-up per byte (every response field
// name is checked: a search through the punctuation list per byte cost
// ~700 instructions per response).
enum class char_class : std::uint8_t {
  other,        // in a field value, not in a token
  tchar_upper,  // A-Z
  tchar_other,  // the rest of tchar
  ctl,          // C0 and DEL, HTAB aside
};
inline constexpr std::array<char_class, 256> char_classes = [] {
  std::array<char_class, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c >= 'A' && c <= 'Z') t[c] = char_class::tchar_upper;
    else if (alnum || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos)
      t[c] = char_class::tchar_other;
    else if ((c < 0x20 && c != '\t') || c == 0x7f) t[c] = char_class::ctl;
  }
  return t;
}();

// tchar (RFC 9110 §5.6.2): what methods and field names are made of.
constexpr bool is_tchar(unsigned char c) noexcept {
  return char_classes[c] == char_class::tchar_upper || char_classes[c] == char_class::tchar_other;
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
    if (char_classes[static_cast<unsigned char>(c)] != char_class::ctl) continue;
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
  bool upper = false;
  for (const char c : name) {
    const char_class k = char_classes[static_cast<unsigned char>(c)];
    if (k != char_class::tchar_upper && k != char_class::tchar_other)
      return "the header name has a character that is not allowed in a field name";
    upper = upper || k == char_class::tchar_upper;
  }
  return upper ? "the header name is not lower-case" : nullptr;
}

// Lower-cases `name` in place and says why the result may not be sent
// (sent_name_problem), or null: one pass over it.
inline const char* lower_case_sent_name(std::string& name) noexcept {
  if (name.empty()) return "the header name is empty";
  bool token = true;
  for (char& c : name) {
    const char_class k = char_classes[static_cast<unsigned char>(c)];
    if (k == char_class::tchar_upper) c = static_cast<char>(c - 'A' + 'a');
    token = token && (k == char_class::tchar_upper || k == char_class::tchar_other);
  }
  return token ? nullptr : "the header name has a character that is not allowed in a field name";
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
