// fastrt::http2's HTTP/1.1 response writer (<fastrt/http2/http1_response.hpp>)
// and the Date value (<fastrt/http2/http_date.hpp>): the status line, the
// framing it picks (content-length, chunked, close-delimited), HEAD, 204/304,
// Connection, date and server.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/http1_response.hpp>
#include <fastrt/http2/http_date.hpp>

#include <string>
#include <string_view>

namespace http1 = fastrt::http2::http1;
using fastrt::http2::protocol_version;
using fastrt::http2::response;
using http1::response_framing;

namespace {

response streamed(int status = 200) {
  response r{status, {{"content-type", "text/plain"}}, {}, {}};
  r.stream = []() -> fastrt::coro_task<fastrt::result<std::string>> { co_return std::string(); };
  return r;
}

}  // namespace

TEST_CASE("HTTP/1.1 response: a whole body gets content-length and follows the head") {
  response r{200, {{"content-type", "text/plain"}, {"connection", "keep-alive"}, {"transfer-encoding", "chunked"}},
             "hello", {}};
  std::string out;
  const http1::response_plan plan = http1::write_response(r, {}, out);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello");  // the app's framing fields dropped
  CHECK(plan.framing == response_framing::none);
  CHECK_FALSE(plan.close);
}

TEST_CASE("HTTP/1.1 response: the app's content-length, date and server are kept") {
  response r{404, {{"content-length", "3"}, {"date", "then"}, {"server", "app"}}, "abc", {}};
  http1::response_context ctx;
  ctx.date = "now";
  ctx.server = "fastrt-h2";
  std::string out;
  http1::write_response(r, ctx, out);
  CHECK(out == "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\ndate: then\r\nserver: app\r\n\r\nabc");
  response plain{200, {}, "", {}};
  out.clear();
  http1::write_response(plain, ctx, out);
  CHECK(out == "HTTP/1.1 200 OK\r\ncontent-length: 0\r\ndate: now\r\nserver: fastrt-h2\r\n\r\n");
}

TEST_CASE("HTTP/1.1 response: HEAD, 204 and 304 carry no body") {
  response r{200, {}, "hello", {}};
  http1::response_context head;
  head.head_request = true;
  std::string out;
  CHECK(http1::write_response(r, head, out).framing == response_framing::none);
  CHECK(out == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");  // the GET's length, no body

  out.clear();
  response s = streamed();
  CHECK(http1::write_response(s, head, out).framing == response_framing::none);
  CHECK(out == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n");

  for (const int status : {204, 304}) {
    out.clear();
    response empty{status, {}, "", {}};
    CHECK(http1::write_response(empty, {}, out).framing == response_framing::none);
    CHECK(out == "HTTP/1.1 " + std::to_string(status) + " " + std::string(http1::reason_phrase(status)) + "\r\n\r\n");
  }
}

TEST_CASE("HTTP/1.1 response: a streamed body is chunked on 1.1, close-delimited on 1.0") {
  std::string out;
  response s = streamed();
  http1::response_plan plan = http1::write_response(s, {}, out);
  CHECK(plan.framing == response_framing::chunked);
  CHECK_FALSE(plan.close);
  CHECK(out == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n");
  out.clear();
  http1::write_piece(plan.framing, "hello", out);
  http1::write_piece(plan.framing, "", out);  // nothing: an empty chunk would end the body
  http1::write_piece(plan.framing, std::string(300, 'x'), out);
  http1::write_body_end(plan.framing, out);
  CHECK(out == "5\r\nhello\r\n12c\r\n" + std::string(300, 'x') + "\r\n0\r\n\r\n");

  http1::response_context old;
  old.version = protocol_version::http1_0;
  out.clear();
  plan = http1::write_response(s, old, out);
  CHECK(plan.framing == response_framing::until_close);
  CHECK(plan.close);
  CHECK(out == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n");
  out.clear();
  http1::write_piece(plan.framing, "abc", out);
  http1::write_body_end(plan.framing, out);
  CHECK(out == "abc");

  // A streamed body with the app's content-length: sent as it is.
  response sized = streamed();
  sized.headers.emplace_back("content-length", "6");
  out.clear();
  CHECK(http1::write_response(sized, {}, out).framing == response_framing::content_length);
  CHECK(out == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\n");
}

TEST_CASE("HTTP/1.1 response: Connection") {
  response r{500, {}, "x", {}};
  http1::response_context closing;
  closing.keep_alive = false;
  std::string out;
  CHECK(http1::write_response(r, closing, out).close);
  CHECK(out == "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx");
  http1::response_context old;
  old.version = protocol_version::http1_0;
  out.clear();
  CHECK_FALSE(http1::write_response(r, old, out).close);
  CHECK(out == "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\nx");
  out.clear();
  response unknown{299, {}, "", {}};
  http1::write_response(unknown, {}, out);
  CHECK(out.starts_with("HTTP/1.1 299 \r\n"));  // an empty reason phrase (RFC 9112 §4)
}

TEST_CASE("Date: IMF-fixdate") {
  CHECK(std::string_view(fastrt::http2::format_http_date(784111777).data(), 29) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(std::string_view(fastrt::http2::format_http_date(0).data(), 29) == "Thu, 01 Jan 1970 00:00:00 GMT");
  const std::string_view now = fastrt::http2::http_date_now();
  CHECK(now.size() == 29);
  CHECK(now.ends_with(" GMT"));
}
