// fastrt/python/worker.hpp — one executor worker: a thread, the interpreter
// it runs in, its inbox and its load; and what the workers of one executor
// share (start-up report, batch size, shutdown deadline).
//
//   detail::worker_crew crew(batch);
//   detail::worker w(owner, worker_kind::pinned, 0, &slot, producers::many, 4096);
//   w.start(crew);  crew.wait_started(1);     // the thread runs, its interpreter exists
//   w.push(j);                                // or w.offer(j): no waiting
//   crew.set_deadline(grace);  w.close();  w.join();
//
// Lifecycle of the thread: a pinned worker creates its own-GIL
// subinterpreter (the thread that owns it creates it) and reports to the
// crew; pooled and main workers attach the interpreter of their slot (made
// by the executor). Then, until its inbox is closed and empty: sleep while
// empty, take the GIL, run up to `batch` jobs, release the GIL. The first
// job whose Python result is awaitable (call_context::await_in_loop) makes
// the worker's asyncio event loop (event_loop.hpp), for every kind of
// worker: from then on the loop runs the worker, drains the inbox from its
// reader callback and sleeps in its selector, woken through the inbox's
// eventfd (loop_wakeup.hpp) instead of the futex. A worker that never sees
// an awaitable never imports asyncio. A job that
// has not started when the shutdown deadline has passed fails with
// errc::timed_out (a running one is not interrupted; a task in the loop is
// cancelled and fails with errc::timed_out). At the end a pinned
// worker drops its handlers and ends its interpreter; the others release
// their thread state (the executor ends pooled interpreters).
//
// In flight: a job counts in the worker's load from its push until it is
// done (see worker_load.hpp). push() waits for room (inbox back-pressure);
// a worker pushing into its own full inbox would wait forever, so that job
// fails with resource_unavailable_try_again instead. offer() also refuses
// while the loop runs max_tasks tasks (full()); push() only waits for room.
//
// Thread-safety: offer/push from any thread (one at a time with
// producers::one); start/close/join from the owner; current() is this
// thread's worker. Cost: see inbox.hpp and worker_load.hpp; GIL
// re-acquisition once per batch.
#pragma once

#include <Python.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"
#include "call_context.hpp"
#include "event_loop.hpp"
#include "handler_registry.hpp"
#include "inbox.hpp"
#include "interpreter.hpp"
#include "job.hpp"
#include "worker_load.hpp"

namespace fastrt::python::detail {

// One interpreter that jobs run in, and the handlers resolved in it.
struct interpreter_slot {
  std::unique_ptr<interpreter> owned;  // pinned / pooled; null for main
  interpreter* interp = nullptr;
  worker_kind kind = worker_kind::pinned;
  std::size_t index = 0;
  handler_table handlers;
};

// What the workers of one executor share.
class worker_crew {
 public:
  explicit worker_crew(std::size_t batch) noexcept : batch_(batch == 0 ? 1 : batch) {}

  std::size_t batch() const noexcept { return batch_; }

  // Each worker reports once, with its start-up failure or null.
  void report_started(const error* failure) {
    std::lock_guard lock(start_mutex_);
    if (failure && start_error_.empty()) start_error_ = std::string(failure->message());
    ++started_;
    start_cv_.notify_all();
  }
  // Waits for `workers` reports; the first failure's text as an error.
  result<void> wait_started(std::size_t workers) {
    std::unique_lock lock(start_mutex_);
    start_cv_.wait(lock, [&] { return started_ == workers; });
    if (!start_error_.empty()) return error(std::errc::resource_unavailable_try_again, start_error_);
    return {};
  }

  // Jobs not started `grace` from now fail (never, with the default).
  void set_deadline(std::chrono::nanoseconds grace) noexcept {
    const std::int64_t now = steady_now_ns();
    const std::int64_t limit = grace.count() >= no_deadline - now ? no_deadline : now + grace.count();
    deadline_ns_.store(limit, std::memory_order_release);
  }
  bool past_deadline() const noexcept {
    const std::int64_t deadline = deadline_ns_.load(std::memory_order_acquire);
    return deadline != no_deadline && steady_now_ns() > deadline;
  }
  std::int64_t deadline_ns() const noexcept { return deadline_ns_.load(std::memory_order_acquire); }
  void count_late() noexcept { late_.fetch_add(1, std::memory_order_relaxed); }
  // Read after the workers are joined.
  std::size_t late() const noexcept { return late_.load(std::memory_order_acquire); }

 private:
  static constexpr std::int64_t no_deadline = std::numeric_limits<std::int64_t>::max();
  const std::size_t batch_;
  std::atomic<std::int64_t> deadline_ns_{no_deadline};
  std::atomic<std::size_t> late_{0};
  std::mutex start_mutex_;
  std::condition_variable start_cv_;
  std::size_t started_ = 0;
  std::string start_error_;
};

class worker {
 public:
  worker(const void* owner, worker_kind kind, std::size_t index, interpreter_slot* slot, producers who,
         std::size_t capacity, std::size_t max_tasks = 256)
      : owner_(owner), kind_(kind), index_(index), slot_(slot), box_(who, capacity),
        max_tasks_(max_tasks == 0 ? 1 : max_tasks) {}
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker() { join(); }

  worker_kind kind() const noexcept { return kind_; }
  std::size_t index() const noexcept { return index_; }
  interpreter_slot* slot() const noexcept { return slot_; }
  const worker_load& load() const noexcept { return load_; }
  // How many times producers woke its event loop (an eventfd write): once
  // per batch that found the loop asleep. For tests and metrics.
  std::uint64_t loop_wakeups() const noexcept { return box_.wakeup().writes(); }
  // Whose worker this is (the executor that made it).
  const void* owner() const noexcept { return owner_; }
  // The worker the calling thread is; null on other threads.
  static worker* current() noexcept { return current_; }

