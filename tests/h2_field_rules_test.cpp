// fastrt-h2's field rules (examples/http2_server/field_rules.hpp), its
// HTTP/1.1 head reader (http1_upgrade.hpp) and its response checks
// (response_rules.hpp) on plain bytes and C++ responses, without a socket.
// The example headers are included by relative path: they are the server's.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "../examples/http2_server/field_rules.hpp"
#include "../examples/http2_server/http1_upgrade.hpp"
#include "../examples/http2_server/response_rules.hpp"

namespace fields = fastrt_h2::fields;
namespace http1 = fastrt_h2::http1;
using fastrt_h2::check_response;
using fastrt_h2::response;
using http1::head_verdict;
using namespace std::string_view_literals;

namespace {

// An h2c upgrade head with `extra` fields (each ending in CRLF).
std::string upgrade(std::string_view line = "GET /p?q=1 HTTP/1.1", std::string_view extra = "") {
  std::string out(line);
  out += "\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n";
  out += extra;
  out += "\r\n";
  return out;
}

response with_headers(fastrt_h2::header_list headers, std::string body = "abc") {
  return response{200, std::move(headers), std::move(body), {}};
}

}  // namespace

TEST_CASE("field rules: tokens, values, content-length") {
  CHECK(fields::is_token("x-custom_1.~"));
  CHECK_FALSE(fields::is_token(""));
  CHECK_FALSE(fields::is_token("x y"));
  CHECK_FALSE(fields::is_token("G\0ET"sv));
  CHECK(fields::value_problem("a\tb c") == nullptr);
  CHECK(fields::value_problem("caf\xc3\xa9") == nullptr);  // obs-text
  CHECK(std::string(fields::value_problem("a\x01")) == "the header value contains a control character");
  CHECK(std::string(fields::value_problem("a\x7f")) == "the header value contains a control character");
  CHECK(std::string(fields::value_problem("\x01\n")) == "the header value contains NUL, CR or LF");
  CHECK(fields::sent_value_problem(" a") != nullptr);
  CHECK(fields::sent_value_problem("a\t") != nullptr);
  CHECK(fields::sent_value_problem("") == nullptr);
  CHECK(fields::sent_name_problem("X-A") != nullptr);
  CHECK(fields::sent_name_problem(":status") != nullptr);
  CHECK(fields::content_length("0") == 0u);
  CHECK(fields::content_length("123456789012345") == 123456789012345u);
  CHECK_FALSE(fields::content_length("1234567890123456"));
  CHECK_FALSE(fields::content_length("3, 3"));
  CHECK_FALSE(fields::content_length("+3"));
  CHECK_FALSE(fields::content_length(""));
}

TEST_CASE("field rules: the access log escapes what could forge a line") {
  std::string out;
  fields::escape_for_log("/a\nb\"c\\d\x7f\x01 \xc3\xa9", out);
  CHECK(out == "/a\\x0ab\\x22c\\x5cd\\x7f\\x01 \xc3\xa9");
}

TEST_CASE("HTTP/1.1 head: what the first bytes are") {
  CHECK(http1::read_head("").verdict == head_verdict::incomplete);
  CHECK(http1::read_head("GET / HT").verdict == head_verdict::incomplete);
  CHECK(http1::read_head("GET / HTTP/1.1\r\nHost: h\r\n").verdict == head_verdict::incomplete);
  CHECK(http1::read_head("\x16\x03\x01").verdict == head_verdict::not_http1);
  CHECK(http1::read_head("INVALID CONNECTION PREFACE\r\n\r\n").verdict == head_verdict::not_http1);
  CHECK(http1::read_head("GET /\r\n\r\n").verdict == head_verdict::not_http1);
  CHECK(http1::read_head("GET / HTTP/2.0\r\n\r\n").verdict == head_verdict::not_http1);
  CHECK(http1::read_head(std::string(9000, 'G')).verdict == head_verdict::not_http1);
  CHECK(http1::read_head("GET / HTTP/1.1\r\nHost: h\r\n\r\n").verdict == head_verdict::not_upgrade);
  CHECK(http1::read_head("GET / HTTP/1.0\r\n\r\n").verdict == head_verdict::not_upgrade);
  CHECK(http1::read_head("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a')).verdict == head_verdict::too_large);
  // Empty lines before the request line are skipped (RFC 9112 §2.2), within the head limit.
  CHECK(http1::read_head("\r").verdict == head_verdict::incomplete);
  CHECK(http1::read_head("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").verdict == head_verdict::not_upgrade);
  CHECK(http1::read_head("\r\n" + upgrade()).size == 2 + upgrade().size());
  std::string blank_lines;
  for (int i = 0; i < 5000; ++i) blank_lines += "\r\n";
  CHECK(http1::read_head(blank_lines).verdict == head_verdict::not_http1);
}

TEST_CASE("HTTP/1.1 head: an h2c upgrade") {
  const std::string text =
      upgrade("POST /p?q=1 HTTP/1.1", "Content-Length: 3\r\nContent-Length: 3\r\nX-A:  v \r\n") + "abc";
  const http1::head h = http1::read_head(text);
  REQUIRE(h.verdict == head_verdict::upgrade);
  CHECK(h.size == text.size() - 3);
  CHECK(h.upgrade.content_length == 3);
  CHECK(h.upgrade.req.method == "POST");
  CHECK(h.upgrade.req.path == "/p");
  CHECK(h.upgrade.req.query == "q=1");
  CHECK(h.upgrade.req.authority == "h");
  CHECK(h.upgrade.settings.size() == 12);
  REQUIRE(h.upgrade.req.headers.size() == 1);
  CHECK(h.upgrade.req.headers[0] == std::pair<std::string, std::string>("x-a", "v"));
}

TEST_CASE("HTTP/1.1 head: malformed heads get 400") {
  const char* cases[][2] = {
      {"GET / HTTP/1.1\nHost: h\n\n", "bare LF ending the request line"},
      {"G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", "control character in the method"},
      {"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", "control character in the target"},
      {"GET / HTTP/1.1\r\n\r\n", "no Host"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Hosts"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A : b\r\n\r\n", "whitespace before the colon"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX A: b\r\n\r\n", "space in a name"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", "obs-fold"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", "bare CR"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\nb\r\n\r\n", "bare LF in a value"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", "no colon"},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "two lengths"},
  };
  for (const auto& [text, what] : cases) {
    INFO(what);
    CHECK(http1::read_head(text).verdict == head_verdict::malformed);
  }
  CHECK(http1::read_head(upgrade("GET / HTTP/1.1", "X-A: a\0b\r\n"sv)).verdict == head_verdict::malformed);
  CHECK(http1::read_head(upgrade("GET / HTTP/1.1", "Transfer-Encoding: chunked\r\n")).verdict ==
        head_verdict::malformed);
  CHECK(http1::read_head(upgrade("GET / HTTP/1.1", "HTTP2-Settings: AAMAAABk\r\n")).verdict == head_verdict::malformed);
  std::string bad_settings = upgrade();
  bad_settings.replace(bad_settings.find("AAMAAABkAAQAAP__"), 16, "AAMAAAB");  // 5 bytes
  CHECK(http1::read_head(bad_settings).problem == "HTTP2-Settings is not a whole number of settings (6 bytes each)");
  bad_settings.replace(bad_settings.find("AAMAAAB"), 7, "AA+/");
  CHECK(http1::read_head(bad_settings).problem == "HTTP2-Settings is not base64url");
}

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
