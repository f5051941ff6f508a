// fastrt::http2's HTTP/1.1 head reader (<fastrt/http2/http1_head.hpp>): what
// the first bytes of a connection are, the h2c upgrade, malformed heads and
// the closing answers, on plain bytes without a socket.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/http1_head.hpp>

#include <string>
#include <string_view>

namespace http1 = fastrt::http2::http1;
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

}  // namespace

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
  // Content-Length stays a regular field (once), as it is on any HTTP/2 stream.
  REQUIRE(h.upgrade.req.headers.size() == 2);
  CHECK(h.upgrade.req.headers[0] == std::pair<std::string, std::string>("content-length", "3"));
  CHECK(h.upgrade.req.headers[1] == std::pair<std::string, std::string>("x-a", "v"));
  CHECK(h.upgrade.req.http_version == fastrt::http2::protocol_version::http2);
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

TEST_CASE("HTTP/1.1 head: request-smuggling framing is refused before the sniffer's 426") {
  // (Before the HTTP/1.1 codec these got 426: only an upgrade's framing was looked at.)
  const http1::head both = http1::read_head("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(both.verdict == head_verdict::malformed);
  CHECK(both.problem == "Transfer-Encoding together with Content-Length");
  CHECK(http1::read_head("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").problem ==
        "Transfer-Encoding in an HTTP/1.0 request");
  CHECK(http1::read_head("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").problem ==
        "chunked is not the final transfer coding");
  const http1::head gzip = http1::read_head("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  CHECK(gzip.problem == "only the chunked transfer coding is supported");
  CHECK(http1::refusal_response(gzip).starts_with("HTTP/1.1 501 Not Implemented\r\n"));
  // A request line over the limit: 414, not 431 (RFC 9112 §3).
  const http1::head line = http1::read_head("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(line.verdict == head_verdict::line_too_long);
  CHECK(http1::refusal_response(line).starts_with("HTTP/1.1 414 URI Too Long\r\n"));
  CHECK(http1::read_head("GET /" + std::string(9000, 'a')).verdict == head_verdict::line_too_long);
}

TEST_CASE("HTTP/1.1 head: the answers close the connection") {
  const std::string required = http1::upgrade_required_response();
  CHECK(required.starts_with("HTTP/1.1 426 "));
  CHECK(required.find("\r\nUpgrade: h2c\r\nConnection: Upgrade, close\r\n") != std::string::npos);
  const std::string bad = http1::bad_request_response("no Host");
  CHECK(bad.starts_with("HTTP/1.1 400 "));
  CHECK(bad.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(bad.ends_with("\r\nContent-Length: 8\r\n\r\nno Host\n"));
  CHECK(http1::switching_protocols.starts_with("HTTP/1.1 101 "));
}
