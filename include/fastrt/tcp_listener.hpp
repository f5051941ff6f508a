// fastrt/tcp_listener.hpp — a listening TCP socket with multishot accept.
//
//   auto listener = fastrt::tcp_listener::bind(ctx, "127.0.0.1", 8080).value();
//   for (;;) { auto conn = co_await listener.accept(); ... }   // result<tcp_stream>
//
// bind() sets SO_REUSEADDR and (by default) SO_REUSEPORT, so one listener per
// io thread can share a port and the kernel spreads connections over them.
// SO_REUSEPORT also lets any other process of the same user bind that port
// and take a share of its connections. To own a port instead, bind without
// it (listen_options::reuse_port = false): a second bind then fails with
// EADDRINUSE, with or without SO_REUSEPORT. listen_socket() + adopt() split
// bind() in two, so that a program can bind (and report a port in use)
// before its io threads exist; accept_descriptor() gives the accepted socket
// as a plain descriptor, to hand to another thread's io_context.
// accept() arms one multishot IORING_OP_ACCEPT on first use; every accepted
// socket is queued until accept() takes it; several coroutines may wait in
// accept() at once (served in order). If the multishot ends (no
// IORING_CQE_F_MORE) it is re-armed while anyone waits. A stop request on
// the waiting coroutine ends the wait with errc::canceled.
//
// Thread-safety: bind() on any thread; everything else on the loop thread of
// the io_context it was bound for.
#pragma once

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <stop_token>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/io_awaiter.hpp"
#include "detail/socket_address.hpp"
#include "io_context.hpp"
#include "result.hpp"
#include "tcp_stream.hpp"

namespace fastrt {

struct listen_options {
  int backlog = 4096;
  bool reuse_port = true;
};

namespace detail {

class listener_state : public io_completion {
 public:
  static constexpr std::size_t max_queued = 1024;

  listener_state(io_context& ctx, int fd) noexcept : io_completion{&on_accept}, ctx_(&ctx), fd_(fd) {}
  ~listener_state() {
    for (int fd : accepted_) ::close(fd);
    if (fd_ >= 0) ::close(fd_);
  }
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release(std::uint32_t count = 1) noexcept {
    if (refs_.fetch_sub(count, std::memory_order_acq_rel) == count) delete this;
  }

  io_context& context() const noexcept { return *ctx_; }
  int fd() const noexcept { return fd_; }
  bool ready() const noexcept { return !accepted_.empty() || error_ != 0 || fd_ < 0; }

  void arm() {
    if (armed_ || fd_ < 0 || error_ != 0 || accepted_.size() >= max_queued) return;
    io_uring_sqe* entry = ctx_->sqe_for(this);
    io_uring_prep_multishot_accept(entry, fd_, nullptr, nullptr, SOCK_CLOEXEC);
    armed_ = true;
    add_ref();
  }

  result<tcp_stream> take() {
    const int fd = FASTRT_TRY(take_descriptor());
    return tcp_stream(*ctx_, fd);
  }
  result<int> take_descriptor() {
    if (!accepted_.empty()) {
      const int fd = accepted_.front();
      accepted_.pop_front();
      return fd;
    }
    if (fd_ < 0) return error(std::errc::bad_file_descriptor, "accept on a closed listener");
    if (error_ == 0) fatal("tcp_listener: a waiter was resumed with nothing to take");
    const int err = std::exchange(error_, 0);  // reported once; the next accept() re-arms
    return error(err, "accept failed");
  }

  // Several coroutines may wait in accept() at once; they are served in
  // arrival order. Each wait has an id, so that a late stop request cannot
  // cancel a later wait at a reused frame address.
  std::uint64_t add_waiter(std::coroutine_handle<> h) {
    waiters_.push_back({h, ++wait_id_});
    return wait_id_;
  }
  bool drop_waiter(std::uint64_t id) noexcept {
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->id == id) {
        waiters_.erase(it);
        return true;
      }
    }
    return false;
  }
  void cancel_wait(std::uint64_t id) {
    for (const waiter& w : waiters_) {
      if (w.id != id) continue;
      const std::coroutine_handle<> h = w.handle;
      drop_waiter(id);
      cancelled_.push_back(id);
      h.resume();
      return;
    }
  }
  bool take_cancelled(std::uint64_t id) noexcept {
    for (auto it = cancelled_.begin(); it != cancelled_.end(); ++it) {
      if (*it == id) {
        cancelled_.erase(it);
        return true;
      }
    }
    return false;
  }

  void close() noexcept {
    if (fd_ < 0) return;
    if (armed_) ctx_->cancel(static_cast<io_completion*>(this));
    ::close(std::exchange(fd_, -1));
    resume_waiters();
  }

 private:
  static void on_accept(io_completion* self, int res, unsigned flags) noexcept {
    auto* s = static_cast<listener_state*>(self);
    s->add_ref();
    if (res >= 0) {
      if (s->fd_ >= 0) s->accepted_.push_back(res);
      else ::close(res);  // raced with close()
      if (s->accepted_.size() >= max_queued && (flags & IORING_CQE_F_MORE) && s->fd_ >= 0)
        s->ctx_->cancel(static_cast<io_completion*>(s));  // backpressure: stop accepting for now
    } else if (res != -ECANCELED) {
      s->error_ = -res;
    }
    const bool final = !(flags & IORING_CQE_F_MORE);
    if (final) s->armed_ = false;
    s->resume_waiters();
    s->release(final ? 2 : 1);  // ours, and the multishot's if it ended
  }

