// request.hpp — the request a handler sees: method, path and query, authority,
// the regular header fields in arrival order (names lower-case) and the body
// (whole, or on a streamed route a reader of its pieces: request_body.hpp),
// the HTTP version it came in (1.0, 1.1 or 2), and the connection it came on (scheme, client and server endpoints:
// connection_info.hpp), all plain owned strings, so a request can cross
// threads and interpreters as it is.
//
// Thread-safety: a plain value (no shared state but a streamed body's reader,
// which a copy shares; a copy does not share who holds the original). Cost: add_field copies the field into the request
// (the first regular field reserves room for eight); cookie crumbs are
// joined in place. The connection stamps scheme and endpoints once per
// request (two short-string copies).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fastrt/http2/connection_info.hpp>

namespace fastrt::http2 {

using header_list = std::vector<std::pair<std::string, std::string>>;

// The protocol a request arrived in (an h2c upgrade's request, answered on
// stream 1, counts as HTTP/2).
enum class protocol_version : std::uint8_t { http1_0, http1_1, http2 };

// "1.0", "1.1" or "2": the spelling ASGI's scope["http_version"] uses.
constexpr std::string_view version_text(protocol_version v) noexcept {
  switch (v) {
    case protocol_version::http1_0: return "1.0";
    case protocol_version::http1_1: return "1.1";
    case protocol_version::http2: break;
  }
  return "2";
}
class body_reader;  // request_body.hpp

// The server holds each request by a shared_ptr (connection.hpp): a
// handler whose work outlives its call (a job on a Python worker) keeps it
// with weak_from_this().lock() instead of copying it; that is null for a
// request not held so (then copy).
struct request : std::enable_shared_from_this<request> {
  request() = default;  // (not an aggregate: `request{}` value-initializes, the base's constructor is protected)

  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', empty when there is none
  std::string authority;
  header_list headers;  // regular fields, in order; names lower-case
  protocol_version http_version = protocol_version::http2;
  std::string body;  // whole, on a buffered route (router.hpp); empty on a streamed one
  // A streamed route's body, read piece by piece (request_body.hpp), when
  // it was still to come as the handler started; else null (the body is
  // whole in `body`). Shared: a copy of the request reads the same body.
  std::shared_ptr<body_reader> body_pieces;
  // From the connection (connection_info.hpp): empty hosts and port 0 when
  // it has no address (a socketpair) or for a request made by hand.
  std::string_view scheme = "http";  // static text
  endpoint client;
  endpoint server;
};

// Stamps what the connection knows onto a request it received.
inline void set_connection(request& r, const connection_info& info) {
  r.scheme = info.scheme;
  r.client = info.client;
  r.server = info.server;
}

// Adds one request field as it arrives (names lower-case): pseudo-header
// fields fill method, path, query and authority (:scheme is not kept);
// cookie crumbs are joined with "; " into one field (RFC 9113 §8.2.3).
inline void add_field(request& r, std::string_view name, std::string_view value) {
  if (name.starts_with(':')) {
    // Told apart by length first: nghttp2 has checked the pseudo-header
    // names already, this runs for every request.
    if (name.size() == 7 && name == ":method") {
      r.method = value;
    } else if (name.size() == 5 && name == ":path") {
      const auto q = value.find('?');
      r.path = value.substr(0, q);
      r.query = q == std::string_view::npos ? std::string_view() : value.substr(q + 1);
    } else if (name.size() == 10 && name == ":authority") {
      r.authority = value;
    }  // else :scheme
  } else if (r.headers.empty()) {
    r.headers.reserve(8);  // one allocation for a typical request instead of four doublings
    r.headers.emplace_back(name, value);
  } else if (name == "cookie") {
    auto it = std::find_if(r.headers.begin(), r.headers.end(), [](const auto& h) { return h.first == "cookie"; });
    if (it == r.headers.end()) r.headers.emplace_back(name, value);
    else (it->second += "; ") += value;
  } else {
    r.headers.emplace_back(name, value);
  }
}

}  // namespace fastrt::http2
