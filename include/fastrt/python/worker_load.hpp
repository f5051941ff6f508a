// fastrt/python/worker_load.hpp — how busy one executor worker is: the
// numbers dispatch reads to choose a worker.
//
//   detail::worker_load load;
//   load.add_queued();                         // a producer queued a job
//   load.job_begins(now); ...; load.job_done();  // the worker, once per job
//   load.idle() / load.score(clock)            // dispatch, from any thread
//
// in_flight counts jobs queued, running or awaited as tasks in the worker's
// event loop (tasks counts those alone); running_since is when the current
// job began (0 between jobs). score = in_flight + milliseconds the current
// job has run: a job that has run long tends to run longer (a handler
// blocked on I/O or a lock), so its worker is passed over for workers with a
// few quick jobs queued. A snapshot: two producers may read the same score.
//
// Thread-safety: add_queued/remove_queued/idle/score from any thread;
// job_begins/job_done/job_became_task/task_done from the worker's thread. Cost: one atomic
// read-modify-write per queued or finished job, a release store per job
// start and end, two acquire loads per score (plus one clock read per
// dispatch, only when no worker is idle). Its own cache line.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace fastrt::python::detail {

inline std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The clock read once per dispatch, and only when a score needs it.
class lazy_now {
 public:
  std::int64_t ns() noexcept {
    if (ns_ == 0) ns_ = steady_now_ns();
    return ns_;
  }

 private:
  std::int64_t ns_ = 0;
};

class alignas(64) worker_load {
 public:
  void add_queued() noexcept { in_flight_.fetch_add(1, std::memory_order_acq_rel); }
  void remove_queued() noexcept { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

  void job_begins(std::int64_t now_ns) noexcept { running_since_.store(now_ns, std::memory_order_release); }
  // Called before the job's future completes, so that a caller who submits
  // again as soon as it has the result finds this worker free.
  void job_done() noexcept {
    running_since_.store(0, std::memory_order_release);
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  }

  // A job whose result was awaitable leaves the running slot but stays in
  // flight, as a task in the worker's event loop, until task_done().
  void job_became_task() noexcept {
    running_since_.store(0, std::memory_order_release);
    tasks_.fetch_add(1, std::memory_order_acq_rel);
  }
  void task_done() noexcept {
    tasks_.fetch_sub(1, std::memory_order_acq_rel);
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  }
  std::int64_t tasks() const noexcept { return tasks_.load(std::memory_order_acquire); }

  bool idle() const noexcept { return in_flight() <= 0; }
  std::int64_t in_flight() const noexcept { return in_flight_.load(std::memory_order_acquire); }

  std::int64_t score(lazy_now& now) const noexcept {
    std::int64_t score = in_flight();
    if (const std::int64_t since = running_since_.load(std::memory_order_acquire); since != 0) {
      score += std::max<std::int64_t>(0, now.ns() - since) / 1'000'000;
    }
    return score;
  }

 private:
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> running_since_{0};
  std::atomic<std::int64_t> tasks_{0};
};

}  // namespace fastrt::python::detail
