// http_date.hpp — the Date field value (RFC 9110 §5.6.7 IMF-fixdate, e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT"), which an origin server with a clock sends
// on every response (RFC 9110 §6.6.1). http_date_now() formats it once per
// second per thread.
//
// Thread-safety: format_http_date is pure; http_date_now's cache is per
// thread. Cost: one time() call; the formatting once a second.
#pragma once

#include <time.h>

#include <array>
#include <cstddef>
#include <string_view>

namespace fastrt::http2 {

inline constexpr std::size_t http_date_size = 29;

inline std::array<char, http_date_size> format_http_date(time_t when) noexcept {
  static constexpr char days[] = "SunMonTueWedThuFriSat";
  static constexpr char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  tm t{};
  ::gmtime_r(&when, &t);
  std::array<char, http_date_size> out{};
  auto put = [&out](std::size_t at, std::string_view text) {
    for (const char c : text) out[at++] = c;
  };
  auto two = [&out](std::size_t at, int v) {
    out[at] = static_cast<char>('0' + v / 10 % 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  put(0, std::string_view(days + 3 * (t.tm_wday % 7), 3));
  put(3, ", ");
  two(5, t.tm_mday);
  out[7] = ' ';
  put(8, std::string_view(months + 3 * (t.tm_mon % 12), 3));
  out[11] = ' ';
  const int year = t.tm_year + 1900;
  two(12, year / 100);
  two(14, year % 100);
  out[16] = ' ';
  two(17, t.tm_hour);
  out[19] = ':';
  two(20, t.tm_min);
  out[22] = ':';
  two(23, t.tm_sec);
  put(25, " GMT");
  return out;
}

// The Date value for now; valid on this thread until the next call.
inline std::string_view http_date_now() noexcept {
  struct cache {
    time_t second = -1;
    std::array<char, http_date_size> text{};
  };
  static thread_local cache c;
  const time_t now = ::time(nullptr);
  if (now != c.second) {
    c.second = now;
    c.text = format_http_date(now);
  }
  return {c.text.data(), c.text.size()};
}

}  // namespace fastrt::http2
