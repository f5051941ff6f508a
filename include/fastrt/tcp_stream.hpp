// fastrt/tcp_stream.hpp — a connected TCP socket on an io_context.
//
//   auto s = co_await fastrt::tcp_connect(ctx, "127.0.0.1", 8080);  // result<tcp_stream>
//   auto sent = co_await s->send(bytes);          // result<size_t>: all of it, or an error
//   auto in = co_await s->recv();                 // result<received>; in->empty() == EOF
//
// Receiving: one multishot IORING_OP_RECV per stream, armed on the first
// recv() and kept armed; the kernel fills buffers from the loop's shared
// buffer_ring, so an idle connection holds no receive buffer. recv() hands out
// a `received` (a view of one kernel-filled buffer) that returns the buffer to
// the ring when destroyed. When `max_pending` chunks wait unread, the
// multishot is cancelled (backpressure) and re-armed by recv(). When
// the multishot ends without IORING_CQE_F_MORE it is re-armed on demand; on
// ENOBUFS it waits for a buffer to come back (never a busy loop).
//
// Sending: send() appends to the stream's pending buffer; one IORING_OP_SEND
// at a time carries everything pending, so many small writes made while a
// send is in flight go out together. send() completes once all of its bytes
// were written (partial writes are continued). The buffer being sent belongs
// to the stream's shared state, which in-flight operations keep alive: a
// destroyed or cancelled coroutine never leaves the kernel a dangling pointer.
//
// Cancellation: a stop request on a coroutine waiting in recv() or send()
// submits IORING_OP_ASYNC_CANCEL for that operation and the wait ends with
// errc::canceled (a cancelled send leaves the stream unusable for sending).
//
// Thread-safety: a stream belongs to its io_context's loop thread.
// Cost: per connection one ~200-byte state object (frame allocator); no
// receive memory while idle; sends reuse their buffers' capacity.
#pragma once

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <span>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>

#include "buffer_ring.hpp"
#include "detail/io_awaiter.hpp"
#include "detail/retained.hpp"
#include "detail/socket_address.hpp"
#include "io_context.hpp"
#include "result.hpp"
#include "task.hpp"

namespace fastrt {

// One chunk of received bytes, backed by a provided buffer. Empty means the
// peer closed its side (EOF). Returns its buffer to the ring when destroyed,
// so keep it only as long as needed, and on the loop thread.
class received {
 public:
  received() noexcept = default;
  received(buffer_ring* ring, std::uint16_t id, std::uint32_t length) noexcept
      : ring_(ring), id_(id), length_(length) {}
  received(received&& other) noexcept
      : ring_(std::exchange(other.ring_, nullptr)), id_(other.id_), length_(std::exchange(other.length_, 0)) {}
  received& operator=(received&& other) noexcept {
    if (this != &other) {
      release();
      ring_ = std::exchange(other.ring_, nullptr);
      id_ = other.id_;
      length_ = std::exchange(other.length_, 0);
    }
    return *this;
  }
  received(const received&) = delete;
  received& operator=(const received&) = delete;
  ~received() { release(); }

  std::span<const std::byte> bytes() const noexcept {
    if (!ring_) return {};
    return ring_->buffer(id_).first(length_);
  }
  std::string_view text() const noexcept {
    auto b = bytes();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  std::size_t size() const noexcept { return length_; }
  bool empty() const noexcept { return length_ == 0; }

 private:
  void release() noexcept {
    if (ring_) std::exchange(ring_, nullptr)->recycle(id_);
  }
  buffer_ring* ring_ = nullptr;
  std::uint16_t id_ = 0;
  std::uint32_t length_ = 0;
};

namespace detail {

// Everything a connection's in-flight operations need; reference-counted so
// that it outlives both the tcp_stream handle and every pending completion.
class stream_state {
 public:
  static constexpr std::size_t max_pending = 16;

  static stream_state* create(io_context& ctx, int fd) {
    return ::new (frame_allocator::allocate(sizeof(stream_state))) stream_state(ctx, fd);
  }
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release(std::uint32_t count = 1) noexcept {
    if (refs_.fetch_sub(count, std::memory_order_acq_rel) == count) {
      this->~stream_state();
      frame_allocator::deallocate(this, sizeof(stream_state));
    }
  }

