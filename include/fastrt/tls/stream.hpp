// fastrt/tls/stream.hpp — TLS over a tcp_stream, on its io thread, without
// blocking: OpenSSL reads and writes records through a memory BIO of ours,
// and every byte goes in and out through the tcp_stream's io_uring
// operations. Models fastrt::http2::transport (transport.hpp), so an HTTP/2
// or HTTP/1.1 connection runs over it unchanged.
//
//   fastrt::tls_stream tls(context, std::move(tcp));          // a server-side stream
//   auto done = co_await tls.handshake();                     // result<void>; OpenSSL's reason on failure
//   tls.protocol();                                           // what ALPN chose (tls_alpn)
//   auto in = co_await tls.recv();    // result<tls_chunk>: in->text() valid until the next recv(); empty: EOF
//   auto out = co_await tls.send(bytes);                      // result<size_t>: encrypted and sent
//
// Reading: recv() decrypts what is buffered, else waits for the next TCP
// chunk (the kernel-filled buffer is held only until OpenSSL has read it).
// A close_notify, or a TCP EOF without one, is EOF. Post-handshake records
// OpenSSL answers (TLS 1.3 key updates) go out from recv().
// Writing: send() encrypts at once into a per-thread scratch buffer that the
// tcp_stream copies before anything suspends, so the caller's bytes may go
// away as soon as send() is awaited (the transport contract).
// shutdown(SHUT_WR) queues a close_notify; the TCP half-close follows once
// everything queued is out (done by the next recv(), which a lingering close
// makes). shutdown(SHUT_RDWR) cuts the TCP stream at once.
// Cancellation: as tcp_stream's (recv and send end with errc::canceled).
// Idle memory: the SSL object (record buffers released:
// SSL_MODE_RELEASE_BUFFERS) and nothing else: the plaintext buffer is
// freed whenever recv() waits for the network.
//
// Thread-safety: the io thread of its tcp_stream. Cost per connection: one
// SSL object (a few KiB while idle); per recv/send one coroutine frame
// (frame allocator) and OpenSSL's work.
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fastrt/result.hpp>
#include <fastrt/task.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/tls/context.hpp>