  void start(worker_crew& crew) {
    thread_ = std::thread([this, &crew] { run(crew); });
  }
  // The thread ends once what is queued has run (or failed).
  void close() noexcept { box_.close(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  // Whether its event loop has as many tasks as it may take (offer() refuses then).
  bool full() const noexcept { return load_.tasks() >= static_cast<std::int64_t>(max_tasks_); }

  // Queues j without waiting; counts it in flight when queued. False when
  // the inbox is full, or the worker is full() of tasks.
  bool offer(const job& j) { return !full() && enqueue(j); }

  // Queues j, waiting for room (see "In flight"); not refused by full().
  void push(const job& j) {
    if (enqueue(j)) return;
    if (current_ == this) {
      static const error own_full(std::errc::resource_unavailable_try_again,
                                  "subinterpreter_executor: a worker submitted to its own full inbox");
      j.fail(own_full);
      return;
    }
    load_.add_queued();  // counted while it waits for room
    box_.push_waiting(j);
  }

 private:
  void run(worker_crew& crew) {
    name_thread();
    if (kind_ == worker_kind::pinned) {
      auto created = interpreter::create();  // the thread that owns it creates it
      if (!created) {
        crew.report_started(&created.error());
        while (box_.wait_for_data()) fail_queued(crew.batch());  // nothing is queued for it, but stay correct
        return;
      }
      slot_->owned = std::move(created).value();
      slot_->interp = slot_->owned.get();
    }
    crew.report_started(nullptr);

    current_ = this;
    PyThreadState* state = slot_->interp->thread_state();  // once per (thread, interpreter)
    call_context ctx(kind_, index_, slot_->index, slot_->interp, &slot_->handlers, &load_);
    ctx.loop_ = loop_entry{&spawn_in_loop, this};
    ctx_ = &ctx;
    crew_ = &crew;
    while (box_.wait_for_data()) {
      PyEval_RestoreThread(state);
      drain_batch(this);
      if (loop_) {
        // A job's result was awaitable: from now on the loop runs this
        // worker, and sleeps in its selector rather than on the futex,
        // until the inbox is closed and drained and no task is left (or
        // the loop failed: then back to this loop).
        loop_->run();
        loop_.reset();
      }
      PyEval_SaveThread();
    }
    current_ = nullptr;
    ctx_ = nullptr;

    if (kind_ == worker_kind::pinned) {
      PyEval_RestoreThread(state);
      slot_->handlers.clear();
      PyEval_SaveThread();
      if (auto ended = slot_->owned->end(); !ended) ended.error().print(stderr, "fastrt: ending a pinned interpreter");
      slot_->owned.reset();
      slot_->interp = nullptr;
    } else {
      slot_->interp->release_thread();
    }
  }

  void fail_queued(std::size_t batch) {
    static const error failure(std::errc::resource_unavailable_try_again, "worker has no interpreter");
    box_.drain(
        [this](job&& j) {
          j.fail(failure);
          load_.remove_queued();
        },
        batch);
  }

  // "py-pinned-3", "py-pooled-0", "py-main-1" in top -H, gdb, /proc/PID/task/*/comm
  // (Linux keeps 15 characters).
  void name_thread() const noexcept {
    char name[16];
    std::snprintf(name, sizeof name, "py-%s-%zu", to_string(kind_), index_);
    (void)pthread_setname_np(pthread_self(), name);
  }

  bool enqueue(const job& j) {
    load_.add_queued();
    if (box_.try_push(j)) return true;
    load_.remove_queued();
    return false;
  }

  // Runs (or, past the shutdown deadline, fails) one job.
  void run_one(job&& j) {
    ctx_->job_begins();
    if (crew_->past_deadline()) {
      crew_->count_late();
      static const error late(errc::timed_out,
                              "subinterpreter_executor shut down: the deadline passed before this job started");
      j.fail(late);
    } else {
      j.run(*ctx_);  // counts the job finished before completing its future
    }
    ctx_->job_finished();  // when it did not (failed, or thrown through)
  }
  // Up to `batch` queued jobs; how many ran. Also the loop's host.drain.
  static std::size_t drain_batch(void* self) {
    auto* w = static_cast<worker*>(self);
    return w->box_.drain([w](job&& j) { w->run_one(std::move(j)); }, w->crew_->batch());
  }

  // call_context::await_in_loop: the loop is made by the first awaitable job.
  static result<void> spawn_in_loop(void* self, PyObject* awaitable, awaited_call then, std::stop_token token) {
    auto* w = static_cast<worker*>(self);
    if (!w->loop_) {
      loop_host host{w, w->crew_->batch(), &drain_batch,
                     [](void* s) { return static_cast<worker*>(s)->crew_->deadline_ns(); },
                     [](void* s) { static_cast<worker*>(s)->crew_->count_late(); }};
      auto made = worker_loop::create(*w->ctx_, w->box_, host);
      if (!made) {
        Py_DECREF(awaitable);
        return std::move(made).error();
      }
      w->loop_ = std::move(made).value();
    }
    return w->loop_->spawn(awaitable, then, std::move(token));
  }

  const void* owner_;
  worker_kind kind_;
  std::size_t index_;
  interpreter_slot* slot_;
  inbox box_;
  worker_load load_;
  std::size_t max_tasks_;
  // The worker's thread only, while it runs.
  std::unique_ptr<worker_loop> loop_;
  call_context* ctx_ = nullptr;
  worker_crew* crew_ = nullptr;
  std::thread thread_;
  static inline thread_local worker* current_ = nullptr;
};

}  // namespace fastrt::python::detail
