// fastrt::http2 from an install tree: an h2c upgrade head parsed into a
// request, a handler's response checked by the response rules, and a
// connection's idle deadline on a fake clock. No socket, no Python.
// Also the nghttp2 flood limits the package turns on for its consumers
// (FASTRT_HAVE_NGHTTP2_*): each one defined is called here (so it compiles and
// links against this consumer's libnghttp2), and together they must be what
// run_package_tests.sh found that libnghttp2 to offer (FASTRT_TEST_NGHTTP2_FEATURES).
#include <fastrt/http2/connection_deadlines.hpp>
#include <fastrt/http2/http1_head.hpp>
#include <fastrt/http2/response_rules.hpp>
#include <fastrt/http2/server_config.hpp>

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace http2 = fastrt::http2;
using namespace std::chrono_literals;

namespace {

// The flood limits this translation unit was given, in a fixed order: "reset_rate_limit max_continuations".
std::string nghttp2_features_seen() {
  std::string seen;
  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) return "nghttp2_option_new failed";
#ifdef FASTRT_HAVE_NGHTTP2_RESET_RATE_LIMIT
  nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33);
  seen += "reset_rate_limit";
#endif
#ifdef FASTRT_HAVE_NGHTTP2_MAX_CONTINUATIONS
  nghttp2_option_set_max_continuations(option, 8);
  seen += seen.empty() ? "" : " ";
  seen += "max_continuations";
#endif
  nghttp2_option_del(option);
  return seen;
}

}  // namespace

int main() {
  const char* expected = std::getenv("FASTRT_TEST_NGHTTP2_FEATURES");
  const std::string seen = nghttp2_features_seen();
  if (expected == nullptr || seen != expected) {
    std::fprintf(stderr, "nghttp2 flood limits: the package defined '%s', libnghttp2 offers '%s'\n", seen.c_str(),
                 expected != nullptr ? expected : "(FASTRT_TEST_NGHTTP2_FEATURES unset)");
    return 1;
  }
  const http2::http1::head head = http2::http1::read_head(
      "GET /hello?x=1 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
      "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
  if (head.verdict != http2::http1::head_verdict::upgrade || head.upgrade.req.path != "/hello") {
    std::fprintf(stderr, "read_head: not the upgrade expected\n");
    return 1;
  }

  http2::response answer = http2::text_response(200, "hello " + head.upgrade.req.query + "\n");
  answer.headers.emplace_back("Content-Length", "10");
  const http2::response_verdict verdict = http2::check_response(answer, false);
  if (!verdict.problem.empty() || verdict.declared_length != 10) {
    std::fprintf(stderr, "check_response: '%s'\n", verdict.problem.c_str());
    return 1;
  }

  http2::server_config config;
  config.idle_timeout = 5s;
  const auto t0 = http2::connection_deadlines::time_point{} + 1h;
  http2::connection_deadlines deadlines(config, t0);
  deadlines.preface_done();
  deadlines.settings_acked();
  const bool early = deadlines.expired(t0 + 5s - 1ms, true).has_value();
  const auto idle = deadlines.expired(t0 + 5s, true);
  if (early || !idle) {
    std::fprintf(stderr, "connection_deadlines: idle timeout at the wrong time\n");
    return 1;
  }
  std::printf("http2: upgrade %s, response ok, %.*s, nghttp2 flood limits '%s'\n", head.upgrade.req.path.c_str(),
              static_cast<int>(idle->why.size()), idle->why.data(), seen.c_str());
  return 0;
}
