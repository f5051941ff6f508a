// in_flight_calls.hpp — the Python app calls running right now, so that a shutdown
// that times out can say what it is waiting for ("GET /sleep (pinned worker
// 0, 3.1 s)"). The server keeps it, not the executor: only the server knows
// which request a call is for.
//
//   in_flight_calls calls;
//   { in_flight_calls::entry running(calls, req, ctx); ...call the app... }
//   calls.describe(now)   // "GET /sleep (pinned worker 0, 3.1 s), ..."
//
// Thread-safety: entries come and go on the worker threads, describe() runs
// on any thread; one mutex guards the list (never held while Python runs).
// Cost: two uncontended lock/unlock pairs per app call, no allocation (an
// entry lives on the worker's stack and only borrows the request).
#pragma once

#include <fastrt/python/subinterpreter_executor.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include <fastrt/http2/request.hpp>

namespace fastrt::http2::python {

class in_flight_calls {
 public:
  using clock = std::chrono::steady_clock;

  // Registers one running call for its lifetime. `req` must outlive it (it
  // does: the job owns the request while the app runs).
  class entry {
   public:
    entry(in_flight_calls* calls, const request& req, const fastrt::python::call_context& ctx)
        : calls_(calls), req_(&req), kind_(ctx.kind()), worker_(ctx.worker_index()), started_(clock::now()) {
      if (!calls_) return;
      std::lock_guard lock(calls_->mutex_);
      next_ = calls_->head_;
      if (next_) next_->prev_ = this;
      calls_->head_ = this;
    }
    entry(const entry&) = delete;
    entry& operator=(const entry&) = delete;
    ~entry() {
      if (!calls_) return;
      std::lock_guard lock(calls_->mutex_);
      if (prev_) prev_->next_ = next_;
      else calls_->head_ = next_;
      if (next_) next_->prev_ = prev_;
    }

   private:
    friend class in_flight_calls;
    in_flight_calls* calls_;
    const request* req_;
    fastrt::python::worker_kind kind_;
    std::size_t worker_;
    clock::time_point started_;
    entry* prev_ = nullptr;
    entry* next_ = nullptr;
  };

  // "METHOD /path (KIND worker N, S.s s)" per running call, joined with
  // ", "; empty when none runs.
  std::string describe(clock::time_point now = clock::now()) const {
    std::string out;
    std::lock_guard lock(mutex_);
    for (const entry* e = head_; e; e = e->next_) {
      const double seconds = std::chrono::duration<double>(now - e->started_).count();
      char timing[96];
      std::snprintf(timing, sizeof timing, " (%s worker %zu, %.1f s)", fastrt::python::to_string(e->kind_), e->worker_,
                    seconds);
      if (!out.empty()) out += ", ";
      ((out += e->req_->method) += ' ') += e->req_->path;
      out += timing;
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  entry* head_ = nullptr;
};

}  // namespace fastrt::http2::python