namespace fastrt {

// Decrypted bytes handed out by tls_stream::recv(): a view valid until the
// next recv() on that stream. Empty means EOF.
class tls_chunk {
 public:
  tls_chunk() noexcept = default;
  explicit tls_chunk(std::string_view bytes) noexcept : bytes_(bytes) {}
  std::string_view text() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return bytes_.size(); }
  bool empty() const noexcept { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

namespace detail {

// Awaits a coro_task in place: lets a coroutine serve as a transport's
// awaiter (whose await_resume the transport concept names).
template <class T>
class task_awaiter {
 public:
  explicit task_awaiter(coro_task<T> task) noexcept : task_(std::move(task)), inner_{task_.handle()} {}
  task_awaiter(const task_awaiter&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class Caller>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Caller> caller) noexcept {
    return inner_.await_suspend(caller);
  }
  T await_resume() { return inner_.await_resume(); }

 private:
  coro_task<T> task_;
  typename coro_task<T>::awaiter inner_;
};

}  // namespace detail

class tls_stream {
 public:
  static constexpr std::size_t max_plaintext_per_recv = 64 * 1024;

  // A server-side stream over `tcp` (the context must outlive it).
  tls_stream(const tls_context& context, tcp_stream tcp) : tcp_(std::move(tcp)), ssl_(SSL_new(context.native_handle())) {
    if (!ssl_) return;  // (handshake() reports it)
    BIO* bio = BIO_new(bio_method());
    if (!bio) {
      ssl_.reset();
      return;
    }
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns it (one reference for both directions)
    SSL_set_accept_state(ssl_.get());
  }
  // The BIO points at this object: it stays where it was made.
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;
  ~tls_stream() = default;

  // Runs the server side of the handshake. An error carries OpenSSL's
  // reason ("wrong version number", "no application protocol"), or says the
  // peer went away.
  coro_task<result<void>> handshake() { return run_handshake(); }

  // What ALPN chose (after the handshake).
  tls_alpn protocol() const noexcept { return ssl_ ? tls_context::negotiated(ssl_.get()) : tls_alpn::none; }
  // "TLSv1.3", and whether the session was resumed (after the handshake).
  std::string_view version() const noexcept { return ssl_ ? SSL_get_version(ssl_.get()) : ""; }
  bool resumed() const noexcept { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }

  detail::task_awaiter<result<tls_chunk>> recv() { return detail::task_awaiter<result<tls_chunk>>(read()); }

  detail::task_awaiter<result<std::size_t>> send(std::string_view bytes) {
    return detail::task_awaiter<result<std::size_t>>(write(bytes));
  }
  detail::task_awaiter<result<std::size_t>> send(const std::string& bytes) { return send(std::string_view(bytes)); }

  result<void> shutdown(int how) {
    if (how == SHUT_WR) {
      if (!ssl_ || !established_ || close_notify_sent_) return {};
      close_notify_sent_ = true;
      ERR_clear_error();
      (void)SSL_shutdown(ssl_.get());  // writes the alert into the scratch buffer
      queue_scratch();
      half_close_due_ = true;
      return {};
    }
    return tcp_.shutdown(how);
  }
  void close() noexcept { tcp_.close(); }

  bool is_open() const noexcept { return tcp_.is_open(); }
  int native_handle() const noexcept { return tcp_.native_handle(); }
  SSL* ssl() const noexcept { return ssl_.get(); }

 private:
  struct free_ssl {
    void operator()(SSL* s) const noexcept { SSL_free(s); }
  };

  // --- the BIO: records in from the held TCP chunk, records out to scratch ----
  static BIO_METHOD* bio_method() {
    static BIO_METHOD* const method = [] {
      BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fastrt tcp_stream");
      BIO_meth_set_read_ex(m, &bio_read);
      BIO_meth_set_write_ex(m, &bio_write);
      BIO_meth_set_ctrl(m, &bio_ctrl);
      return m;
    }();
    return method;
  }
  static int bio_read(BIO* bio, char* out, std::size_t size, std::size_t* read) {
    auto* self = static_cast<tls_stream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (self->input_.empty()) {
      BIO_set_retry_read(bio);  // SSL_ERROR_WANT_READ: recv() fetches more
      *read = 0;
      return 0;
    }
    const std::size_t n = std::min(size, self->input_.size());
    std::memcpy(out, self->input_.data(), n);
    self->input_.remove_prefix(n);
    if (self->input_.empty()) self->held_.reset();  // the kernel buffer goes back to the ring
    *read = n;
    return 1;
  }
  static int bio_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
    BIO_clear_retry_flags(bio);
    scratch().append(data, size);
    *written = size;
    return 1;
  }
  static long bio_ctrl(BIO*, int command, long, void*) {
    return command == BIO_CTRL_FLUSH ? 1 : 0;  // (records go out with the next send)
  }

  // Records OpenSSL writes, until they are queued on the tcp_stream (before
  // anything suspends): one buffer per io thread.
  static std::string& scratch() {
    static thread_local std::string buffer;
    return buffer;
  }

  // Queues what OpenSSL wrote on the tcp_stream without waiting (the stream
  // copies it at once and sends in order).
  void queue_scratch() {
    std::string& out = scratch();
    if (out.empty() || !tcp_.is_open()) {
      out.clear();
      return;
    }
    {
      auto op = tcp_.send(out);
      (void)op.await_ready();  // queued; nobody waits for it
    }
    release_scratch();
  }
  // After a large burst the per-thread buffer does not keep its size.
  static void release_scratch() {
    std::string& out = scratch();
    if (out.capacity() > 256 * 1024) std::string().swap(out);
    else out.clear();
  }

  // Awaits a tcp send of the scratch buffer, emptying the buffer once the
  // tcp_stream has copied it (await_ready), before the coroutine suspends:
  // another connection of the thread may write into it meanwhile.
  class scratch_send {
   public:
    explicit scratch_send(tcp_stream::send_awaiter& op) noexcept : op_(op) {}
    bool await_ready() {
      const bool ready = op_.await_ready();
      release_scratch();
      return ready;
    }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
      return op_.await_suspend(h);
    }
    result<std::size_t> await_resume() { return op_.await_resume(); }

   private:
    tcp_stream::send_awaiter& op_;
  };

  // Sends what OpenSSL wrote and waits until it is out.
  coro_task<result<void>> flush_scratch() {
    if (scratch().empty()) co_return result<void>{};
    auto op = tcp_.send(scratch());
    auto sent = co_await scratch_send(op);
    if (!sent) co_return sent.error();
    co_return result<void>{};
  }

