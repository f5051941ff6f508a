// fastrt::http2 connection deadlines (<fastrt/http2/connection_deadlines.hpp>):
// each timeout expires exactly at its limit and not a tick before, idle and
// busy connections differ, next() says when to look again, shutdown's own
// deadline. A fake clock: `now` is passed in, nothing sleeps.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/connection_deadlines.hpp>

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <string_view>

using fastrt::http2::connection_deadlines;
using fastrt::http2::server_config;
using namespace std::chrono_literals;
using time_point = connection_deadlines::time_point;

namespace {

const time_point t0 = time_point{} + 1000h;
constexpr auto tick = 1ns;  // the smallest step of the fake clock

// Every timeout off: each test turns on the ones it looks at.
server_config no_timeouts() {
  server_config c;
  c.handler_timeout = c.idle_timeout = c.header_timeout = c.settings_ack_timeout = c.shutdown_timeout =
      c.send_timeout = c.body_timeout = std::chrono::milliseconds{0};
  return c;
}

// The reason `d` gives at `now`, or "" when nothing expired.
std::string_view why(const connection_deadlines& d, time_point now, bool idle, bool waiting_to_send = false) {
  const auto e = d.expired(now, idle, waiting_to_send);
  return e ? e->why : std::string_view();
}

}  // namespace

TEST_CASE("deadlines: idle expires at the idle timeout, only while idle") {
  server_config c = no_timeouts();
  c.idle_timeout = 60s;
  connection_deadlines d(c, t0);
  d.preface_done();
  CHECK(why(d, t0 + 60s - tick, true).empty());
  const auto e = d.expired(t0 + 60s, true);
  REQUIRE(e);
  CHECK(e->why == "idle timeout");
  CHECK(e->code == NGHTTP2_NO_ERROR);
  CHECK(why(d, t0 + 1h, false).empty());  // a request being answered: not idle

  d.received(t0 + 30s);  // bytes from the client restart the count
  CHECK(why(d, t0 + 90s - tick, true).empty());
  CHECK(why(d, t0 + 90s, true) == "idle timeout");
  d.became_idle(t0 + 100s);  // the last answer went out
  CHECK(why(d, t0 + 160s - tick, true).empty());
  CHECK(why(d, t0 + 160s, true) == "idle timeout");
}

TEST_CASE("deadlines: a zero timeout never expires") {
  const server_config c = no_timeouts();
  connection_deadlines d(c, t0);  // preface never done
  d.header_block_started(t0);
  d.settings_sent(t0);
  d.send_started(t0);
  d.shutdown_began(t0);
  CHECK_FALSE(d.expired(t0 + 24h, true, true));
}

TEST_CASE("deadlines: the client preface and each header block within the header timeout") {
  server_config c = no_timeouts();
  c.header_timeout = 10s;
  connection_deadlines d(c, t0);
  CHECK(why(d, t0 + 10s - tick, false).empty());
  const auto preface = d.expired(t0 + 10s, false);
  REQUIRE(preface);
  CHECK(preface->why == "client preface not received in time");
  CHECK(preface->code == NGHTTP2_PROTOCOL_ERROR);

  d.preface_done();
  CHECK_FALSE(d.expired(t0 + 1h, false));
  d.header_block_started(t0 + 1h);
  CHECK(why(d, t0 + 1h + 10s - tick, false).empty());
  const auto block = d.expired(t0 + 1h + 10s, false);
  REQUIRE(block);
  CHECK(block->why == "header block not completed in time");
  CHECK(block->code == NGHTTP2_ENHANCE_YOUR_CALM);
  d.header_block_done();
  CHECK_FALSE(d.expired(t0 + 2h, false));
}

