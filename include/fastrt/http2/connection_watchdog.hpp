// connection_watchdog.hpp — the coroutine that enforces a connection's
// timeouts and drives its graceful shutdown: it sleeps until the next
// deadline (connection_deadlines.hpp), then asks the connection to act.
//
// Each time it wakes:
//   1. request bodies stalled for --body-timeout are expired (408 and a
//      reset, by the connection), and what that queued is flushed;
//   2. a passed deadline (idle, header, SETTINGS, send, shutdown) ends the
//      connection: deadline_passed(expiry), and the watchdog is done;
//   3. one second into a graceful shutdown whose PING has not come back, the
//      final GOAWAY goes out anyway;
//   4. an idle connection gives back the pages of its output buffer
//      (session_memory.hpp). Here, not each time it goes idle: dropping
//      and re-faulting a page costs ~4 µs, more than a tenth of a request,
//      and the watchdog looks in at least every half of the shortest of the
//      header, SETTINGS, send and body timeouts (5 s by default) anyway.
// wake() makes it look again now (a state change that moves a deadline).
//
// The Receiver (basic_connection) provides:
//   bool watched() const;                     false once the connection finished
//   bool expire_stalled_bodies(time_point);   true if any stream was expired
//   bool idle() const;                        no stream is being answered
//   bool waiting_to_send() const;             answers held back only by the client's windows
//   void deadline_passed(const connection_deadlines::expiry&);
//   void release_idle_memory();
//   bool final_goaway_due() const;            the shutdown notice is out, the final GOAWAY not yet
//   void send_final_goaway();
//   coro_task<> flush();
//
// Thread-safety: the connection's io thread. Cost: one timer armed per nap;
// the deadlines are checked in O(streams) only for --body-timeout.
#pragma once

#include <chrono>
#include <optional>
#include <stop_token>

#include <fastrt/http2/connection_deadlines.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/task.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/with_stop_token.hpp>

namespace fastrt::http2 {

class connection_watchdog {
 public:
  using clock = connection_deadlines::clock;
  static constexpr std::chrono::seconds ping_wait{1};  // for the shutdown PING's answer

  connection_watchdog(io_context& ctx, const connection_deadlines& deadlines) noexcept
      : ctx_(ctx), deadlines_(deadlines) {}

  template <class Receiver>
  coro_task<> run(Receiver& connection) {
    while (connection.watched()) {
      const auto now = clock::now();
      if (connection.expire_stalled_bodies(now)) {
        co_await connection.flush();
        continue;
      }
      const bool idle = connection.idle();
      if (auto expiry = deadlines_.expired(now, idle, connection.waiting_to_send())) {
        connection.deadline_passed(*expiry);
        co_return;
      }
      if (idle) connection.release_idle_memory();
      std::optional<clock::time_point> final_goaway_at;
      if (connection.final_goaway_due()) {
        final_goaway_at = *deadlines_.shutdown_since() + ping_wait;
        if (now >= *final_goaway_at) {
          connection.send_final_goaway();  // no PING answer within a second: do not wait longer
          co_await connection.flush();
          continue;
        }
      }
      wake_ = std::stop_source();
      (void)co_await with_stop_token(sleep_for(ctx_, deadlines_.next(now, idle, final_goaway_at) - now),
                                     wake_.get_token());
    }
  }

  void wake() { wake_.request_stop(); }

 private:
  io_context& ctx_;
  const connection_deadlines& deadlines_;
  std::stop_source wake_;  // replaced before each nap
};

}  // namespace fastrt::http2
