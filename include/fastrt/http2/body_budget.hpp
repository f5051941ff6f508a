// body_budget.hpp — how many bytes of request and response bodies the server
// holds in memory, per connection and server-wide, so that what hostile
// clients make it buffer (uploads that never finish, answers nobody reads)
// stays bounded whatever they do.
//
// A connection charges the bytes it is about to hold (a request body chunk,
// a response body, a streamed piece) with try_charge() and gives them back
// with release() when it drops them. A charge that would pass either limit
// fails and changes nothing: the caller refuses the stream (REFUSED_STREAM)
// or answers 503 instead of holding the bytes.
//
// Thread-safety: server_body_budget is shared by every io thread (one atomic
// counter, relaxed: it is a budget, not a synchronisation point);
// connection_body_budget belongs to one connection (its io thread).
// Cost: one atomic add per charge and per release.
#pragma once

#include <atomic>
#include <cstddef>

namespace fastrt::http2 {

class server_body_budget {
 public:
  // `limit` 0: no server-wide limit.
  bool try_charge(std::size_t n, std::size_t limit) noexcept {
    const std::size_t before = used_.fetch_add(n, std::memory_order_relaxed);
    if (limit == 0 || before + n <= limit) return true;
    used_.fetch_sub(n, std::memory_order_relaxed);
    return false;
  }
  void release(std::size_t n) noexcept { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> used_{0};
};

class connection_body_budget {
 public:
  // Limits of 0: unlimited.
  connection_body_budget(server_body_budget& server, std::size_t connection_limit, std::size_t server_limit) noexcept
      : server_(server), limit_(connection_limit), server_limit_(server_limit) {}
  connection_body_budget(const connection_body_budget&) = delete;
  connection_body_budget& operator=(const connection_body_budget&) = delete;
  ~connection_body_budget() { server_.release(used_); }

  bool try_charge(std::size_t n) noexcept {
    if (n == 0) return true;
    if (limit_ != 0 && used_ + n > limit_) return false;
    if (!server_.try_charge(n, server_limit_)) return false;
    used_ += n;
    return true;
  }
  void release(std::size_t n) noexcept {
    if (n == 0) return;  // most streams hold nothing at close: no shared cache line touched
    used_ -= n;
    server_.release(n);
  }
  std::size_t used() const noexcept { return used_; }

 private:
  server_body_budget& server_;
  std::size_t limit_;
  std::size_t server_limit_;
  std::size_t used_ = 0;
};

}  // namespace fastrt::http2
