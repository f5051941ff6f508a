// tests/support/http2_response.hpp — reading a fastrt::http2::response in
// tests: a header field's value, and a streamed body pulled piece by piece.
#pragma once

#include <fastrt/http2/response.hpp>
#include <fastrt/sync_wait.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastrt::test {

// The first value of field `name`, or "<none>".
inline std::string header(const fastrt::http2::response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<none>";
}

// A streamed body pulled until its end, an error or `limit` pieces.
struct pulled {
  std::vector<std::string> pieces;
  bool ended = false;
  std::optional<fastrt::error> failure;
};

inline pulled pull(const fastrt::http2::body_stream& stream, std::size_t limit = 100) {
  pulled out;
  while (out.pieces.size() < limit) {
    fastrt::result<std::string> piece = fastrt::sync_wait(stream());
    if (!piece) {
      out.failure = std::move(piece).error();
      break;
    }
    if (piece->empty()) {
      out.ended = true;
      break;
    }
    out.pieces.push_back(std::move(*piece));
  }
  return out;
}

}  // namespace fastrt::test
