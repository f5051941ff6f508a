// http1_feed.hpp — drives fastrt::http2::http1::request_parser the way a
// connection does (a buffer that grows by `step` bytes per read, the consumed
// bytes dropped after each call) and describes what came out as one line per
// request, then how the input ended: the unit tests and the fuzzer compare
// these descriptions between splits of the same input.
#pragma once

#include <fastrt/http2/http1_request_parser.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace fastrt_test {

inline std::string describe(const fastrt::http2::http1::request_head& h) {
  using namespace fastrt::http2;
  std::string out = h.req.method + " " + h.req.path;
  if (!h.req.query.empty()) out += "?" + h.req.query;
  out += " HTTP/";
  out += version_text(h.req.http_version);
  out += " host=" + h.req.authority;
  for (const auto& [name, value] : h.req.headers) out += " " + name + "=" + value;
  out += keeps_alive(h) ? " keep-alive" : " close";
  if (wants_continue(h)) out += " continue";
  if (h.expect == http1::expectation::unsupported) out += " expect?";
  out += " body=" + h.req.body;
  return out;
}

// Every request of `input` fed `step` bytes at a time (0: all at once), and
// how it ended ("need more", or "failed <status> <why>").
inline std::string feed(std::string_view input, std::size_t step, fastrt::http2::http1::head_limits heads = {},
                        fastrt::http2::http1::body_limits bodies = {}) {
  using namespace fastrt::http2::http1;
  if (step == 0) step = std::max<std::size_t>(input.size(), 1);
  request_parser parser(heads, bodies);
  std::string buffer, out;
  for (std::size_t given = 0;;) {
    for (;;) {
      const parse_result r = parser.parse(buffer);
      if (r.consumed > buffer.size()) return out + "BUG: consumed past the input\n";
      buffer.erase(0, r.consumed);
      if (r.status == parse_status::need_more) break;
      if (r.status == parse_status::failed) {
        out += "failed " + std::to_string(r.error_status) + " " + std::string(r.problem) + "\n";
        return out;
      }
      if (r.status == parse_status::request_ready) out += describe(parser.take()) + "\n";
    }
    if (given == input.size()) break;
    const std::size_t n = std::min(step, input.size() - given);
    buffer.append(input.substr(given, n));
    given += n;
  }
  out += buffer.empty() ? "need more\n" : "need more (" + std::to_string(buffer.size()) + " held)\n";
  return out;
}

}  // namespace fastrt_test
