// accept_backoff.hpp — what an accept loop does when accept() fails for
// lack of resources (EMFILE at RLIMIT_NOFILE, ENFILE, ENOBUFS, ENOMEM):
// wait before trying again, 10 ms doubling up to 1 s, back to 10 ms after
// the next success; and say so (observer.hpp) at most once per second for
// the whole process (every io thread's loop shares the rate limit), naming
// the fd limit. New connections meanwhile wait in the listen backlog.
//
// Thread-safety: one accept_backoff per accept loop; the log rate limit is a
// process-wide atomic. Cost: nothing on the success path but a store.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>

#include <fastrt/http2/observer.hpp>

namespace fastrt::http2 {

class accept_backoff {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds first{10};
  static constexpr std::chrono::milliseconds longest{1000};

  // Whether accept failing with this errno means "out of a resource that
  // closing connections gives back" (wait), rather than a one-off error.
  static bool is_resource_shortage(int error) noexcept {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
  }

  // After a failed accept with a resource shortage: how long to wait. Tells
  // `events` when no io thread has within the last second.
  std::chrono::milliseconds failed(int error, std::string_view message, observer& events) {
    const std::chrono::milliseconds wait = next_;
    next_ = std::min(next_ * 2, longest);
    const auto now = clock::now().time_since_epoch().count();
    auto last = last_log().load(std::memory_order_acquire);
    const auto second = std::chrono::duration_cast<clock::duration>(std::chrono::seconds(1)).count();
    if ((last == 0 || now - last >= second) &&
        last_log().compare_exchange_strong(last, now, std::memory_order_acq_rel)) {
      std::string line = "accept: ";
      line += message;
      rlimit limit{};
      if (error == EMFILE && getrlimit(RLIMIT_NOFILE, &limit) == 0)
        line += ": the open-file limit (RLIMIT_NOFILE " + std::to_string(limit.rlim_cur) + ") is reached";
      line += "; new connections wait (retrying within " + std::to_string(wait.count()) +
              " ms; at most one such line per second)";
      events.log(log_level::error, line);
    }
    return wait;
  }

  void succeeded() noexcept { next_ = first; }

 private:
  static std::atomic<clock::rep>& last_log() noexcept {
    static std::atomic<clock::rep> at{0};
    return at;
  }

  std::chrono::milliseconds next_ = first;
};

}  // namespace fastrt::http2