  io_context& context() const noexcept { return *ctx_; }
  int fd() const noexcept { return fd_; }

  // --- receive --------------------------------------------------------------
  std::size_t pending_count() const noexcept { return pending_.size() - pending_head_; }
  bool recv_ready() const noexcept { return pending_count() > 0 || eof_ || recv_error_ != 0 || fd_ < 0; }

  result<received> take_received() {
    if (pending_count() > 0) {
      const chunk c = pending_[pending_head_++];
      if (pending_head_ == pending_.size()) {
        pending_.clear();  // keeps the capacity: no allocation in steady state
        pending_head_ = 0;
      }
      // Stopped for backpressure? Resume receiving before the queue runs dry.
      if (!recv_armed_ && pending_count() < max_pending / 2) (void)arm_recv();
      return received(buffers_, c.id, c.length);
    }
    if (recv_error_ != 0) return error(recv_error_, "recv failed");
    if (fd_ < 0) return error(std::errc::bad_file_descriptor, "recv on a closed stream");
    return received();  // EOF
  }

  result<void> arm_recv() {
    if (recv_armed_ || eof_ || recv_error_ != 0 || fd_ < 0 || pending_count() >= max_pending) return {};
    if (!buffers_) buffers_ = FASTRT_TRY(ctx_->receive_buffers());
    if (buffers_->available() == 0) {
      wait_for_buffers();
      return {};
    }
    io_uring_sqe* entry = ctx_->sqe_for(&recv_completion_);
    io_uring_prep_recv_multishot(entry, fd_, nullptr, 0, 0);
    entry->flags |= IOSQE_BUFFER_SELECT;
    entry->buf_group = buffers_->group();
    recv_armed_ = true;
    add_ref();  // held until the multishot's final completion
    return {};
  }

  // Returns an id for this wait, so that a late stop request cannot cancel a
  // later wait of another coroutine that happens to reuse the frame address.
  std::uint64_t set_recv_waiter(std::coroutine_handle<> h) noexcept {
    // Two readers of one byte stream would split messages arbitrarily.
    if (recv_waiter_) fatal("tcp_stream::recv awaited by two coroutines at once");
    recv_waiter_ = h;
    return ++recv_wait_id_;
  }
  // The waiting coroutine is being destroyed: forget it.
  void drop_recv_waiter(std::coroutine_handle<> h) noexcept {
    if (recv_waiter_ == h) recv_waiter_ = {};
  }
  // A stop request reached the wait `id` in recv(): end it (unless it was
  // resumed meanwhile).
  void cancel_recv_wait(std::uint64_t id) {
    if (!recv_waiter_ || recv_wait_id_ != id) return;
    recv_cancelled_ = true;
    if (recv_armed_) ctx_->cancel(static_cast<io_completion*>(&recv_completion_));
    resume(std::exchange(recv_waiter_, {}));
  }
  bool take_recv_cancelled() noexcept { return std::exchange(recv_cancelled_, false); }

  // --- send -----------------------------------------------------------------
  // Queues bytes; returns the stream position the caller must wait for.
  std::uint64_t queue_send(std::span<const std::byte> data) {
    pending_out_.insert(pending_out_.end(), data.begin(), data.end());
    queued_total_ += data.size();
    if (!send_in_flight_) start_send();
    return queued_total_;
  }
  bool sent_up_to(std::uint64_t position) const noexcept { return sent_total_ >= position; }
  int send_error() const noexcept { return send_error_; }

  struct send_waiter {
    std::coroutine_handle<> handle;
    std::uint64_t position;
    std::uint64_t id = 0;  // tells this wait from a later one at the same address
    send_waiter* next = nullptr;
  };
  void add_send_waiter(send_waiter* w) noexcept {
    w->id = ++send_wait_id_;
    w->next = nullptr;
    if (send_waiters_tail_) send_waiters_tail_->next = w;
    else send_waiters_head_ = w;
    send_waiters_tail_ = w;
  }
  // Unlinks `w` (wait `id`) if it is still waiting; says whether it was.
  bool remove_send_waiter(const send_waiter* w, std::uint64_t id) noexcept {
    send_waiter** link = &send_waiters_head_;
    send_waiter* previous = nullptr;
    while (*link && !(*link == w && w->id == id)) {
      previous = *link;
      link = &(*link)->next;
    }
    if (!*link) return false;
    *link = (*link)->next;
    if (send_waiters_tail_ == w) send_waiters_tail_ = previous;
    return true;
  }
  // A stop request reached a coroutine waiting in send() (if `w` still waits).
  void cancel_send(send_waiter* w, std::uint64_t id) {
    if (!remove_send_waiter(w, id)) return;
    if (send_in_flight_) ctx_->cancel(static_cast<io_completion*>(&send_completion_));
    if (send_error_ == 0) send_error_ = ECANCELED;
    resume(w->handle);
  }