  // Resumes waiters, oldest first, while there is something for them (each
  // takes one socket or the error; all of them once the listener is closed),
  // then re-arms if some still wait.
  void resume_waiters() {
    while (!waiters_.empty() && ready()) {
      const std::coroutine_handle<> h = waiters_.front().handle;
      waiters_.erase(waiters_.begin());
      h.resume();  // may add waiters (a loop calling accept() again)
    }
    if (!waiters_.empty()) arm();
  }

  io_context* ctx_;
  int fd_;
  std::atomic<std::uint32_t> refs_{1};  // the handle; + armed accept; + pending stop relays
  std::deque<int> accepted_;
  struct waiter {
    std::coroutine_handle<> handle;
    std::uint64_t id;
  };
  std::vector<waiter> waiters_;
  std::vector<std::uint64_t> cancelled_;  // ids of waits ended by a stop request
  std::uint64_t wait_id_ = 0;
  int error_ = 0;
  bool armed_ = false;
};

}  // namespace detail

class tcp_listener {
 public:
  static result<tcp_listener> bind(io_context& ctx, std::string_view host, std::uint16_t port,
                                   listen_options options = {}) {
    const int fd = FASTRT_TRY(listen_socket(host, port, options));
    return adopt(ctx, fd);
  }

  // A bound, listening socket (SO_REUSEADDR; SO_REUSEPORT when asked), not
  // yet tied to an io_context: the caller owns the descriptor (adopt() takes
  // it over). Any thread. Address taken: the error's value is EADDRINUSE.
  static result<int> listen_socket(std::string_view host, std::uint16_t port, listen_options options = {}) {
    auto address = FASTRT_TRY(detail::resolve_numeric(host, port));
    const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return error::from_errno("socket");
    auto fail = [fd](std::string what) {
      error e = error::from_errno(what);
      ::close(fd);
      return e;
    };
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return fail("SO_REUSEADDR");
    if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      return fail("SO_REUSEPORT");
    if (::bind(fd, address.get(), address.length) != 0)
      return fail("bind " + std::string(host) + ":" + std::to_string(port));
    if (::listen(fd, options.backlog) != 0) return fail("listen");
    return fd;
  }

  // A listener for `ctx` on a listening descriptor it takes over (closed
  // with the listener).
  static result<tcp_listener> adopt(io_context& ctx, int fd) {
    if (fd < 0) return error(std::errc::bad_file_descriptor, "tcp_listener::adopt: no descriptor");
    return tcp_listener(new detail::listener_state(ctx, fd));
  }

  tcp_listener(tcp_listener&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  tcp_listener& operator=(tcp_listener&& other) noexcept {
    if (this != &other) {
      reset();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;
  ~tcp_listener() { reset(); }

  // The bound port (useful after binding port 0).
  std::uint16_t local_port() const {
    detail::socket_address address;
    address.length = sizeof address.storage;
    if (::getsockname(state_->fd(), address.get(), &address.length) != 0) return 0;
    if (address.family() == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port);
  }

  // Resumes with result<tcp_stream> (or, Descriptor: result<int>, the
  // socket the caller now owns).
  template <bool Descriptor>
  class basic_accept_awaiter {
   public:
    explicit basic_accept_awaiter(detail::listener_state* s) noexcept : state_(s) {}
    basic_accept_awaiter(const basic_accept_awaiter&) = delete;
    ~basic_accept_awaiter() {
      stop_.reset();
      if (wait_id_ != 0) state_->drop_waiter(wait_id_);  // the coroutine was destroyed mid-wait
    }
    bool await_ready() const noexcept { return state_->ready(); }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> h) {
      state_->arm();
      const std::uint64_t id = wait_id_ = state_->add_waiter(h);
      detail::listener_state* s = state_;
      detail::relay_stop_to_loop(h, s, stop_, [s, id] { s->cancel_wait(id); });
    }
    auto await_resume() -> std::conditional_t<Descriptor, result<int>, result<tcp_stream>> {
      stop_.reset();
      if (state_->take_cancelled(std::exchange(wait_id_, 0))) return error(errc::canceled, "accept cancelled");
      if constexpr (Descriptor) return state_->take_descriptor();
      else return state_->take();
    }

   private:
    detail::listener_state* state_;
    std::uint64_t wait_id_ = 0;  // non-zero while suspended
    std::optional<detail::loop_stop_callback> stop_;
  };
  using accept_awaiter = basic_accept_awaiter<false>;
  accept_awaiter accept() noexcept { return accept_awaiter(state_); }
  // As accept(), but the connection comes as a descriptor (SOCK_CLOEXEC) that
  // the caller owns, e.g. to build a tcp_stream on another io_context.
  basic_accept_awaiter<true> accept_descriptor() noexcept { return basic_accept_awaiter<true>(state_); }

  // Stops accepting and closes the socket; a waiting accept() gets an error.
  void close() noexcept {
    if (state_) state_->close();
  }

 private:
  explicit tcp_listener(detail::listener_state* s) noexcept : state_(s) {}
  void reset() noexcept {
    if (!state_) return;
    state_->close();
    std::exchange(state_, nullptr)->release();
  }
  detail::listener_state* state_ = nullptr;
};

}  // namespace fastrt
