// fastrt::http2 response rules (<fastrt/http2/response_rules.hpp>): what a
// handler's response must satisfy before it goes out as HTTP/2.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/response_rules.hpp>

#include <string>
#include <utility>

using fastrt::http2::check_response;
using fastrt::http2::response;

namespace {

fastrt::coro_task<fastrt::result<std::string>> no_piece() { co_return std::string(); }

response with_headers(fastrt::http2::header_list headers, std::string body = "abc") {
  return response{200, std::move(headers), std::move(body), {}};
}

}  // namespace

TEST_CASE("response rules: C++ responses") {
  response ok = with_headers({{"Content-Type", "text/plain"}, {"Content-Length", "3"}});
  CHECK(check_response(ok, false).problem.empty());
  CHECK(ok.headers[0].first == "content-type");  // lower-cased in place
  CHECK(check_response(ok, false).declared_length == 3);

  response mismatch = with_headers({{"content-length", "5"}});
  CHECK(check_response(mismatch, false).problem ==
        "header 'content-length': 5 does not match the body's 3 bytes");
  CHECK(check_response(mismatch, true).problem.empty());  // HEAD: the GET length

  response nan = with_headers({{"content-length", "3x"}});
  CHECK_FALSE(check_response(nan, false).problem.empty());
  response ws = with_headers({{"x-a", "v "}});
  CHECK(check_response(ws, false).problem == "header 'x-a': the header value has leading or trailing whitespace");
  response ctl = with_headers({{"x-a", "a\x01"}});
  CHECK_FALSE(check_response(ctl, false).problem.empty());
  response name = with_headers({{"x\ny", "1"}});
  CHECK(check_response(name, false).problem.starts_with("header 'x\\x0ay'"));
  response status = with_headers({});
  status.status = 99;
  CHECK_FALSE(check_response(status, false).problem.empty());
  response no_content{204, {{"content-length", "0"}}, {}, {}};
  CHECK(check_response(no_content, false).problem.empty());

  response big = with_headers({{"x-big", std::string(70000, 'a')}});
  CHECK_FALSE(check_response(big, false).problem.empty());
  response medium = with_headers({{"x-medium", std::string(2000, 'a')}});
  CHECK(check_response(medium, false).problem.empty());
  CHECK(check_response(medium, false).header_bytes == 7 + 3 + 32 + 8 + 2000 + 32 + 14 + 20 + 32);

  // Connection-specific fields are dropped by the server, not refused.
  response hop = with_headers({{"connection", "close"}});
  CHECK(check_response(hop, false).problem.empty());
}

TEST_CASE("response rules: a streamed body and the header list limit") {
  // A streamed body has no length to match; the server adds no content-length.
  response streamed{200, {{"content-length", "10"}}, {}, no_piece};
  CHECK(check_response(streamed, false).problem.empty());
  CHECK(check_response(streamed, false).declared_length == 10);
  response unknown = with_headers({});
  CHECK(check_response(unknown, false).declared_length == fastrt::http2::unknown_length);
  // Exactly at the limit passes, one byte more does not.
  const std::size_t base = 7 + 3 + 32 + 14 + 20 + 32 + 1 + 32;  // :status, added content-length, name "x", overhead
  response at_limit = with_headers({{"x", std::string(fastrt::http2::max_response_header_bytes - base, 'a')}});
  CHECK(check_response(at_limit, false).problem.empty());
  CHECK(check_response(at_limit, false).header_bytes == fastrt::http2::max_response_header_bytes);
  response over = with_headers({{"x", std::string(fastrt::http2::max_response_header_bytes - base + 1, 'a')}});
  CHECK(check_response(over, false).problem.find("more than the server sends") != std::string::npos);
  response two_lengths = with_headers({{"content-length", "3"}, {"content-length", "4"}});
  CHECK(check_response(two_lengths, false).problem == "header 'content-length': two different values");
  response no_content{204, {{"content-length", "1"}}, {}, {}};
  CHECK(check_response(no_content, false).problem == "header 'content-length': a 204 response may only say 0");
}