  // --- lifetime -------------------------------------------------------------
  result<void> shutdown(int how) {
    if (fd_ < 0) return error(std::errc::bad_file_descriptor, "shutdown on a closed stream");
    if (::shutdown(fd_, how) != 0) return error::from_errno("shutdown");
    return {};
  }
  void close() noexcept {
    if (fd_ < 0) return;
    if (recv_armed_) ctx_->cancel(static_cast<io_completion*>(&recv_completion_));
    if (send_in_flight_) ctx_->cancel(static_cast<io_completion*>(&send_completion_));
    // The kernel holds its own reference to the file for in-flight requests,
    // so closing now is safe; they complete with ECANCELED.
    ::close(std::exchange(fd_, -1));
    resume(std::exchange(recv_waiter_, {}));
  }

 private:
  struct chunk {
    std::uint16_t id;
    std::uint32_t length;
  };
  // Completions are members; they find their owner through `owner`.
  struct completion : io_completion {
    stream_state* owner;
  };

  stream_state(io_context& ctx, int fd) noexcept : ctx_(&ctx), fd_(fd) {
    recv_completion_.complete = &on_recv;
    recv_completion_.owner = this;
    send_completion_.complete = &on_send;
    send_completion_.owner = this;
  }
  ~stream_state() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));  // first: nothing re-arms below
    while (pending_count() > 0) (void)take_received();  // buffers back to the ring
  }

  static void resume(std::coroutine_handle<> h) {
    if (h) h.resume();
  }

  void wait_for_buffers() {
    if (waiting_for_buffers_) return;
    waiting_for_buffers_ = true;
    buffers_->when_available([self = retained<stream_state>(this)] {
      self->waiting_for_buffers_ = false;
      if (self->recv_waiter_ || self->pending_count() == 0) (void)self->arm_recv();
    });
  }