TEST_CASE("deadlines: SETTINGS must be acknowledged; the timer starts once") {
  server_config c = no_timeouts();
  c.settings_ack_timeout = 10s;
  connection_deadlines d(c, t0);
  d.preface_done();
  CHECK_FALSE(d.settings_timer_started());
  d.settings_sent(t0 + 1s);
  d.settings_sent(t0 + 5s);  // a later SETTINGS does not restart the timer
  CHECK(d.settings_timer_started());
  CHECK(why(d, t0 + 11s - tick, false).empty());
  const auto e = d.expired(t0 + 11s, false);
  REQUIRE(e);
  CHECK(e->code == NGHTTP2_SETTINGS_TIMEOUT);

  d.settings_acked();
  CHECK_FALSE(d.expired(t0 + 1h, false));
  d.settings_sent(t0 + 1h);  // acknowledged once: never timed again
  CHECK_FALSE(d.expired(t0 + 2h, false));
}

TEST_CASE("deadlines: a stalled send, and a window kept shut") {
  server_config c = no_timeouts();
  c.send_timeout = 30s;
  connection_deadlines d(c, t0);
  d.preface_done();
  d.send_started(t0);
  CHECK(why(d, t0 + 30s - tick, false).empty());
  CHECK(why(d, t0 + 30s, false) == "the client stopped reading");
  d.send_done();
  CHECK(why(d, t0 + 1h, false).empty());

  // Answers ready, the client's windows shut: counted from the last progress.
  d.send_progress(t0 + 1h);
  CHECK(why(d, t0 + 1h + 30s - tick, false, true).empty());
  CHECK(why(d, t0 + 1h + 30s, false, true) == "the client keeps its flow-control window shut");
  CHECK(why(d, t0 + 1h + 30s, false, false).empty());  // nothing waiting: no stall
}

TEST_CASE("deadlines: shutdown cuts what is left, and stops the idle timeout") {
  server_config c = no_timeouts();
  c.shutdown_timeout = 10s;
  c.idle_timeout = 5s;
  connection_deadlines d(c, t0);
  d.preface_done();
  CHECK_FALSE(d.shutting_down());
  d.shutdown_began(t0 + 1s);
  d.shutdown_began(t0 + 3s);  // the first one counts
  CHECK(d.shutting_down());
  CHECK(d.shutdown_since() == t0 + 1s);
  CHECK(why(d, t0 + 11s - tick, true).empty());  // idle, but shutting down: no idle timeout
  const auto e = d.expired(t0 + 11s, false);
  REQUIRE(e);
  CHECK(e->why == "shutdown deadline");
  CHECK(e->code == NGHTTP2_NO_ERROR);
}

TEST_CASE("deadlines: next() is the earliest deadline, never in the past") {
  server_config c = no_timeouts();
  c.idle_timeout = 60s;
  connection_deadlines d(c, t0);
  d.preface_done();
  CHECK(d.next(t0, true) == t0 + 60s);
  CHECK(d.next(t0, false) == t0 + 1h);  // busy: nothing to enforce, look in hourly
  CHECK(d.next(t0, true, t0 + 2s) == t0 + 2s);  // the caller's own wake-up
  CHECK(d.next(t0 + 2min, true) == t0 + 2min);  // passed: at once, not in the past

  d.shutdown_began(t0);
  c.shutdown_timeout = 10s;  // read through the reference: the config is shared
  CHECK(d.next(t0, true) == t0 + 10s);  // shutting down: no idle deadline
}

TEST_CASE("deadlines: next() looks in at half the shortest header, SETTINGS, send or body timeout") {
  server_config c = no_timeouts();
  c.body_timeout = 8s;  // enforced by the connection per stream: only the tick
  connection_deadlines d(c, t0);
  d.preface_done();
  CHECK(d.next(t0, false) == t0 + 4s);
  c.header_timeout = 2s;
  CHECK(d.next(t0, false) == t0 + 1s);
  d.header_block_started(t0 - 1500ms);  // its deadline (t0 + 0.5 s) is before the tick
  CHECK(d.next(t0, false) == t0 + 500ms);
}
