// response.hpp — what a handler answers: a status, header fields and either
// a whole body or a body_stream the server pulls piece by piece under the
// client's flow control. response_rules.hpp says what a response must satisfy
// before it goes out.
//
// Thread-safety: a plain value; a body_stream is called on the connection's
// io thread only, one piece at a time. Cost: a body_stream holds one piece in
// memory, whatever the body's size.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "../result.hpp"
#include "../task.hpp"
#include "request.hpp"

namespace fastrt::http2 {

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

inline response text_response(int status, std::string body) {
  response r{status, {}, std::move(body), {}};
  // Emplaced: an initializer list would build the field once more and copy it.
  r.headers.reserve(1);
  r.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  return r;
}

}  // namespace fastrt::http2
