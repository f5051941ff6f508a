// log_observer.hpp — where fastrt-h2 writes what its connections report
// (fastrt::http2::observer): log lines to stderr with the "fastrt-h2: "
// prefix, and, with --access-log, one line per answered request:
//
//   "GET /path?query HTTP/2" 200 13 0.123ms
//
// Thread-safety: every io thread logs at once; each line is one stdio call
// (stdio locks the FILE per call), so lines never interleave. Cost: one
// formatted write per line; nothing when the access log is off.
#pragma once

#include <fastrt/http2/field_rules.hpp>
#include <fastrt/http2/observer.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace fastrt_h2 {

class log_observer final : public fastrt::http2::observer {
 public:
  // `access_log`: null for none; else kept open by the caller.
  explicit log_observer(std::FILE* access_log) noexcept : access_log_(access_log) {}

  void log(fastrt::http2::log_level, std::string_view line) override {
    std::fprintf(stderr, "fastrt-h2: %.*s\n", static_cast<int>(line.size()), line.data());
  }

  bool wants_access_records() const noexcept override { return access_log_ != nullptr; }

  // The request's text is escaped (\xHH for control characters, '"' and
  // '\') so that it can neither forge nor garble lines.
  void access(const fastrt::http2::access_record& r) override {
    static thread_local std::string line;  // reused: no allocation per request
    line = '"';
    fastrt::http2::fields::escape_for_log(r.method, line);
    line += ' ';
    fastrt::http2::fields::escape_for_log(r.path, line);
    if (!r.query.empty()) {
      line += '?';
      fastrt::http2::fields::escape_for_log(r.query, line);
    }
    const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
    std::fprintf(access_log_, "%s %.*s\" %d %llu %.3fms\n", line.c_str(), static_cast<int>(r.protocol.size()),
                 r.protocol.data(), r.status, static_cast<unsigned long long>(r.body_bytes), ms);
  }

 private:
  std::FILE* access_log_;
};

}  // namespace fastrt_h2
