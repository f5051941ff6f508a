// http1_response.hpp — writing a handler's response (response.hpp, already
// checked by response_rules.hpp) as HTTP/1.1 bytes: the status line with its
// reason phrase, the app's fields (the connection-specific ones dropped: the
// server frames the message), then the framing the server picks:
//   whole body               content-length (the app's, or the body's size),
//                            the body right after the head
//   streamed, with a length  the app's content-length; the pieces as they are
//   streamed, HTTP/1.1       transfer-encoding: chunked (write_chunk, write_last_chunk)
//   streamed, HTTP/1.0       no length: the body ends when the connection closes
//   204, 304                 no body, no length added
// A HEAD answer carries the fields a GET would and no body. `connection:
// close` when the connection closes after it (keep_alive false, or a
// close-delimited body), `connection: keep-alive` to an HTTP/1.0 client that
// keeps it; `date` and `server` unless the app gave them.
//
// Pure functions on a caller's buffer: thread-safe; cost O(head + body),
// one append per piece.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "field_rules.hpp"
#include "request.hpp"
#include "response.hpp"

namespace fastrt::http2::http1 {

// How the body after a head is delimited on the wire.
enum class response_framing : std::uint8_t { none, content_length, chunked, until_close };

struct response_context {
  protocol_version version = protocol_version::http1_1;  // the request's
  bool head_request = false;
  bool keep_alive = true;   // the request allows it (keeps_alive) and the server wants it
  std::string_view date;    // empty: no date field (http_date_now())
  std::string_view server;  // empty: no server field
};

struct response_plan {
  response_framing framing = response_framing::none;  // of the body bytes still to write (none: nothing follows)
  bool close = false;                                  // close the connection after the body
};

// The standard reason phrase of `status`, or empty (RFC 9112 §4: it may be).
constexpr std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return {};
  }
}

// The interim answer to `Expect: 100-continue` (wants_continue()).
inline constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";

namespace detail {
inline void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}
inline bool has_field(const header_list& headers, std::string_view name) noexcept {
  for (const auto& field : headers) {
    if (field.first == name) return true;
  }
  return false;
}
}  // namespace detail

// Appends the head of `r` (checked by check_response: field names
// lower-case, one right content-length) and a whole body to `out`; says how
// the rest (a streamed body) goes and whether the connection closes after it.
// A streamed body with a content-length must be exactly that long (the
// connection counts: check_response's declared_length).
inline response_plan write_response(const response& r, const response_context& ctx, std::string& out) {
  const bool no_body = r.status == 204 || r.status == 304;
  const bool streamed = static_cast<bool>(r.stream);
  const bool has_length = detail::has_field(r.headers, "content-length");  // (check_response: one value, the right one)
  response_framing framing = response_framing::content_length;
  if (no_body) framing = response_framing::none;
  else if (streamed && !has_length)
    framing = ctx.version == protocol_version::http1_0 ? response_framing::until_close : response_framing::chunked;

  response_plan plan;
  plan.framing = ctx.head_request ? response_framing::none : framing;
  plan.close = !ctx.keep_alive || plan.framing == response_framing::until_close;

  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\n";
  for (const auto& [name, value] : r.headers) {
    if (fields::is_connection_specific(name) || name.starts_with(':')) continue;
    detail::append_field(out, name, value);
  }
  if (framing == response_framing::content_length && !has_length)
    detail::append_field(out, "content-length", std::to_string(r.body.size()));
  else if (framing == response_framing::chunked)
    detail::append_field(out, "transfer-encoding", "chunked");
  if (!ctx.date.empty() && !detail::has_field(r.headers, "date")) detail::append_field(out, "date", ctx.date);
  if (!ctx.server.empty() && !detail::has_field(r.headers, "server")) detail::append_field(out, "server", ctx.server);
  if (plan.close) detail::append_field(out, "connection", "close");
  else if (ctx.version == protocol_version::http1_0) detail::append_field(out, "connection", "keep-alive");
  out += "\r\n";
  if (plan.framing == response_framing::content_length && !streamed) {
    out += r.body;
    plan.framing = response_framing::none;  // the body went with the head
  }
  return plan;
}

// One piece of a streamed body in `framing` (an empty piece writes nothing:
// in chunked framing it would end the body).
inline void write_piece(response_framing framing, std::string_view piece, std::string& out) {
  if (piece.empty() || framing == response_framing::none) return;
  if (framing != response_framing::chunked) {
    out += piece;
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  char size[16];
  std::size_t n = 0;
  for (std::size_t v = piece.size(); v != 0; v >>= 4) size[n++] = hex[v & 0xf];
  while (n > 0) out += size[--n];
  out += "\r\n";
  out += piece;
  out += "\r\n";
}

// The end of a streamed body: the last chunk in chunked framing (no trailers).
inline void write_body_end(response_framing framing, std::string& out) {
  if (framing == response_framing::chunked) out += "0\r\n\r\n";
}

}  // namespace fastrt::http2::http1
