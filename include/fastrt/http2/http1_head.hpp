// http1_head.hpp — the HTTP/1.1 side of the server: reading the head of
// an HTTP/1.x request that arrived instead of the HTTP/2 preface, and the
// answers to it. Pure parsing, no I/O; thread-safe (no shared state); cost
// O(head size) per call.
//
// What the first bytes of a connection can be (read_head; empty lines before
// the request line are skipped, RFC 9112 §2.2):
// - not an HTTP/1.x request line (`method SP target SP HTTP/1.x CRLF`, e.g.
//   "INVALID CONNECTION PREFACE" or TLS): the connection is closed without a
//   byte written (RFC 9113 §3.4: an invalid preface is a connection error);
// - an HTTP/1.x request whose head breaks RFC 9110/9112 (a method that is not
//   a token, a target with a space or control character, a field name that is
//   not a token or whitespace before the colon, a field value with CR, LF,
//   NUL or another control character, obs-fold, a bare LF or CR, a missing or
//   repeated Host, a Content-Length that is not one decimal number — the same
//   value repeated is accepted, RFC 9110 §8.6) gets 400;
// - a well-formed request that is not an h2c upgrade (RFC 9113 §3.2: `Upgrade:
//   h2c`, exactly one `HTTP2-Settings`, `Connection: Upgrade, HTTP2-Settings`)
//   gets 426; an upgrade with Transfer-Encoding, a repeated HTTP2-Settings or
//   one that is not base64url of whole 6-byte settings gets 400;
// - an h2c upgrade: its request becomes stream 1 (the caller checks the
//   settings with nghttp2 before answering 101).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "field_rules.hpp"
#include "request.hpp"

namespace fastrt::http2::http1 {

// A head (request line and fields) longer than this gets 431.
inline constexpr std::size_t max_head_size = 8192;

struct upgrade_request {
  request req;
  std::string settings;            // the decoded HTTP2-Settings payload
  std::size_t content_length = 0;  // the body that follows the head (stream 1's request body)
};

enum class head_verdict {
  incomplete,   // more bytes are needed to tell
  not_http1,    // not an HTTP/1.x request line: close without answering
  too_large,    // an HTTP/1.x head over max_head_size: 431
  malformed,    // an HTTP/1.x head breaking RFC 9110/9112: 400 (`problem` says why)
  not_upgrade,  // a well-formed HTTP/1.x request, not an h2c upgrade: 426
  upgrade,      // an h2c upgrade (`upgrade`, `size`)
};

struct head {
  head_verdict verdict = head_verdict::incomplete;
  std::string_view problem;  // static text, for `malformed`
  std::size_t size = 0;      // bytes of the head, blank line included
  upgrade_request upgrade;
};

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}
inline std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}
// Whether a comma-separated field value holds `token` (case-insensitive).
inline bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (lower(trim(value.substr(0, comma))) == token) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// base64url (RFC 4648 §5) as HTTP2-Settings carries it: no padding, though
// trailing '=' is tolerated; nullopt for anything else.
inline std::optional<std::string> base64url_decode(std::string_view text) {
  while (text.ends_with('=')) text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

inline bool is_http1_version(std::string_view v) noexcept {
  return v.size() == 8 && v.starts_with("HTTP/1.") && v[7] >= '0' && v[7] <= '9';
}

namespace detail {

inline head verdict(head_verdict v, std::string_view problem = {}) {
  head h;
  h.verdict = v;
  h.problem = problem;
  return h;
}

// The offset just past the empty line that ends a head whose request line
// ends at `line_end` (its LF), or npos. A bare-LF blank line counts too, so
// that read_head can refuse it instead of waiting.
inline std::size_t head_end(std::string_view in, std::size_t line_end) noexcept {
  for (std::size_t lf = line_end; lf != std::string_view::npos; lf = in.find('\n', lf + 1)) {
    if (lf + 1 < in.size() && in[lf + 1] == '\n') return lf + 2;
    if (lf + 2 < in.size() && in[lf + 1] == '\r' && in[lf + 2] == '\n') return lf + 3;
  }
  return std::string_view::npos;
}

// The head of `in`, a request line first.
inline head read_request(std::string_view in) {
  using detail::verdict;
  if (in.empty()) return verdict(head_verdict::incomplete);
  // A request line starts with a method (a token): binary input, TLS and
  // the like are told apart at once.
  if (!fields::is_tchar(static_cast<unsigned char>(in.front()))) return verdict(head_verdict::not_http1);
  const std::size_t line_end = in.find('\n');
  if (line_end == std::string_view::npos) {
    return verdict(in.size() >= max_head_size ? head_verdict::not_http1 : head_verdict::incomplete);
  }
  std::string_view line = in.substr(0, line_end);
  const bool crlf = line.ends_with('\r');
  if (crlf) line.remove_suffix(1);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || !is_http1_version(line.substr(sp2 + 1)))
    return verdict(head_verdict::not_http1);

  // An HTTP/1.x request: from here on, a mistake gets 400.
  if (line_end + 1 > max_head_size) return verdict(head_verdict::too_large);
  if (!crlf) return verdict(head_verdict::malformed, "the request line ends with a bare LF");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!fields::is_token(method)) return verdict(head_verdict::malformed, "the method is not a token");
  if (!fields::is_request_target(target))
    return verdict(head_verdict::malformed, "the request target has a space or a control character");
  const std::size_t end = detail::head_end(in, line_end);
  if (end == std::string_view::npos) {
    return verdict(in.size() >= max_head_size ? head_verdict::too_large : head_verdict::incomplete);
  }
  if (end > max_head_size) return verdict(head_verdict::too_large);

  head h;
  upgrade_request& u = h.upgrade;
  u.req.method = method;
  add_field(u.req, ":path", target);
  bool upgrade_h2c = false, connection_upgrade = false, connection_settings = false, transfer_encoding = false;
  int hosts = 0, settings_fields = 0, lengths = 0;
  std::string_view settings_value;
  std::string_view lines = in.substr(line_end + 1, end - line_end - 1);  // each ends in LF
  for (;;) {
    const auto lf = lines.find('\n');
    std::string_view field = lines.substr(0, lf);
    lines.remove_prefix(lf + 1);
    if (!field.ends_with('\r')) return verdict(head_verdict::malformed, "a header line ends with a bare LF");
    field.remove_suffix(1);
    if (field.empty()) break;  // the blank line
    if (field.front() == ' ' || field.front() == '\t')
      return verdict(head_verdict::malformed, "obs-fold (a header line starting with whitespace) is not accepted");
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return verdict(head_verdict::malformed, "a header line has no colon");
    if (!fields::is_token(field.substr(0, colon)))
      return verdict(head_verdict::malformed, "a header name is not a token (or has whitespace before the colon)");
    const std::string_view value = trim(field.substr(colon + 1));
    if (const char* problem = fields::value_problem(value)) return verdict(head_verdict::malformed, problem);
    const std::string name = lower(field.substr(0, colon));
    if (name == "host") {
      if (++hosts > 1) return verdict(head_verdict::malformed, "more than one Host field");
      u.req.authority = value;
    } else if (name == "content-length") {
      const auto length = fields::content_length(value);
      if (!length) return verdict(head_verdict::malformed, "Content-Length is not a decimal number");
      if (lengths++ > 0 && *length != u.content_length)
        return verdict(head_verdict::malformed, "two different Content-Length values");
      u.content_length = static_cast<std::size_t>(*length);
    } else if (name == "transfer-encoding") {
      transfer_encoding = true;
    } else if (name == "upgrade") {
      upgrade_h2c = upgrade_h2c || has_token(value, "h2c");
    } else if (name == "connection") {
      connection_upgrade = connection_upgrade || has_token(value, "upgrade");
      connection_settings = connection_settings || has_token(value, "http2-settings");
    } else if (name == "http2-settings") {
      ++settings_fields;
      settings_value = value;
    } else if (name != "keep-alive" && name != "proxy-connection" && name != "te") {
      add_field(u.req, name, value);
    }
  }
  if (version == "HTTP/1.1" && hosts == 0) return verdict(head_verdict::malformed, "an HTTP/1.1 request without Host");
  // Only an origin-form HTTP/1.1 request asking for h2c is upgraded.
  if (!upgrade_h2c || !connection_upgrade || !connection_settings || settings_fields == 0 ||
      version != "HTTP/1.1" || !target.starts_with('/'))
    return verdict(head_verdict::not_upgrade);
  if (settings_fields > 1) return verdict(head_verdict::malformed, "more than one HTTP2-Settings field");
  if (transfer_encoding)
    return verdict(head_verdict::malformed, "Transfer-Encoding is not accepted in an h2c upgrade request");
  auto settings = base64url_decode(settings_value);
  if (!settings) return verdict(head_verdict::malformed, "HTTP2-Settings is not base64url");
  if (settings->size() % 6 != 0)
    return verdict(head_verdict::malformed, "HTTP2-Settings is not a whole number of settings (6 bytes each)");
  u.settings = std::move(*settings);
  h.verdict = head_verdict::upgrade;
  h.size = end;
  return h;
}

}  // namespace detail

