// fastrt/detail/io_awaiter.hpp — awaiting one io_operation from a coroutine.
//
// io_awaiter<Op> creates the operation, lets it fill its submission entry
// (Op::prepare(io_uring_sqe*)), suspends, and yields the CQE result. If the
// awaiting coroutine has a stop token, a stop request cancels the request
// (IORING_OP_ASYNC_CANCEL, submitted on the loop thread). If the coroutine is
// destroyed while the request is in flight, the request is cancelled and the
// operation (with every buffer it owns) lives on until its completion.
//
// Thread-safety: created, awaited and destroyed on the loop thread; only the
// stop callback may run elsewhere.
#pragma once

#include <coroutine>
#include <functional>
#include <optional>
#include <stop_token>
#include <utility>

#include "../io_context.hpp"
#include "io_operation.hpp"
#include "retained.hpp"

namespace fastrt::detail {

template <class Op>
class io_awaiter {
 public:
  template <class... Args>
  explicit io_awaiter(io_context& ctx, Args&&... args)
      : op_(io_operation::create<Op>(ctx, std::forward<Args>(args)...)) {}
  io_awaiter(io_awaiter&& other) noexcept : op_(std::exchange(other.op_, nullptr)) {}
  io_awaiter(const io_awaiter&) = delete;
  io_awaiter& operator=(const io_awaiter&) = delete;
  ~io_awaiter() {
    if (!op_) return;
    stop_.reset();  // waits for a stop callback that is running right now
    if (submitted_ && !op_->completed()) {
      op_->abandon();
      op_->context().cancel(static_cast<io_completion*>(op_));
    } else if (!submitted_) {
      op_->release();  // the kernel never saw it: drop its reference too
    }
    op_->release();
  }

  bool await_ready() const noexcept { return false; }

  template <class Promise>
  void await_suspend(std::coroutine_handle<Promise> h) {
    op_->set_waiter(h);
    io_uring_sqe* entry = op_->context().sqe_for(op_);
    op_->prepare(entry);  // the prep helpers leave user_data alone
    submitted_ = true;
    if constexpr (requires { h.promise().stop_token_ptr(); }) {
      const std::stop_token* token = h.promise().stop_token_ptr();
      if (token && token->stop_possible()) stop_.emplace(*token, canceller{op_, &stop_});
    }
  }

  // The operation, completed: its res(), flags() and any output it holds.
  Op& await_resume() noexcept {
    stop_.reset();
    return *op_;
  }

 private:
  // Runs on whichever thread requests the stop. Another thread hands the
  // cancel to the loop (the posted function holds a reference, dropped even
  // if it never runs). The loop thread itself (when_any's winner stopping a
  // timer: once per request with a timeout) cancels at once and then
  // destroys its own stop_callback: libstdc++ then skips the semaphore
  // release it does after every callback that outlives its run, which costs
  // a futex syscall each time (measured: one per Python request).
  struct canceller {
    Op* op;
    std::optional<std::stop_callback<canceller>>* slot;
    void operator()() const {
      Op* const target = op;
      if (io_context::current() != &target->context()) {
        target->context().post([keep = retained<Op>(target)] {
          if (!keep->completed()) keep->context().cancel(static_cast<io_completion*>(keep.get()));
        });
        return;
      }
      if (!target->completed()) target->context().cancel(static_cast<io_completion*>(target));
      // Last, and nothing of *this is touched after it: this destroys the
      // callback now running (allowed on the requesting thread). A stop that
      // was already requested runs us inside stop_.emplace(), before the
      // optional holds a value: reset() is then a no-op.
      slot->reset();
    }
  };

  Op* op_;
  bool submitted_ = false;
  std::optional<std::stop_callback<canceller>> stop_;
};

// The stop callback type the io awaitables register.
using loop_stop_callback = std::stop_callback<std::function<void()>>;

// If `h`'s coroutine has a stoppable token, registers a callback that runs
// `on_stop()` on the loop thread of `state`'s io_context (a stop may be
// requested from any thread; only the loop may touch the ring). `state` is
// kept alive until the posted function has run or been discarded.
template <class Promise, class State, class OnStop>
void relay_stop_to_loop(std::coroutine_handle<Promise> h, State* state, std::optional<loop_stop_callback>& slot,
                        OnStop on_stop) {
  if constexpr (requires { h.promise().stop_token_ptr(); }) {
    const std::stop_token* token = h.promise().stop_token_ptr();
    if (!token || !token->stop_possible()) return;
    slot.emplace(*token, [state, on_stop] {
      state->context().post([keep = retained<State>(state), on_stop] { on_stop(); });
    });
  }
}

}  // namespace fastrt::detail
