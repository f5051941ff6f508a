// fastrt/detail/io_operation.hpp — the life of one io_uring request.
//
// Every submission's user_data points at an io_completion; the loop calls its
// `complete` function with the CQE's result and flags. io_operation adds what
// a one-shot request awaited by a coroutine needs:
//
//   * it lives on the heap (frame allocator) and is reference-counted: one
//     reference for the kernel (dropped by the completion), one for the
//     awaiter, one per pending cross-thread cancel request. So any memory the
//     request uses (a timespec, a sockaddr, an iovec) stays valid until its
//     completion arrives, even when the awaiting coroutine was destroyed;
//   * cancellation through the awaiting coroutine's std::stop_token: the stop
//     callback may run on any thread, so it only posts a request to the loop,
//     which submits IORING_OP_ASYNC_CANCEL for this operation.
//
// Thread-safety: everything but the stop callback runs on the loop thread.
#pragma once

#include <liburing.h>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <new>
#include <optional>
#include <stop_token>
#include <utility>

#include "frame_allocator.hpp"

namespace fastrt {
class io_context;
}

namespace fastrt::detail {

struct io_completion {
  void (*complete)(io_completion* self, int res, unsigned flags) noexcept;
};

// user_data values that are not io_completion pointers.
inline constexpr std::uint64_t ignored_completion = 0;  // e.g. the result of an ASYNC_CANCEL
inline constexpr std::uint64_t eventfd_wakeup = 1;      // the loop's read of its eventfd
inline constexpr std::uint64_t msg_ring_wakeup = 2;     // a MSG_RING sent by a poster

class io_operation : public io_completion {
 public:
  explicit io_operation(io_context& ctx) noexcept : io_completion{&on_complete}, ctx_(&ctx) {}
  io_operation(const io_operation&) = delete;
  io_operation& operator=(const io_operation&) = delete;

  template <class Op, class... Args>
  static Op* create(io_context& ctx, Args&&... args) {
    static_assert(std::is_base_of_v<io_operation, Op>);
    void* memory = frame_allocator::allocate(sizeof(Op));
    Op* op = ::new (memory) Op(ctx, std::forward<Args>(args)...);
    op->destroy_ = [](io_operation* self) noexcept {
      auto* typed = static_cast<Op*>(self);
      typed->~Op();
      frame_allocator::deallocate(typed, sizeof(Op));
    };
    return op;
  }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy_(this);
  }

  io_context& context() const noexcept { return *ctx_; }
  bool completed() const noexcept { return completed_; }
  int res() const noexcept { return res_; }
  unsigned flags() const noexcept { return flags_; }
  void set_waiter(std::coroutine_handle<> h) noexcept { waiter_ = h; }
  // The awaiter went away: nobody is resumed when the completion comes.
  void abandon() noexcept { waiter_ = {}; }

 protected:
  ~io_operation() = default;

 private:
  static void on_complete(io_completion* self, int res, unsigned flags) noexcept {
    auto* op = static_cast<io_operation*>(self);
    op->res_ = res;
    op->flags_ = flags;
    op->completed_ = true;
    const std::coroutine_handle<> waiter = op->waiter_;
    op->release();  // the kernel's reference
    if (waiter) waiter.resume();
  }

  io_context* ctx_;
  void (*destroy_)(io_operation*) noexcept = nullptr;
  std::coroutine_handle<> waiter_;
  std::atomic<std::uint32_t> refs_{2};  // kernel + awaiter
  int res_ = 0;
  unsigned flags_ = 0;
  bool completed_ = false;
};

}  // namespace fastrt::detail