// What the bytes received so far on a connection are (see the top of the
// file). `in` starts at the connection's first byte. Empty lines before the
// request line are skipped (RFC 9112 §2.2).
inline head read_head(std::string_view in) {
  std::size_t skipped = 0;
  while (skipped < max_head_size && in.substr(skipped).starts_with("\r\n")) skipped += 2;
  if (in.substr(skipped) == "\r") return detail::verdict(head_verdict::incomplete);
  head h = detail::read_request(in.substr(skipped));
  if (h.verdict == head_verdict::upgrade) h.size += skipped;
  return h;
}

// A complete HTTP/1.1 answer that closes the connection. `status_line`:
// e.g. "400 Bad Request".
inline std::string closing_response(std::string_view status_line, std::string_view body) {
  std::string out = "HTTP/1.1 ";
  out += status_line;
  out += "\r\n";
  if (status_line.starts_with("426")) out += "Upgrade: h2c\r\nConnection: Upgrade, close\r\n";  // RFC 9110 §15.5.22
  else out += "Connection: close\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
  return out;
}

// The answer to an HTTP/1.x request that is not an h2c upgrade.
inline std::string upgrade_required_response() {
  return closing_response("426 Upgrade Required",
                          "This server speaks HTTP/2 only: use h2c with prior knowledge (curl --http2-prior-knowledge) "
                          "or an h2c upgrade (curl --http2).\n");
}

// The answer to a malformed head: the reason goes to the client.
inline std::string bad_request_response(std::string_view problem) {
  std::string body(problem);
  body += '\n';
  return closing_response("400 Bad Request", body);
}

inline constexpr std::string_view switching_protocols =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

}  // namespace fastrt::http2::http1
