// fastrt/python/inbox.hpp — a worker's queue of jobs: bounded, with a
// consumer that sleeps while it is empty, and back-pressure for producers.
//
//   detail::inbox box(producers::many, 4096);
//   box.try_push(j);              // false when full
//   box.push_waiting(j);          // waits for room (GIL released meanwhile)
//   while (box.wait_for_data()) box.drain(run, batch);   // the worker
//   box.close();                  // wait_for_data() is false once empty
//
// The queue is an spsc_queue when one producer is promised
// (producers::one), an mpsc_queue otherwise, in a waitable_queue whose
// consumer yields a few times, then sleeps on a futex.
//
// Back-pressure: push_waiting yields a few times, then sleeps with a backoff
// capped at 200 us, so a long wait does not burn a core, and it releases the
// GIL of the calling thread (if it holds one) meanwhile: the consumer may need
// that very GIL to drain (e.g. two main-interpreter workers). The consumer
// must not call it on its own inbox (it would wait for itself).
//
// A consumer that runs an asyncio loop (event_loop.hpp) sleeps in its
// selector instead, on wakeup(): a push also notifies that (one RMW; a write
// to its eventfd only when the loop sleeps).
//
// Thread-safety: as the queue (one consumer; one producer or many); close()
// from any thread. Cost: a push is the queue's lock-free push and two RMWs
// (futex and loop wake-ups), plus a syscall only when the consumer sleeps.
#pragma once

#include <Python.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>

#include "../mpsc_queue.hpp"
#include "../spsc_queue.hpp"
#include "../waitable_queue.hpp"
#include "job.hpp"
#include "loop_wakeup.hpp"
#include "runtime.hpp"

namespace fastrt::python {

// Who submits to an inbox: one thread at a time (spsc) or many (mpsc).
enum class producers : std::uint8_t { one, many };

namespace detail {

// Runs wait() with the calling thread's GIL released, if it holds one, and
// takes it back after: whatever wait() waits for may need that GIL.
template <class Wait>
void wait_without_gil(Wait&& wait) {
  PyThreadState* attached = attached_thread_state();
  if (attached) PyEval_SaveThread();
  std::forward<Wait>(wait)();
  if (attached) PyEval_RestoreThread(attached);
}

class inbox {
 public:
  inbox(producers who, std::size_t capacity) {
    if (who == producers::one) one_ = std::make_unique<waitable_queue<spsc_queue<job>>>(capacity, idle_options);
    else many_ = std::make_unique<waitable_queue<mpsc_queue<job>>>(capacity, idle_options);
  }

  bool try_push(const job& j) {
    if (!(one_ ? one_->try_push(j) : many_->try_push(j))) return false;
    wakeup_.notify();  // a worker running an event loop sleeps in its selector, not on the futex
    return true;
  }

  void push_waiting(const job& j) {
    if (try_push(j)) return;
    wait_without_gil([&] {
      std::chrono::microseconds pause{1};
      for (unsigned round = 0; !try_push(j); ++round) {
        if (round < 16) {
          std::this_thread::yield();
        } else {
          std::this_thread::sleep_for(pause);
          pause = std::min(pause * 2, std::chrono::microseconds{200});
        }
      }
    });
  }

  bool wait_for_data() { return one_ ? one_->wait_for_data() : many_->wait_for_data(); }
  template <class Fn>
  std::size_t drain(Fn&& fn, std::size_t limit) {
    return one_ ? one_->queue().drain(fn, limit) : many_->queue().drain(fn, limit);
  }
  void close() noexcept {
    if (one_) one_->close();
    else many_->close();
    wakeup_.notify();
  }
  bool closed() const noexcept { return one_ ? one_->closed() : many_->closed(); }
  bool empty_approx() const noexcept { return one_ ? one_->empty_approx() : many_->empty_approx(); }
  // Written when the consumer, running an event loop, sleeps in its selector.
  loop_wakeup& wakeup() noexcept { return wakeup_; }
  const loop_wakeup& wakeup() const noexcept { return wakeup_; }

 private:
  // No pause-spin, only yields (~0.2 us each when nothing else wants the
  // CPU), then the futex. Measured (bench/README.md, issue 15): on the test
  // VM the kernel woke a worker on the CPU of the thread that submitted,
  // which then waited there for the result; a worker that pause-spun after
  // its job kept it off that CPU for the whole spin (512 pauses: +6..12 us
  // per round trip), while a yield hands the CPU over at once.
  static constexpr wait_options idle_options{.spin_rounds = 0, .yield_rounds = 16};
  std::unique_ptr<waitable_queue<spsc_queue<job>>> one_;
  std::unique_ptr<waitable_queue<mpsc_queue<job>>> many_;
  loop_wakeup wakeup_;
};

}  // namespace detail
}  // namespace fastrt::python