  static void on_recv(io_completion* self, int res, unsigned flags) noexcept {
    stream_state* s = static_cast<completion*>(self)->owner;
    s->add_ref();  // the waiter we resume may drop the last handle
    if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
      const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      s->buffers_->taken();
      // Completions already posted keep arriving after a cancel, so the
      // queue can exceed max_pending a little; it is a vector for that.
      s->pending_.push_back({id, static_cast<std::uint32_t>(res)});
      if (s->pending_count() == max_pending && (flags & IORING_CQE_F_MORE) && s->fd_ >= 0) {
        s->ctx_->cancel(static_cast<io_completion*>(&s->recv_completion_));  // backpressure
      }
    } else if (res == 0) {
      s->eof_ = true;
    } else if (res == -ENOBUFS) {
      // The ring ran dry; re-armed by recv() or once buffers return.
    } else if (res != -ECANCELED) {
      s->recv_error_ = -res;
    }
    const bool final = !(flags & IORING_CQE_F_MORE);
    if (final) {
      s->recv_armed_ = false;
      // Someone is waiting for data: re-arm now (arm_recv waits for buffers
      // instead when the ring is empty, e.g. after ENOBUFS).
      if (s->recv_waiter_ && !s->recv_ready()) (void)s->arm_recv();
    }
    if (s->recv_ready()) resume(std::exchange(s->recv_waiter_, {}));
    s->release(final ? 2 : 1);  // ours, and the multishot's if it ended
  }

  void start_send() {
    if (fd_ < 0 || send_error_ != 0) return;
    if (sending_offset_ == sending_.size()) {
      if (pending_out_.empty()) return;
      sending_.clear();
      sending_.swap(pending_out_);
      sending_offset_ = 0;
    }
    io_uring_sqe* entry = ctx_->sqe_for(&send_completion_);
    io_uring_prep_send(entry, fd_, sending_.data() + sending_offset_, sending_.size() - sending_offset_, MSG_NOSIGNAL);
    send_in_flight_ = true;
    add_ref();
  }

  static void on_send(io_completion* self, int res, unsigned) noexcept {
    stream_state* s = static_cast<completion*>(self)->owner;
    s->send_in_flight_ = false;
    if (res <= 0) {  // 0 bytes for a non-empty send: the socket will not take more
      if (s->send_error_ == 0) s->send_error_ = res < 0 ? -res : EPIPE;
    } else {
      s->sending_offset_ += static_cast<std::size_t>(res);
      s->sent_total_ += static_cast<std::uint64_t>(res);
    }
    s->start_send();  // the rest, or what was queued meanwhile
    // Resume every waiter whose bytes are out (or all of them on error).
    while (send_waiter* w = s->send_waiters_head_) {
      if (s->send_error_ == 0 && !s->sent_up_to(w->position)) break;
      s->send_waiters_head_ = w->next;
      if (!s->send_waiters_head_) s->send_waiters_tail_ = nullptr;
      w->handle.resume();
    }
    s->release();  // the send's reference
  }

  io_context* ctx_;
  int fd_;
  std::atomic<std::uint32_t> refs_{1};  // the tcp_stream handle
  buffer_ring* buffers_ = nullptr;
  completion recv_completion_{};
  completion send_completion_{};
  // receive side
  std::vector<chunk> pending_;  // FIFO from pending_head_; empty (no memory) while idle
  std::size_t pending_head_ = 0;
  std::coroutine_handle<> recv_waiter_;
  std::uint64_t recv_wait_id_ = 0;
  int recv_error_ = 0;
  bool recv_armed_ = false, eof_ = false, recv_cancelled_ = false, waiting_for_buffers_ = false;
  // send side
  std::vector<std::byte> sending_, pending_out_;
  std::size_t sending_offset_ = 0;
  std::uint64_t queued_total_ = 0, sent_total_ = 0;
  send_waiter* send_waiters_head_ = nullptr;
  send_waiter* send_waiters_tail_ = nullptr;
  std::uint64_t send_wait_id_ = 0;
  int send_error_ = 0;
  bool send_in_flight_ = false;
};

}  // namespace detail

