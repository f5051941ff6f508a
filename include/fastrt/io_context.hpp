// fastrt/io_context.hpp — an io_uring event loop, one per thread.
//
//   auto ctx = fastrt::io_context::create().value();   // or handle the error
//   ctx->post(...); ctx->run();                        // until ctx->stop()
//
// An io_context owns one ring. At creation it probes the kernel and asks for
// IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (completions are processed only
// when the loop asks: no interrupts, fewer context switches), falling back to
// COOP_TASKRUN, then to a plain ring. If io_uring cannot be set up at all (an
// old kernel, a container's seccomp profile) create() returns an error that
// says so and what to do.
//
// It is an executor (post(std::coroutine_handle<>)), so an awaitable_future
// completed elsewhere resumes its coroutine on this loop. post() and stop()
// may be called from any thread: work goes through an mpsc_queue and the loop
// is woken (an IORING_OP_MSG_RING, or an eventfd write, see wakeup_method)
// only when it sleeps. Work posted from the loop's own thread goes to a local
// queue with no atomics at all.
//
// Thread-safety: run(), sqe() and the awaitables built on them belong to the
// loop thread — the thread that first calls run() (it becomes the ring's
// single issuer; another thread using it gets a fatal message, not a hang).
// post(), stop() and stopped() may be called from any thread, and never block;
// io_context::current() from any thread (it answers for the caller's own).
// Destroy the context after run() has returned, on the loop thread, so that
// requests still in flight (cancelled by their owners) are reaped; posted
// functions that never ran are then destroyed without running.
#pragma once

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "buffer_ring.hpp"
#include "detail/fatal.hpp"
#include "detail/frame_allocator.hpp"
#include "detail/io_operation.hpp"
#include "executor.hpp"
#include "mpsc_queue.hpp"
#include "result.hpp"

namespace fastrt {

enum class wakeup_method {
  eventfd,   // the poster writes an eventfd the loop has a read armed on
  msg_ring,  // the poster submits IORING_OP_MSG_RING through a small ring of its own
};

struct io_context_options {
  unsigned entries = 256;                  // submission queue size (completion queue: 2x)
  std::size_t post_capacity = 4096;        // cross-thread inbox slots
  // msg_ring measured ~20% faster per wake-up here (bench/io_context_bench.cpp,
  // bench/README.md); eventfd stays armed as the fallback either way.
  wakeup_method wakeup = wakeup_method::msg_ring;
  bool try_single_issuer = true;           // SINGLE_ISSUER | DEFER_TASKRUN where available
  buffer_ring_options receive_buffers{};   // shared by every multishot receive on this loop
};

namespace detail {

// The rings posting threads send MSG_RING wake-ups through. A thread leases
// one on its first wake-up and hands it back to a process-wide free list when
// it exits, so short-lived threads do not create and destroy a ring each
// (and the ring memory is never unmapped while another thread might reuse
// its addresses). At most as many rings as threads that posted at once.
class wakeup_sender_pool {
 public:
  static wakeup_sender_pool& instance() {
    // Never destroyed: threads may hand their ring back after static
    // destruction has begun. The rings are closed with the process.
    static wakeup_sender_pool* pool = new wakeup_sender_pool();
    return *pool;
  }
  io_uring* lease() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        io_uring* ring = free_.back();
        free_.pop_back();
        return ring;
      }
    }
    auto* ring = new io_uring{};
    if (io_uring_queue_init(4, ring, 0) != 0) {
      delete ring;
      return nullptr;
    }
    return ring;
  }
  void give_back(io_uring* ring) {
    std::lock_guard lock(mutex_);
    free_.push_back(ring);
  }

 private:
  std::mutex mutex_;
  std::vector<io_uring*> free_;
};

// This thread's sender ring, leased on first use; null if none can be made.
inline io_uring* wakeup_sender_ring() {
  struct lease {
    io_uring* ring = wakeup_sender_pool::instance().lease();
    ~lease() {
      if (ring) wakeup_sender_pool::instance().give_back(ring);
    }
  };
  static thread_local lease mine;
  return mine.ring;
}

// A unit of posted work: a function and its argument, 16 bytes. `execute`
// false means "the loop is gone: free your resources without running".
struct posted_work {
  void (*invoke)(void* arg, bool execute) noexcept;
  void* arg;
};
}  // namespace detail

