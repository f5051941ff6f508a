// in_flight_calls.hpp — the Python app calls running right now, so that a shutdown
// that times out can say what it is waiting for ("GET /sleep (pinned worker
// 0, 3.1 s)"). The server keeps it, not the executor: only the server knows
// which request a call is for.
//
//   in_flight_calls calls;
//   { in_flight_calls::entry running(calls, req, ctx); ...call the app... }
//   calls.describe(now)   // "GET /sleep (pinned worker 0, 3.1 s), ..."
//
// A sync call's entry lives on the worker's stack for the call; an async
// or ASGI call outlives its first job, so its entry is owned by a Python
// object that lives as long as the app's coroutine (in_flight_capsule.hpp).
//
// Thread-safety: entries come and go on the worker threads, describe() runs
// on any thread; one mutex guards the list (never held while Python runs).
// Cost: two uncontended lock/unlock pairs per app call, no allocation (an
// entry only borrows the method and path).
#pragma once

#include <fastrt/python/subinterpreter_executor.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

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
        : entry(calls, req.method, req.path, ctx.kind(), ctx.worker_index()) {}
    // The same with the method and path borrowed from elsewhere (they must
    // outlive the entry).
    entry(in_flight_calls* calls, std::string_view method, std::string_view path, fastrt::python::worker_kind kind,
          std::size_t worker)
        : calls_(calls), method_(method), path_(path), kind_(kind), worker_(worker), started_(clock::now()) {
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
    std::string_view method_;
    std::string_view path_;
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
      ((out += e->method_) += ' ') += e->path_;
      out += timing;
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  entry* head_ = nullptr;
};

}  // namespace fastrt::http2::python
