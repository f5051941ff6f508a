// frame_writer.hpp — a connection's way out: sends what its nghttp2 session
// has queued over the transport, one flusher at a time, and closes the
// transport politely at the end.
//
// flush() keeps going until nghttp2 has nothing more: a flush() while another
// runs returns at once (what it queued goes out with the running flusher),
// so the bytes held for sending stay bounded by one batch however many
// streams want to flush. Flushes ignore stop requests: a closing connection
// still sends its GOAWAY and answers. A failed send closes the output and
// stops the reader (`on_failure`). After each flush the owner hears it
// (`flushed`): what was sent may have been the last of the connection.
//
//   output_state: open ──send failed / mem_send failed / close()──▶ closed
//
// Thread-safety: one connection's (its io thread). Cost: one batch buffer of
// up to 64 KiB per io thread, shared by its connections (send() copies it
// before suspending): an idle connection holds none.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <coroutine>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fastrt/async_scope.hpp>
#include <fastrt/http2/connection_deadlines.hpp>
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/session.hpp>
#include <fastrt/http2/transport.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/task.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/with_stop_token.hpp>

namespace fastrt::http2 {

enum class output_state : std::uint8_t { open, closed };

template <transport Transport>
class frame_writer {
 public:
  static constexpr std::size_t batch_limit = 64 * 1024;  // bytes per send

  // Called by the flusher each time it has sent everything (the owner
  // checks whether the connection is over): a plain function pointer, so a
  // flush costs no extra coroutine frame.
  using flushed_hook = void (*)(void* owner);

  frame_writer(io_context& ctx, Transport& transport, session& h2, connection_deadlines& deadlines, observer& events,
               std::stop_source& on_failure, flushed_hook flushed, void* owner) noexcept
      : ctx_(ctx), transport_(transport), session_(h2), deadlines_(deadlines), events_(events), on_failure_(on_failure),
        flushed_(flushed), owner_(owner) {}
  frame_writer(const frame_writer&) = delete;
  frame_writer& operator=(const frame_writer&) = delete;

  bool closed() const noexcept { return output_ == output_state::closed; }
  // No byte goes out any more (what is queued stays unsent).
  void close() noexcept { output_ = output_state::closed; }

  coro_task<> flush() {
    if (flushing_) co_return;
    flushing_ = true;
    co_await with_stop_token(flush_now(), std::stop_token{});
    flushing_ = false;
    for (const std::coroutine_handle<> h : std::exchange(waiters_, {})) ctx_.post(h);
    flushed_(owner_);
  }

  // Like flush(), and if another flusher runs, waits until it has sent
  // everything (before closing the connection).
  coro_task<> flush_all() {
    if (flushing_) co_await waiter{this};
    else co_await flush();
  }

  // flush_all(), but a peer that does not read gets its transport shut down
  // after `limit` (pending sends fail at once). The timer runs in `scope`.
  coro_task<> flush_within(std::chrono::milliseconds limit, async_scope& scope) {
    std::stop_source done;
    scope.spawn(cut_after(limit, done.get_token()));
    co_await flush_all();
    done.request_stop();
  }

  // Sends `bytes` as they are (an HTTP/1.1 answer before HTTP/2 starts),
  // whatever stop is requested. False if the send failed.
  coro_task<bool> send_raw(std::string bytes) {
    auto send = transport_.send(bytes);  // an awaiter that cannot move: awaited in place
    const auto sent = co_await with_stop_token(send, std::stop_token{});
    co_return sent.has_value();
  }

  // Half-closes, then reads until the peer closes (at most a second), then
  // closes: closing with unread input makes the kernel send RST, and the
  // peer could lose the GOAWAY or the last answer still in its receive buffer.
  coro_task<> linger_close() {
    (void)transport_.shutdown(SHUT_WR);
    auto drain = [](Transport& t) -> coro_task<> {
      for (;;) {
        auto chunk = co_await t.recv();
        if (!chunk || chunk->empty()) co_return;
      }
    };
    (void)co_await with_stop_token(with_timeout(ctx_, drain(transport_), std::chrono::seconds(1)), std::stop_token{});
    transport_.close();
  }

 private:
  struct waiter {
    frame_writer* self;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { self->waiters_.push_back(h); }
    void await_resume() const noexcept {}
  };

  coro_task<> cut_after(std::chrono::milliseconds limit, std::stop_token done) {
    const result<void> slept = co_await with_stop_token(sleep_for(ctx_, limit), done);
    if (slept) (void)transport_.shutdown(SHUT_RDWR);
  }

  coro_task<> flush_now() {
    static thread_local std::string out;  // the io thread's batch buffer
    while (!closed()) {
      out.clear();
      for (;;) {
        int error = 0;
        const std::string_view bytes = session_.next_output(error);
        if (error != 0) {
          std::string line = "closing a connection: ";
          line += session::describe(error);
          events_.log(log_level::error, line);
          close();
          transport_.close();
          co_return;
        }
        if (bytes.empty()) break;
        out.append(bytes);
        if (out.size() >= batch_limit) break;
      }
      if (out.empty()) co_return;
      if (!deadlines_.settings_timer_started()) deadlines_.settings_sent(connection_deadlines::clock::now());  // with the first bytes
      deadlines_.send_started(connection_deadlines::coarse_now());
      const auto outcome = co_await transport_.send(out);
      deadlines_.send_done();
      if (!outcome) {
        close();
        on_failure_.request_stop();
        co_return;
      }
    }
  }

  io_context& ctx_;
  Transport& transport_;
  session& session_;
  connection_deadlines& deadlines_;
  observer& events_;
  std::stop_source& on_failure_;
  flushed_hook flushed_;
  void* owner_;
  std::vector<std::coroutine_handle<>> waiters_;
  output_state output_ = output_state::open;
  bool flushing_ = false;  // a flusher runs (the others return at once)
};

}  // namespace fastrt::http2
