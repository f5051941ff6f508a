// fastrt::http2 stream reset limit (<fastrt/http2/stream_reset_limit.hpp>):
// a burst of 1000 resets, then 33 a second, on a fake clock.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/stream_reset_limit.hpp>

#include <chrono>

using fastrt::http2::stream_reset_limit;
using namespace std::chrono_literals;

namespace {
// Any fixed instant: the tests never read the clock.
const stream_reset_limit::clock::time_point t0 = stream_reset_limit::clock::time_point{} + 1000h;
}  // namespace

TEST_CASE("stream reset limit: the burst, then refusal") {
  stream_reset_limit limit;
  for (int i = 0; i < 1000; ++i) REQUIRE(limit.allow(t0));
  CHECK_FALSE(limit.allow(t0));
  CHECK_FALSE(limit.allow(t0 + 10ms));  // a third of a token: still over
}

TEST_CASE("stream reset limit: refills at 33 a second, up to the burst") {
  stream_reset_limit limit;
  for (int i = 0; i < 1000; ++i) REQUIRE(limit.allow(t0));
  // One second later: 33 more, not 34.
  const auto later = t0 + 1s;
  for (int i = 0; i < 33; ++i) REQUIRE(limit.allow(later));
  CHECK_FALSE(limit.allow(later));
  // A long quiet spell refills only up to the burst.
  const auto much_later = later + 1h;
  int allowed = 0;
  while (allowed < 2000 && limit.allow(much_later)) ++allowed;
  CHECK(allowed == 1000);
}

TEST_CASE("stream reset limit: a steady 33 a second is never refused") {
  stream_reset_limit limit;
  auto now = t0;
  for (int i = 0; i < 1000; ++i) REQUIRE(limit.allow(now));
  for (int i = 0; i < 3300; ++i) {
    now += 31ms;  // 32.3 a second: just under the refill rate
    REQUIRE(limit.allow(now));
  }
}
