// fastrt::http2's protocol sniffer (<fastrt/http2/protocol_sniffer.hpp>):
// what a connection's first bytes ask for, fed in pieces as a socket
// delivers them. No socket; nghttp2 only to try an upgrade's settings.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/protocol_sniffer.hpp>

#include <string>
#include <string_view>

using fastrt::http2::protocol_sniffer;
using fastrt::http2::sniff_verdict;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view upgrade_head =
    "POST /up?x=1 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    "HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 5\r\n\r\n";

}  // namespace

TEST_CASE("sniffer: the HTTP/2 preface in one read is passed on as it is") {
  protocol_sniffer sniff(1024);
  const std::string first = std::string(protocol_sniffer::preface) + "frames";
  const auto out = sniff.feed(first);
  CHECK(out.verdict == sniff_verdict::http2);
  CHECK(out.http2_bytes.data() == first.data());  // nothing copied
  CHECK_FALSE(sniff.holding());
}

TEST_CASE("sniffer: a preface in pieces shorter than \"PRI \" is held, then passed on whole") {
  protocol_sniffer sniff(1024);
  CHECK(sniff.feed("P").verdict == sniff_verdict::incomplete);
  CHECK(sniff.feed("R").verdict == sniff_verdict::incomplete);
  CHECK(sniff.holding());
  const auto out = sniff.feed("I * HTTP/2.0\r\n");
  CHECK(out.verdict == sniff_verdict::http2);
  CHECK(out.http2_bytes == "PRI * HTTP/2.0\r\n");
  sniff.release();
  CHECK_FALSE(sniff.holding());
}

TEST_CASE("sniffer: an h2c upgrade waits for its body, then becomes stream 1 with what follows") {
  protocol_sniffer sniff(1024);
  CHECK(sniff.feed(upgrade_head.substr(0, 20)).verdict == sniff_verdict::incomplete);
  CHECK(sniff.feed(upgrade_head.substr(20)).verdict == sniff_verdict::incomplete);  // the 5-byte body is missing
  const auto out = sniff.feed("hello" "PRI * HTTP/2.0");
  REQUIRE(out.verdict == sniff_verdict::upgrade);
  CHECK(out.upgrade.req.method == "POST");
  CHECK(out.upgrade.req.path == "/up");
  CHECK(out.upgrade.req.query == "x=1");
  CHECK(out.upgrade.req.body == "hello");
  CHECK(out.upgrade.settings.size() == 12);  // two settings of 6 bytes
  CHECK(out.http2_bytes == "PRI * HTTP/2.0");
}

TEST_CASE("sniffer: a plain HTTP/1.x request goes to the HTTP/1.1 codec with every byte held") {
  protocol_sniffer sniff(1024);
  CHECK(sniff.feed("GET / HTTP/1.1\r\nHo").verdict == sniff_verdict::incomplete);
  const auto out = sniff.feed("st: h\r\n\r\nGET /next");
  CHECK(out.verdict == sniff_verdict::http1);
  CHECK(out.http2_bytes == "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /next");
  CHECK(out.answer.empty());
}

TEST_CASE("sniffer: HTTP/1.x answers that close the connection") {
  SECTION("a malformed head: 400 saying why") {
    protocol_sniffer sniff(1024);
    const auto out = sniff.feed("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n");
    CHECK(out.verdict == sniff_verdict::answer_and_close);
    CHECK(out.answer.starts_with("HTTP/1.1 400 "));
  }
  SECTION("an upgrade body over max_body_size: 413 before it arrives") {
    protocol_sniffer sniff(4);
    const auto out = sniff.feed(upgrade_head);
    CHECK(out.verdict == sniff_verdict::answer_and_close);
    CHECK(out.answer.starts_with("HTTP/1.1 413 "));
  }
  SECTION("settings nghttp2 would refuse: 400") {
    protocol_sniffer sniff(1024);
    // SETTINGS_ENABLE_PUSH = 2 (only 0 and 1 are allowed): base64url of 00 02 00 00 00 02.
    const auto out = sniff.feed(
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        "HTTP2-Settings: AAIAAAAC\r\n\r\n");
    CHECK(out.verdict == sniff_verdict::answer_and_close);
    CHECK(out.answer.starts_with("HTTP/1.1 400 "));
    CHECK(out.answer.find("HTTP2-Settings") != std::string::npos);
  }
  SECTION("a head over 8 KiB: 431") {
    protocol_sniffer sniff(1024);
    const auto out = sniff.feed("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'a'));
    CHECK(out.verdict == sniff_verdict::answer_and_close);
    CHECK(out.answer.starts_with("HTTP/1.1 431 "));
  }
}

TEST_CASE("sniffer: bytes that are no HTTP request line get no answer at all") {
  protocol_sniffer sniff(1024);
  CHECK(sniff.feed("\x16\x03\x01\x02\x00"sv).verdict == sniff_verdict::not_http);  // a TLS ClientHello
}
