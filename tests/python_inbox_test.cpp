// ctest-labels: python concurrency
//
// detail::inbox (fastrt/python/inbox.hpp): bounded, FIFO, closes, and
// push_waiting waits for room with the caller's GIL released (the consumer
// may need that very GIL to drain).
#include <fastrt/python/inbox.hpp>
#include <fastrt/python/interpreter.hpp>
#include <fastrt/python/job.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

#include "support/python.hpp"

namespace py = fastrt::python;
using py::detail::inbox;
using py::detail::job;
using py::detail::make_job;

namespace {

struct made {
  job j;
  fastrt::awaitable_future<fastrt::result<int>> future;
};

made make(int value) {
  auto [j, future] = make_job<fastrt::result<int>>([value](py::call_context&) { return value; });
  return {j, std::move(future)};
}

// Ends the process when a test has not finished in time: a deadlock fails
// the run within seconds, not at ctest's timeout.
class watchdog {
 public:
  explicit watchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          const auto give_up = std::chrono::steady_clock::now() + limit;
          while (!done_.load(std::memory_order_acquire)) {
            if (std::chrono::steady_clock::now() > give_up) {
              std::fputs("python_inbox_test: deadlock (watchdog)\n", stderr);
              std::_Exit(2);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~watchdog() {
    done_.store(true, std::memory_order_release);
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("an inbox is bounded and FIFO, for one producer or many") {
  for (const py::producers who : {py::producers::one, py::producers::many}) {
    inbox box(who, 4);
    std::vector<made> queued;
    for (int i = 0;; ++i) {
      made m = make(i);
      if (!box.try_push(m.j)) {
        m.j.fail(fastrt::error(std::errc::resource_unavailable_try_again));
        CHECK(fastrt::sync_wait(std::move(m.future)).error() == std::errc::resource_unavailable_try_again);
        break;
      }
      queued.push_back(std::move(m));
      REQUIRE(i < 64);
    }
    CHECK(queued.size() == 4);
    std::vector<void*> order;
    CHECK(box.drain([&](job&& j) { order.push_back(j.self); j.fail(fastrt::error(fastrt::errc::canceled)); }, 100) == 4);
    REQUIRE(order.size() == queued.size());
    for (std::size_t i = 0; i < order.size(); ++i) CHECK(order[i] == queued[i].j.self);
    for (made& m : queued) CHECK(fastrt::sync_wait(std::move(m.future)).error() == fastrt::errc::canceled);
    box.close();
    CHECK_FALSE(box.wait_for_data());  // closed and empty: the consumer ends
  }
}

TEST_CASE("push_waiting waits for room and releases the caller's GIL meanwhile") {
  fastrt::test::python_runtime();
  watchdog guard(std::chrono::seconds(20));
  inbox box(py::producers::many, 1);
  std::vector<made> queued;
  for (;;) {  // full
    made m = make(0);
    if (!box.try_push(m.j)) {
      m.j.fail(fastrt::error(fastrt::errc::canceled));
      break;
    }
    queued.push_back(std::move(m));
  }
  made extra = make(1);
  std::atomic<bool> producer_waiting{false};
  std::atomic<bool> pushed{false};
  bool pushed_before_room = true;
  std::vector<void*> drained;
  // The consumer needs the main interpreter's GIL to drain, as a main worker
  // does: were the GIL kept while waiting, neither side would move.
  std::thread consumer([&] {
    while (!producer_waiting.load(std::memory_order_acquire)) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the producer is inside push_waiting by now
    {
      auto attached = py::interpreter::main().attach();
      pushed_before_room = pushed.load(std::memory_order_acquire);
      while (drained.size() < queued.size() + 1) {
        box.drain([&](job&& j) { drained.push_back(j.self); j.fail(fastrt::error(fastrt::errc::canceled)); }, 1);
        std::this_thread::yield();
      }
    }
    py::interpreter::main().release_thread();
  });
  bool gil_back = false;
  {
    auto attached = py::interpreter::main().attach();  // this thread holds the main GIL
    producer_waiting.store(true, std::memory_order_release);
    box.push_waiting(extra.j);
    pushed.store(true, std::memory_order_release);
    gil_back = py::detail::attached_thread_state() != nullptr;
  }
  consumer.join();
  CHECK_FALSE(pushed_before_room);
  CHECK(gil_back);
  REQUIRE(drained.size() == queued.size() + 1);
  for (std::size_t i = 0; i < queued.size(); ++i) CHECK(drained[i] == queued[i].j.self);
  CHECK(drained.back() == extra.j.self);
  for (made& m : queued) CHECK(fastrt::sync_wait(std::move(m.future)).error() == fastrt::errc::canceled);
  CHECK(fastrt::sync_wait(std::move(extra.future)).error() == fastrt::errc::canceled);
}
