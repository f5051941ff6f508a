// fastrt/python/submission_gate.hpp — the handshake between submitters and
// shutdown, written once: after close() returns, no submission is still
// queueing a job and none will start.
//
//   detail::submission_gate gate;             // starting: passes nothing
//   gate.open();                              // accepting
//   if (!gate.pass([&] { queue(job); })) fail(job, canceled);
//   if (gate.close()) { /* this call closed it: drain, join */ }
//
// States (gate_state): starting -> accepting -> closed, or starting ->
// closed (a start that failed). pass(fn) runs fn only while accepting;
// close() moves to closed and waits until every fn that was let through has
// returned, so a worker's inbox can be closed without losing a job that a
// submitter was pushing at that moment.
//
// Thread-safety: any thread; fn must not call close() (it would wait for
// itself). Cost of pass: two seq_cst read-modify-writes and a seq_cst load
// on shared counters; close() yields while submitters are inside.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <utility>

namespace fastrt::python::detail {

enum class gate_state : std::uint8_t { starting, accepting, closed };

class submission_gate {
 public:
  void open() noexcept {
    gate_state expected = gate_state::starting;
    state_.compare_exchange_strong(expected, gate_state::accepting, std::memory_order_seq_cst);
  }

  // Runs fn() and returns true while accepting; false (fn not run) otherwise.
  template <class F>
  bool pass(F&& fn) {
    // seq_cst on both sides (a Dekker handshake): either close() sees this
    // submitter inside, or this submitter sees the gate closed.
    inside_.fetch_add(1, std::memory_order_seq_cst);
    if (state_.load(std::memory_order_seq_cst) != gate_state::accepting) {
      inside_.fetch_sub(1, std::memory_order_seq_cst);
      return false;
    }
    std::forward<F>(fn)();
    inside_.fetch_sub(1, std::memory_order_seq_cst);
    return true;
  }

  // Closes the gate and waits for the submitters inside. True for the call
  // that closed it; false when it was closed already (that call may still be
  // waiting).
  bool close() noexcept {
    if (state_.exchange(gate_state::closed, std::memory_order_seq_cst) == gate_state::closed) return false;
    while (inside_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    return true;
  }

  gate_state state() const noexcept { return state_.load(std::memory_order_acquire); }

 private:
  std::atomic<gate_state> state_{gate_state::starting};
  std::atomic<std::size_t> inside_{0};
};

}  // namespace fastrt::python::detail
