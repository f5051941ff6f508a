// stream_reset_limit.hpp — a token bucket over the streams a client gets
// reset: the RST_STREAMs it sends and those it provokes from the server
// (a frame nghttp2 answers with a stream error, e.g. a WINDOW_UPDATE that
// overflows the window: "MadeYouReset", CVE-2025-8671). nghttp2's own limit
// (nghttp2_option_set_stream_reset_rate_limit) counts only the RST_STREAMs
// it receives, so a client could open and get streams reset by the server
// without end. Same shape as nghttp2's: a burst of 1000, then 33 a second.
//
// Thread-safety: one connection's (its io thread). Cost: a clock read per
// counted reset.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace fastrt::http2 {

class stream_reset_limit {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr double burst = 1000;
  static constexpr double per_second = 33;

  // Counts one reset at `now`; false once the client is over the limit.
  bool allow(clock::time_point now) noexcept {
    if (last_ != clock::time_point{}) {
      const double seconds = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst, tokens_ + seconds * per_second);
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double tokens_ = burst;
  clock::time_point last_{};
};

}  // namespace fastrt::http2