class tcp_stream {
 public:
  tcp_stream() noexcept = default;
  // Adopts a connected socket for use on `ctx`.
  tcp_stream(io_context& ctx, int fd) : state_(detail::stream_state::create(ctx, fd)) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  tcp_stream(tcp_stream&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  tcp_stream& operator=(tcp_stream&& other) noexcept {
    if (this != &other) {
      reset();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  tcp_stream(const tcp_stream&) = delete;
  tcp_stream& operator=(const tcp_stream&) = delete;
  ~tcp_stream() { reset(); }

  bool is_open() const noexcept { return state_ && state_->fd() >= 0; }
  int native_handle() const noexcept { return state_ ? state_->fd() : -1; }

  class recv_awaiter {
   public:
    explicit recv_awaiter(detail::stream_state* s) noexcept : state_(s) {}
    recv_awaiter(const recv_awaiter&) = delete;
    ~recv_awaiter() {
      stop_.reset();
      state_->drop_recv_waiter(waiting_);  // the coroutine was destroyed mid-wait
    }
    bool await_ready() const noexcept { return state_->recv_ready(); }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
      if (auto armed = state_->arm_recv(); !armed) {
        failure_ = std::move(armed).error();
        return false;
      }
      if (state_->recv_ready()) return false;
      const std::uint64_t id = state_->set_recv_waiter(h);
      waiting_ = h;
      detail::stream_state* s = state_;
      detail::relay_stop_to_loop(h, s, stop_, [s, id] { s->cancel_recv_wait(id); });
      return true;
    }
    result<received> await_resume() {
      stop_.reset();
      waiting_ = {};
      if (failure_) return std::move(*failure_);
      if (state_->take_recv_cancelled() && !state_->recv_ready())
        return error(errc::canceled, "recv cancelled");
      return state_->take_received();
    }

   private:
    detail::stream_state* state_;
    std::coroutine_handle<> waiting_;
    std::optional<error> failure_;
    std::optional<detail::loop_stop_callback> stop_;
  };
  // The next chunk of bytes (empty at EOF). Arms the multishot receive.
  recv_awaiter recv() noexcept { return recv_awaiter(checked()); }

  class send_awaiter {
   public:
    send_awaiter(detail::stream_state* s, std::span<const std::byte> data) noexcept : state_(s), data_(data) {}
    send_awaiter(const send_awaiter&) = delete;
    ~send_awaiter() {
      stop_.reset();
      if (waiting_) state_->remove_send_waiter(&waiter_, waiter_.id);  // the coroutine was destroyed
    }
    bool await_ready() noexcept {
      if (state_->send_error() != 0 || state_->fd() < 0) {
        rejected_ = true;  // nothing was queued: this send fails
        return true;
      }
      waiter_.position = state_->queue_send(data_);
      return false;
    }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
      if (state_->sent_up_to(waiter_.position) || state_->send_error() != 0) return false;
      waiter_.handle = h;
      state_->add_send_waiter(&waiter_);
      waiting_ = true;
      detail::stream_state* s = state_;
      auto* w = &waiter_;
      const std::uint64_t id = waiter_.id;
      detail::relay_stop_to_loop(h, s, stop_, [s, w, id] { s->cancel_send(w, id); });
      return true;
    }
    result<std::size_t> await_resume() {
      stop_.reset();
      waiting_ = false;
      if (rejected_) {
        if (const int err = state_->send_error(); err != 0) return error(err, "send on a failed stream");
        return error(std::errc::bad_file_descriptor, "send on a closed stream");
      }
      if (state_->fd() < 0 && !state_->sent_up_to(waiter_.position))
        return error(std::errc::bad_file_descriptor, "send on a closed stream");
      if (const int err = state_->send_error(); err != 0 && !state_->sent_up_to(waiter_.position))
        return error(err, err == ECANCELED ? "send cancelled" : "send failed");
      return data_.size();
    }

   private:
    detail::stream_state* state_;
    std::span<const std::byte> data_;
    detail::stream_state::send_waiter waiter_{};
    bool waiting_ = false;
    bool rejected_ = false;
    std::optional<detail::loop_stop_callback> stop_;
  };
  // Sends all of `data` (copied into the stream's buffer at once).
  send_awaiter send(std::span<const std::byte> data) noexcept { return send_awaiter(checked(), data); }
  send_awaiter send(std::string_view text) noexcept { return send(std::as_bytes(std::span(text.data(), text.size()))); }

  result<void> shutdown(int how = SHUT_WR) { return checked()->shutdown(how); }
  // Cancels what is in flight and closes the socket. Idempotent.
  void close() noexcept {
    if (state_) state_->close();
  }

 private:
  detail::stream_state* checked() const noexcept {
    if (!state_) detail::fatal("use of an empty tcp_stream");
    return state_;
  }
  void reset() noexcept {
    if (!state_) return;
    state_->close();
    std::exchange(state_, nullptr)->release();
  }
  detail::stream_state* state_ = nullptr;
};

namespace detail {
class connect_operation : public io_operation {
 public:
  connect_operation(io_context& ctx, int fd, socket_address address) noexcept
      : io_operation(ctx), fd_(fd), address_(address) {}
  void prepare(io_uring_sqe* entry) noexcept { io_uring_prep_connect(entry, fd_, address_.get(), address_.length); }

 private:
  int fd_;
  socket_address address_;  // read by the kernel until the completion
};
}  // namespace detail

// Connects to a numeric address ("127.0.0.1", "::1", "localhost").
inline coro_task<result<tcp_stream>> tcp_connect(io_context& ctx, std::string_view host, std::uint16_t port) {
  auto address = detail::resolve_numeric(host, port);
  if (!address) co_return std::move(address).error();
  const int fd = ::socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return error::from_errno("socket");
  tcp_stream stream(ctx, fd);  // owns fd from here on
  const int res = (co_await detail::io_awaiter<detail::connect_operation>(ctx, fd, *address)).res();
  if (res < 0) {
    const int err = -res;
    co_return error(err, err == ECANCELED ? "connect cancelled" : "connect to " + std::string(host) + ":" +
                                                                      std::to_string(port) + " failed");
  }
  co_return std::move(stream);
}

}  // namespace fastrt
