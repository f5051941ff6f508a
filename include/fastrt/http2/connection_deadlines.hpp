// connection_deadlines.hpp — when a connection has waited too long, and for
// what. Pure bookkeeping (no I/O): the connection records what happens, its
// watchdog asks `expired(now)` and sleeps until `next(now)`.
//
//   idle          no request being answered and nothing received for
//                 --idle-timeout (a request whose body never comes counts
//                 as idle: the client is the one that went quiet)
//   stalled send  a send to the client pending for --send-timeout (a client
//                 that stopped reading: slow-read attacks), or answers
//                 waiting to go out and nothing sent for --send-timeout (a
//                 client that keeps its flow-control windows shut)
//   request body  checked by the connection per stream (--body-timeout);
//                 this only makes the watchdog look in often enough
//   header read   the client preface (or HTTP/1.1 head), and every header
//                 block once started, must arrive within --header-timeout
//                 (slowloris)
//   SETTINGS ACK  our SETTINGS unacknowledged after --settings-timeout
//                 (RFC 9113 §6.5.3: SETTINGS_TIMEOUT)
//   shutdown      graceful shutdown began --shutdown-timeout ago: cut what
//                 is left
//
// (The timeouts are server_config's fields; fastrt-h2's flags of the same
// names set them.) Thread-safety: one connection's (its io thread); the
// server_config must outlive it. Cost: a few comparisons per call, no
// allocation; coarse_now() is one coarse clock read.
#pragma once

#include <nghttp2/nghttp2.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "server_config.hpp"

namespace fastrt::http2 {

class connection_deadlines {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using milliseconds = std::chrono::milliseconds;

  struct expiry {
    std::uint32_t code;  // the GOAWAY error code
    std::string_view why;
  };

  // For the per-request bookkeeping: CLOCK_MONOTONIC_COARSE (the same clock
  // as steady_clock at tick resolution, a few ms) costs a fraction of a full
  // clock read, and the timeouts are seconds.
  static time_point coarse_now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::duration_cast<clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                   std::chrono::nanoseconds(ts.tv_nsec)));
  }

  connection_deadlines(const server_config& config, time_point now) noexcept
      : config_(config), started_(now), last_activity_(now) {}

  void received(time_point now) noexcept { last_activity_ = now; }
  // Idle from when the last answer went out, not from the last bytes received.
  void became_idle(time_point now) noexcept { last_activity_ = now; }
  void send_started(time_point now) noexcept { send_since_ = now; }
  void send_done() noexcept { send_since_.reset(); }
  // Response bytes went out, or a new answer (or body piece) is ready to go.
  void send_progress(time_point now) noexcept { send_progress_ = now; }
  void preface_done() noexcept { preface_done_ = true; }
  void header_block_started(time_point now) noexcept { header_block_since_ = now; }
  void header_block_done() noexcept { header_block_since_.reset(); }
  bool settings_timer_started() const noexcept { return settings_sent_ || settings_acked_; }
  void settings_sent(time_point now) noexcept {
    if (!settings_timer_started()) settings_sent_ = now;
  }
  void settings_acked() noexcept {
    settings_acked_ = true;
    settings_sent_.reset();
  }
  void shutdown_began(time_point now) noexcept {
    if (!shutdown_since_) shutdown_since_ = now;
  }
  bool shutting_down() const noexcept { return shutdown_since_.has_value(); }
  std::optional<time_point> shutdown_since() const noexcept { return shutdown_since_; }

  // The first limit passed at `now`, if any. `idle`: no request is being
  // answered. `waiting_to_send`: some answer has bytes ready that the
  // client's flow-control windows hold back.
  std::optional<expiry> expired(time_point now, bool idle, bool waiting_to_send = false) const noexcept {
    if (passed(shutdown_since_, config_.shutdown_timeout, now)) return expiry{NGHTTP2_NO_ERROR, "shutdown deadline"};
    if (!preface_done_ && passed(started_, config_.header_timeout, now))
      return expiry{NGHTTP2_PROTOCOL_ERROR, "client preface not received in time"};
    if (passed(header_block_since_, config_.header_timeout, now))
      return expiry{NGHTTP2_ENHANCE_YOUR_CALM, "header block not completed in time"};
    if (passed(settings_sent_, config_.settings_ack_timeout, now))
      return expiry{NGHTTP2_SETTINGS_TIMEOUT, "SETTINGS not acknowledged in time"};
    if (passed(send_since_, config_.send_timeout, now))
      return expiry{NGHTTP2_NO_ERROR, "the client stopped reading"};
    if (waiting_to_send && passed(send_progress_, config_.send_timeout, now))
      return expiry{NGHTTP2_NO_ERROR, "the client keeps its flow-control window shut"};
    if (idle && !shutdown_since_ && passed(last_activity_, config_.idle_timeout, now))
      return expiry{NGHTTP2_NO_ERROR, "idle timeout"};
    return std::nullopt;
  }

  // When to look again (an idle deadline may have moved on by then; that is
  // checked on waking). `later`: an extra wake-up the caller needs. Header
  // blocks start, SETTINGS and answers go out and bodies arrive without
  // waking the watchdog (that would cost a timer re-arm per request), so it
  // also looks in at half the shortest of the header, SETTINGS, send and
  // body timeouts: they are enforced within 1.5x.
  time_point next(time_point now, bool idle, std::optional<time_point> later = std::nullopt) const noexcept {
    time_point at = now + std::chrono::hours(1);
    auto consider = [&](std::optional<time_point> since, milliseconds limit) {
      if (since && limit.count() > 0) at = std::min(at, *since + limit);
    };
    consider(shutdown_since_, config_.shutdown_timeout);
    if (!preface_done_) consider(started_, config_.header_timeout);
    consider(header_block_since_, config_.header_timeout);
    consider(settings_sent_, config_.settings_ack_timeout);
    if (idle && !shutdown_since_) consider(last_activity_, config_.idle_timeout);
    consider(send_since_, config_.send_timeout);
    if (later) at = std::min(at, *later);
    milliseconds tick = std::chrono::hours(1);
    for (const milliseconds limit :
         {config_.header_timeout, config_.settings_ack_timeout, config_.send_timeout, config_.body_timeout}) {
      if (limit.count() > 0) tick = std::min(tick, limit / 2);
    }
    at = std::min(at, now + tick);
    return std::max(at, now);
  }

 private:
  static bool passed(std::optional<time_point> since, milliseconds limit, time_point now) noexcept {
    return since && limit.count() > 0 && now - *since >= limit;
  }

  const server_config& config_;
  time_point started_;
  time_point last_activity_;
  std::optional<time_point> header_block_since_;
  std::optional<time_point> settings_sent_;
  std::optional<time_point> shutdown_since_;
  std::optional<time_point> send_since_;
  time_point send_progress_{};
  bool preface_done_ = false;
  bool settings_acked_ = false;
};

}  // namespace fastrt::http2