  // One more TCP chunk for OpenSSL to read; false at EOF.
  coro_task<result<bool>> fetch() {
    std::string().swap(plain_);  // waiting for the network: hold no plaintext buffer
    auto chunk = co_await tcp_.recv();
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) co_return false;
    held_.emplace(std::move(chunk).value());
    input_ = held_->text();
    co_return true;
  }

  coro_task<result<void>> run_handshake() {
    if (!ssl_) co_return detail::openssl_error(std::errc::not_enough_memory, "TLS: SSL_new");
    for (;;) {
      ERR_clear_error();
      const int rv = SSL_do_handshake(ssl_.get());
      const int code = rv == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rv);
      // Our flight (or an alert) goes out first, whatever happened.
      if (auto flushed = co_await flush_scratch(); !flushed) co_return flushed.error();
      if (code == SSL_ERROR_NONE) {
        established_ = true;
        co_return result<void>{};
      }
      if (code != SSL_ERROR_WANT_READ) co_return detail::openssl_error(std::errc::protocol_error, "TLS handshake");
      auto more = co_await fetch();
      if (!more) co_return more.error();
      if (!*more) co_return error(std::errc::connection_reset, "TLS handshake: the peer closed the connection");
    }
  }

  coro_task<result<tls_chunk>> read() {
    if (!established_) co_return error(std::errc::not_connected, "TLS: recv before the handshake");
    if (half_close_due_) {
      // shutdown(SHUT_WR): the close_notify (and everything before it) out,
      // then the TCP FIN. (Closing before would cancel the send.)
      half_close_due_ = false;
      auto op = tcp_.send(std::string_view{});
      (void)co_await op;
      (void)tcp_.shutdown(SHUT_WR);
    }
    plain_.clear();
    for (;;) {
      // Decrypt everything buffered (up to a bound).
      int code = SSL_ERROR_NONE;
      while (plain_.size() < max_plaintext_per_recv) {
        const std::size_t before = plain_.size();
        plain_.resize(before + 16 * 1024);
        std::size_t n = 0;
        ERR_clear_error();
        const int rv = SSL_read_ex(ssl_.get(), plain_.data() + before, plain_.size() - before, &n);
        plain_.resize(before + n);
        if (rv != 1) {
          code = SSL_get_error(ssl_.get(), rv);
          break;
        }
      }
      if (!scratch().empty()) queue_scratch();  // a key update's answer, an alert
      if (!plain_.empty()) co_return tls_chunk(plain_);
      switch (code) {
        case SSL_ERROR_NONE:
        case SSL_ERROR_WANT_READ:
          break;  // fetch more below
        case SSL_ERROR_ZERO_RETURN:
          co_return tls_chunk();  // close_notify: EOF
        default:
          co_return detail::openssl_error(std::errc::protocol_error, "TLS read");
      }
      auto more = co_await fetch();
      if (!more) co_return more.error();
      if (!*more) co_return tls_chunk();  // TCP EOF without close_notify: EOF all the same
    }
  }

  coro_task<result<std::size_t>> write(std::string_view bytes) {
    if (!established_ || close_notify_sent_) co_return error(std::errc::not_connected, "TLS: send on a closed stream");
    ERR_clear_error();
    for (std::size_t done = 0; done < bytes.size();) {
      std::size_t n = 0;
      if (SSL_write_ex(ssl_.get(), bytes.data() + done, bytes.size() - done, &n) != 1) {
        scratch().clear();
        co_return detail::openssl_error(std::errc::io_error, "TLS write");
      }
      done += n;
    }
    auto op = tcp_.send(scratch());
    auto sent = co_await scratch_send(op);
    if (!sent) co_return sent.error();
    co_return bytes.size();
  }

  tcp_stream tcp_;
  std::unique_ptr<SSL, free_ssl> ssl_;
  std::optional<received> held_;  // the TCP chunk OpenSSL is reading
  std::string_view input_;        // its unread part
  std::string plain_;             // the plaintext handed out by the last recv()
  bool established_ = false;
  bool close_notify_sent_ = false;
  bool half_close_due_ = false;  // shutdown(SHUT_WR): the TCP FIN follows the queued records
};

}  // namespace fastrt
