// http1_upgrade.hpp — the HTTP/1.1 side of fastrt-h2: recognising an h2c
// upgrade request (RFC 7540 §3.2: `Upgrade: h2c`, one `HTTP2-Settings`,
// `Connection: Upgrade, HTTP2-Settings`) and the 426 answer for any other
// HTTP/1.x request. Pure parsing, no I/O.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "request.hpp"

namespace fastrt_h2::http1 {

struct upgrade_request {
  request req;
  std::string settings;            // the decoded HTTP2-Settings payload
  std::size_t content_length = 0;  // the body that follows the head (stream 1's request body)
};

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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
inline std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-' || c == '+') v = 62;
    else if (c == '_' || c == '/') v = 63;
    else if (c == '=') break;
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

// The request of an h2c upgrade, if `head` (request line and fields, each
// ending in CRLF) is one this server accepts.
inline std::optional<upgrade_request> parse_upgrade(std::string_view head) {
  const auto line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1 || line.substr(sp2 + 1) != "HTTP/1.1") return std::nullopt;
  upgrade_request u;
  u.req.method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!target.starts_with('/')) return std::nullopt;
  add_field(u.req, ":path", target);
  bool upgrade_h2c = false, connection_ok = false;
  int settings_fields = 0;
  std::string_view rest = head.substr(line_end + 2);
  while (!rest.empty()) {
    const auto end = rest.find("\r\n");
    const std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end + 2);
    const auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string name = lower(field.substr(0, colon));
    const std::string_view value = trim(field.substr(colon + 1));
    if (name == "upgrade") upgrade_h2c = has_token(value, "h2c");
    else if (name == "connection") connection_ok = has_token(value, "upgrade") && has_token(value, "http2-settings");
    else if (name == "http2-settings") {
      ++settings_fields;
      auto decoded = base64url_decode(value);
      if (!decoded) return std::nullopt;
      u.settings = std::move(*decoded);
    } else if (name == "host") u.req.authority = value;
    else if (name == "content-length") {
      // One decimal length (a chunked body is not accepted for an upgrade).
      if (value.empty() || value.size() > 15 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
      u.content_length = std::stoull(std::string(value));
    } else if (name == "transfer-encoding") return std::nullopt;
    else if (name == "keep-alive" || name == "proxy-connection" || name == "te") continue;
    else add_field(u.req, name, value);
  }
  if (!upgrade_h2c || !connection_ok || settings_fields != 1) return std::nullopt;
  return u;
}

// A complete HTTP/1.1 answer that closes the connection. `status_line`:
// e.g. "426 Upgrade Required".
inline std::string closing_response(std::string_view status_line, std::string_view body) {
  std::string out = "HTTP/1.1 ";
  out += status_line;
  out += "\r\nUpgrade: h2c\r\nConnection: Upgrade, close\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Length: ";
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

inline constexpr std::string_view switching_protocols =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

}  // namespace fastrt_h2::http1
