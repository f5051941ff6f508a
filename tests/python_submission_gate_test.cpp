// ctest-labels: concurrency
//
// detail::submission_gate (fastrt/python/submission_gate.hpp): the
// handshake between submitters and shutdown that the executor once wrote
// twice (submit and load). No CPython needed.
#include <fastrt/python/submission_gate.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

using fastrt::python::detail::gate_state;
using fastrt::python::detail::submission_gate;

TEST_CASE("the gate passes submissions only while accepting") {
  submission_gate gate;
  int ran = 0;
  CHECK(gate.state() == gate_state::starting);
  CHECK_FALSE(gate.pass([&] { ++ran; }));
  gate.open();
  CHECK(gate.state() == gate_state::accepting);
  CHECK(gate.pass([&] { ++ran; }));
  CHECK(gate.close());
  CHECK(gate.state() == gate_state::closed);
  CHECK_FALSE(gate.pass([&] { ++ran; }));
  CHECK(ran == 1);
  CHECK_FALSE(gate.close());  // only the first close does the work
  gate.open();                // a closed gate stays closed
  CHECK(gate.state() == gate_state::closed);
}

TEST_CASE("a gate that never opened closes (a failed start)") {
  submission_gate gate;
  CHECK(gate.close());
  CHECK_FALSE(gate.pass([] {}));
}

TEST_CASE("close() waits for a submission that is inside") {
  submission_gate gate;
  gate.open();
  std::atomic<bool> entered{false}, left{false};
  bool passed = false;
  std::thread submitter([&] {
    passed = gate.pass([&] {
      entered.store(true, std::memory_order_release);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // e.g. an inbox push waiting for room
      left.store(true, std::memory_order_release);
    });
  });
  while (!entered.load(std::memory_order_acquire)) std::this_thread::yield();
  REQUIRE(gate.close());
  const bool left_before_close_returned = left.load(std::memory_order_acquire);
  submitter.join();
  CHECK(passed);
  CHECK(left_before_close_returned);
}

TEST_CASE("after close() returns, no submission is inside and none gets in") {
  for (int round = 0; round < 50; ++round) {
    submission_gate gate;
    gate.open();
    std::atomic<int> inside{0};
    std::atomic<bool> closed{false};
    std::atomic<int> late{0};  // a submission inside after close() returned
    std::vector<std::thread> submitters;
    for (int t = 0; t < 3; ++t) {
      submitters.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          (void)gate.pass([&] {
            inside.fetch_add(1, std::memory_order_acq_rel);
            std::this_thread::yield();  // widen the window close() must wait out
            if (closed.load(std::memory_order_acquire)) late.fetch_add(1, std::memory_order_relaxed);
            inside.fetch_sub(1, std::memory_order_acq_rel);
          });
        }
      });
    }
    std::this_thread::yield();
    REQUIRE(gate.close());
    closed.store(true, std::memory_order_release);
    CHECK(inside.load(std::memory_order_acquire) == 0);
    for (auto& t : submitters) t.join();
    CHECK(late.load() == 0);
  }
}
