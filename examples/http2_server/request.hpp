// request.hpp — the plain-data request and response fastrt-h2 passes to
// handlers (C++ on the io thread, Python on the executor's workers).
#pragma once

#include <fastrt/result.hpp>
#include <fastrt/task.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastrt_h2 {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', empty when there is none
  std::string authority;
  header_list headers;  // regular fields, in order; names lower-case
  std::string body;
};

// A response body produced piece by piece: each call yields the next piece;
// an empty string ends the body, an error resets the stream. The server
// calls it (on the connection's io thread) only when the client's
// flow-control window has room for more, and keeps one piece at a time, so a
// body of any size costs one piece of memory.
using body_stream = std::function<fastrt::coro_task<fastrt::result<std::string>>()>;

struct response {
  int status = 200;
  header_list headers;
  std::string body;    // sent when `stream` is empty
  body_stream stream;  // otherwise: the body, pulled piece by piece
};

// Adds one request field as it arrives (names lower-case): pseudo-header
// fields fill method, path, query and authority (:scheme is not kept);
// cookie crumbs are joined with "; " into one field (RFC 9113 §8.2.3).
inline void add_field(request& r, std::string_view name, std::string_view value) {
  if (name == ":method") {
    r.method = value;
  } else if (name == ":path") {
    const auto q = value.find('?');
    r.path = value.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view() : value.substr(q + 1);
  } else if (name == ":authority") {
    r.authority = value;
  } else if (name.starts_with(':')) {
    // :scheme
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

inline response text_response(int status, std::string body) {
  return response{status, {{"content-type", "text/plain; charset=utf-8"}}, std::move(body), {}};
}

}  // namespace fastrt_h2