class io_context {
 public:
  static result<std::unique_ptr<io_context>> create(io_context_options options = {}) {
    std::unique_ptr<io_context> ctx(new io_context(options));
    FASTRT_TRY(ctx->setup());
    return ctx;
  }

  io_context(const io_context&) = delete;
  io_context& operator=(const io_context&) = delete;
  ~io_context() {
    // A thread still inside post() or stop() (its work already visible to
    // the loop) may be about to wake us: let it leave first.
    while (callers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    drain_operations();
    discard_pending_work();
    buffers_.reset();  // unregisters from the ring, so before the ring goes
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  // Runs completions and posted work until stop(). The calling thread becomes
  // the loop thread (and the ring's single issuer).
  void run() {
    claim_issuer();
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    executor_scope scope(*this);
    const current_scope running(this);
    arm_wakeup();
    while (!stop_requested_.load(std::memory_order_acquire)) {
      bool progressed = run_ready();
      progressed |= reap() > 0;
      if (progressed) {
        submit(false);
        continue;
      }
      // Announce sleep, then look once more: a poster that saw us awake did
      // not wake us, so its work must be visible now (see wake_if_sleeping).
      sleeping_.exchange(true, std::memory_order_acq_rel);
      if (has_foreign_work() || stop_requested_.load(std::memory_order_acquire)) {
        sleeping_.store(false, std::memory_order_relaxed);
        continue;
      }
      submit(true);
      sleeping_.store(false, std::memory_order_release);
    }
    // Let work already posted run, so no coroutine is silently dropped.
    while (run_ready() || reap() > 0) submit(false);
    owner_.store(std::thread::id{}, std::memory_order_relaxed);
  }

  // The io_context whose run() is executing on the calling thread, or null
  // (a thread running no loop, or the loop's thread before run() / after it
  // returned). Code running on an io thread — a handler, a body_stream —
  // finds its loop here for timers without being handed it. Cost: one
  // thread_local read.
  static io_context* current() noexcept { return current_; }

  // Any thread. run() returns soon after.
  void stop() noexcept {
    if (running_in_this_thread()) {
      stop_requested_.store(true, std::memory_order_release);
      return;
    }
    callers_.fetch_add(1, std::memory_order_acq_rel);  // see ~io_context
    stop_requested_.store(true, std::memory_order_release);
    wake_if_sleeping(true);
    callers_.fetch_sub(1, std::memory_order_release);
  }
  bool stopped() const noexcept { return stop_requested_.load(std::memory_order_acquire); }
  // Clears a previous stop() so run() can be called again.
  void restart() noexcept { stop_requested_.store(false, std::memory_order_release); }

  // Any thread: resume `h` on the loop.
  void post(std::coroutine_handle<> h) {
    post_work({[](void* arg, bool execute) noexcept {
                 if (execute) std::coroutine_handle<>::from_address(arg).resume();
               },
               h.address()});
  }

  // Any thread: run `f()` on the loop (one frame-allocator block per call).
  template <class F>
    requires(!std::is_convertible_v<F, std::coroutine_handle<>>)
  void post(F&& f) {
    using fn = std::decay_t<F>;
    void* memory = detail::frame_allocator::allocate(sizeof(fn));
    fn* stored = ::new (memory) fn(std::forward<F>(f));
    post_work({[](void* arg, bool execute) noexcept {
                 fn* callable = static_cast<fn*>(arg);
                 if (execute) (*callable)();
                 callable->~fn();
                 detail::frame_allocator::deallocate(callable, sizeof(fn));
               },
               stored});
  }

  struct schedule_awaiter {
    io_context* ctx;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { ctx->post(h); }
    void await_resume() const noexcept {}
  };
  // `co_await ctx.schedule();` continues on this loop.
  schedule_awaiter schedule() noexcept { return {this}; }

  bool running_in_this_thread() const noexcept {
    return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }

  // Loop thread: a submission queue entry for a request whose completions go
  // to `completion`. Counted as in flight until its last completion (the one
  // without IORING_CQE_F_MORE), so the context can wait for it at the end.
  io_uring_sqe* sqe_for(detail::io_completion* completion) {
    io_uring_sqe* entry = sqe();
    io_uring_sqe_set_data(entry, completion);
    ++in_flight_;
    return entry;
  }
  // Requests submitted and not yet completed for good.
  std::size_t operations_in_flight() const noexcept { return in_flight_; }

  // Loop thread: a bare submission queue entry (its user_data must be one of
  // the reserved values). Submits first if the queue is full.
  io_uring_sqe* sqe() {
    io_uring_sqe* entry = io_uring_get_sqe(&ring_);
    while (!entry) {
      claim_issuer();
      if (const int err = io_uring_submit(&ring_); err < 0 && err != -EAGAIN && err != -EBUSY)
        issuer_error(-err);
      entry = io_uring_get_sqe(&ring_);
    }
    return entry;
  }

  // Loop thread: ask the kernel to cancel the request whose completions go to
  // `target` (its completion then arrives with -ECANCELED, or normally if it
  // was already done).
  void cancel(const detail::io_completion* target) {
    io_uring_sqe* entry = sqe();
    io_uring_prep_cancel64(entry, reinterpret_cast<std::uint64_t>(target), 0);
    io_uring_sqe_set_data64(entry, detail::ignored_completion);
  }

  io_uring& ring() noexcept { return ring_; }

  // Loop thread: the provided-buffer ring for receives, created on first use.
  result<buffer_ring*> receive_buffers() {
    if (!buffers_) buffers_ = FASTRT_TRY(buffer_ring::create(ring_, options_.receive_buffers));
    return buffers_.get();
  }
  // How the ring was set up, for logs: "single-issuer+defer-taskrun", ...
  const char* setup_mode() const noexcept { return setup_mode_; }
  wakeup_method wakeup() const noexcept { return options_.wakeup; }
  // Wake-ups actually paid (syscalls made by posters), for tests and metrics.
  std::uint64_t wakeups_sent() const noexcept { return wakeups_sent_.load(std::memory_order_relaxed); }

 private:
  explicit io_context(io_context_options options) : options_(options), inbox_(options.post_capacity) {}

  // Sets current() for run()'s duration; restores the previous value (a
  // loop run from inside another's work, as tests do, nests).
  class current_scope {
   public:
    explicit current_scope(io_context* ctx) noexcept : previous_(std::exchange(current_, ctx)) {}
    current_scope(const current_scope&) = delete;
    current_scope& operator=(const current_scope&) = delete;
    ~current_scope() { current_ = previous_; }

   private:
    io_context* previous_;
  };

  result<void> setup() {
    const unsigned base = IORING_SETUP_CQSIZE;
    struct attempt {
      unsigned flags;
      const char* mode;
    };
    const attempt attempts[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
         "single-issuer+defer-taskrun"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop-taskrun"},
        {0, "plain"},
    };
    int last_error = 0;
    for (const attempt& a : attempts) {
      if ((a.flags & IORING_SETUP_SINGLE_ISSUER) && !options_.try_single_issuer) continue;
      io_uring_params params{};
      params.flags = base | a.flags;
      params.cq_entries = options_.entries * 2;
      last_error = io_uring_queue_init_params(options_.entries, &ring_, &params);
      if (last_error == 0) {
        ring_ready_ = true;
        setup_mode_ = a.mode;
        single_issuer_ = (a.flags & IORING_SETUP_SINGLE_ISSUER) != 0;
        break;
      }
      if (last_error != -EINVAL) break;  // flags unknown: try fewer; anything else is final
    }
    if (!ring_ready_) return setup_error(-last_error);
    // Created whatever the wake-up method: MSG_RING falls back to it when a
    // posting thread cannot get a ring of its own.
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return error::from_errno("io_context: eventfd");
    return {};
  }

  static error setup_error(int err) {
    switch (err) {
      case ENOSYS:
        return error(err, "io_uring is not available: this kernel lacks it (Linux 5.19 or newer is needed)");
      case EPERM:
      case EACCES:
        return error(err,
                     "io_uring is blocked: a seccomp profile or the io_uring_disabled sysctl forbids it "
                     "(in a container, allow io_uring_setup/enter/register, e.g. a custom seccomp profile; "
                     "on the host, sysctl kernel.io_uring_disabled=0)");
      case ENOMEM:
        return error(err, "io_uring setup failed: out of locked memory (raise RLIMIT_MEMLOCK or use fewer entries)");
      case EINVAL:
        return error(err, "io_uring setup failed: invalid parameters (is the ring size a power of two up to 32768?)");
      default:
        return error(err, "io_uring setup failed: " + std::string(std::strerror(err)));
    }
  }

  void post_work(detail::posted_work work) {
    if (running_in_this_thread()) {
      local_.push_back(work);
      return;
    }
    callers_.fetch_add(1, std::memory_order_acq_rel);  // see ~io_context
    // Never wait for room: the poster may be a stop callback that the loop
    // itself is waiting for. Past a full inbox (or while earlier overflow
    // is pending, to keep each poster's order) work goes to a locked list.
    if (overflow_count_.load(std::memory_order_acquire) != 0 || !inbox_.try_push(work)) {
      std::lock_guard lock(overflow_mutex_);
      overflow_.push_back(work);
      overflow_count_.fetch_add(1, std::memory_order_release);
    }
    wake_if_sleeping(false);
    callers_.fetch_sub(1, std::memory_order_release);
  }

  // The thread that first submits becomes the ring's single issuer.
  void claim_issuer() {
    if (!single_issuer_) return;
    if (!enabled_) {
      // The ring was created disabled so that this thread, not the creator,
      // becomes its single issuer. (liburing 2.3 declares
      // io_uring_enable_rings but does not export it.)
      if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0)
        issuer_error(errno);
      enabled_ = true;
      issuer_ = std::this_thread::get_id();
    } else if (issuer_ != std::this_thread::get_id()) {
      detail::fatal("io_context used from a second thread: its ring is SINGLE_ISSUER, so run(), the io "
                    "awaitables and the destructor belong to the thread that first ran it");
    }
  }
  [[noreturn]] static void issuer_error(int err) {
    std::fprintf(stderr, "fastrt: io_uring submission failed: %s\n", std::strerror(err));
    detail::fatal("io_context cannot submit (see above)");
  }

  // The RMW pairs with the loop's exchange in run(): either the loop sees
  // our work before sleeping, or we see it asleep and wake it.
  void wake_if_sleeping(bool force) noexcept {
    if (!sleeping_.exchange(false, std::memory_order_acq_rel) && !force) return;
    wakeups_sent_.fetch_add(1, std::memory_order_relaxed);
    if (options_.wakeup == wakeup_method::msg_ring && send_msg_ring()) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  // A small ring per posting thread, used only to send MSG_RING wake-ups.
  // False if this thread has no usable ring (the caller uses the eventfd).
  // A failure the kernel reports only later (posting into a DEFER_TASKRUN
  // ring completes through its task work; it fails only if the kernel cannot
  // allocate a CQE overflow entry) is not seen here and is not retried.
  bool send_msg_ring() noexcept {
    io_uring* sender = detail::wakeup_sender_ring();
    if (!sender) return false;
    io_uring_sqe* entry = io_uring_get_sqe(sender);
    if (!entry) return false;
    io_uring_prep_msg_ring(entry, ring_.ring_fd, 0, detail::msg_ring_wakeup, 0);
    io_uring_sqe_set_flags(entry, IOSQE_CQE_SKIP_SUCCESS);
    const bool submitted = io_uring_submit(sender) == 1;
    // Reap the sender's own completions (failures only) so its CQ never fills.
    bool failed = false;
    io_uring_cqe* cqe;
    while (io_uring_peek_cqe(sender, &cqe) == 0) {
      failed = failed || cqe->res < 0;
      io_uring_cqe_seen(sender, cqe);
    }
    return submitted && !failed;
  }

  void arm_wakeup() {
    if (wake_armed_) return;
    io_uring_sqe* entry = sqe();
    io_uring_prep_read(entry, wake_fd_, &wake_buffer_, sizeof wake_buffer_, 0);
    io_uring_sqe_set_data64(entry, detail::eventfd_wakeup);
    wake_armed_ = true;
  }

  bool has_foreign_work() const noexcept {
    return !inbox_.empty_approx() || overflow_count_.load(std::memory_order_acquire) != 0;
  }

  // Runs local and cross-thread work that is ready now. Returns whether any ran.
  bool run_ready() {
    bool ran = false;
    // Only what is queued now: work posted by these functions waits a turn,
    // so completions are not starved.
    for (std::size_t n = local_.size(); n > 0; --n) {
      detail::posted_work work = local_.front();
      local_.pop_front();
      work.invoke(work.arg, true);
      ran = true;
    }
    ran |= inbox_.drain([](detail::posted_work&& work) { work.invoke(work.arg, true); }, 1024) > 0;
    if (overflow_count_.load(std::memory_order_acquire) != 0) {
      std::vector<detail::posted_work> batch;
      {
        std::lock_guard lock(overflow_mutex_);
        batch.swap(overflow_);
        overflow_count_.store(0, std::memory_order_release);
      }
      for (auto& work : batch) work.invoke(work.arg, true);
      ran = true;
    }
    return ran;
  }

  // Dispatches the completions available now; returns how many.
  std::size_t reap() {
    struct entry {
      std::uint64_t user_data;
      int res;
      unsigned flags;
    };
    entry batch[64];
    std::size_t count = 0, total = 0;
    do {
      count = 0;
      unsigned head;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        batch[count++] = {cqe->user_data, cqe->res, cqe->flags};
        if (count == std::size(batch)) break;
      }
      io_uring_cq_advance(&ring_, static_cast<unsigned>(count));
      // Dispatch after advancing: a resumed coroutine may submit and reap.
      for (std::size_t i = 0; i < count; ++i) dispatch(batch[i].user_data, batch[i].res, batch[i].flags);
      total += count;
    } while (count == std::size(batch));
    return total;
  }

  void dispatch(std::uint64_t user_data, int res, unsigned flags) {
    if (user_data == detail::ignored_completion) return;
    if (user_data == detail::msg_ring_wakeup) return;  // it woke us: that was all
    if (user_data == detail::eventfd_wakeup) {
      wake_armed_ = false;
      if (res > 0) arm_wakeup();  // read again; an error (ring closing) ends it
      return;
    }
    if (!(flags & IORING_CQE_F_MORE)) --in_flight_;
    auto* completion = reinterpret_cast<detail::io_completion*>(user_data);
    completion->complete(completion, res, flags);
  }

  // Submits what is queued; with `wait`, also sleeps until one completion.
  // With DEFER_TASKRUN, completions are only produced inside this call.
  void submit(bool wait) {
    if (wait) {
      io_uring_submit_and_wait(&ring_, 1);
    } else if (single_issuer_) {
      io_uring_submit_and_get_events(&ring_);
    } else {
      io_uring_submit(&ring_);
    }
  }

  // At destruction: let requests still in flight (typically cancelled by the
  // objects that owned them) complete, so that the state they hold is freed.
  // Bounded: a request the kernel never completes is left to the ring's exit.
  // Only the issuer thread can do this on a SINGLE_ISSUER ring; elsewhere the
  // kernel cancels the requests when the ring closes and their state leaks.
  void drain_operations() noexcept {
    if (!ring_ready_ || in_flight_ == 0) return;
    if (single_issuer_ && enabled_ && issuer_ != std::this_thread::get_id()) {
      std::fprintf(stderr, "fastrt: io_context destroyed off its loop thread with %zu requests in flight; "
                           "their memory is not reclaimed (destroy it on the thread that ran it)\n", in_flight_);
      return;
    }
    claim_issuer();
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    executor_scope scope(*this);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
      __kernel_timespec pause{0, 10'000'000};
      io_uring_cqe* cqe = nullptr;
      const int err = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &pause, nullptr);
      if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY) break;
      reap();
      run_ready();
    }
    owner_.store(std::thread::id{}, std::memory_order_relaxed);
  }

  void discard_pending_work() noexcept {
    for (auto& work : local_) work.invoke(work.arg, false);
    local_.clear();
    inbox_.drain([](detail::posted_work&& work) { work.invoke(work.arg, false); });
    for (auto& work : overflow_) work.invoke(work.arg, false);
    overflow_.clear();
  }

  static inline thread_local io_context* current_ = nullptr;  // see current()
  io_context_options options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool single_issuer_ = false;
  bool enabled_ = false;
  const char* setup_mode_ = "none";
  int wake_fd_ = -1;
  bool wake_armed_ = false;
  std::uint64_t wake_buffer_ = 0;
  std::unique_ptr<buffer_ring> buffers_;
  std::deque<detail::posted_work> local_;
  mpsc_queue<detail::posted_work> inbox_;
  std::atomic<std::thread::id> owner_{};
  alignas(64) std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::uint64_t> wakeups_sent_{0};
  std::atomic<std::uint32_t> callers_{0};  // threads inside post() / stop()
  std::mutex overflow_mutex_;
  std::vector<detail::posted_work> overflow_;  // guarded by overflow_mutex_
  std::atomic<std::size_t> overflow_count_{0};
  std::size_t in_flight_ = 0;  // loop thread only
  std::thread::id issuer_{};   // SINGLE_ISSUER: the thread that enabled the ring
};

}  // namespace fastrt
