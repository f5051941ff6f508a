// request_dispatch.hpp — when and how a request reaches its handler (once
// complete, or a streamed route's once its header fields are: router.hpp): the router picks it (a route, the fallback, else 404), and the
// handler runs in its own coroutine with the stream's stop token.
//
// Handlers start only outside nghttp2's callbacks: a request completed
// inside the session's receive() waits in a queue until receive() returns
// (start_ready), because a handler may answer at once and nghttp2 must not
// be asked to send from inside its own callbacks. A request completed
// elsewhere (the h2c upgrade's stream 1) starts at once. Before a queued
// request starts, the connection may still refuse it (reset in the same
// read, or the connection closing over an error).
//
// The Receiver (basic_connection) provides:
//   stream* find(stream_key);                  null once the stream closed
//   bool may_start(const stream&);             false: skip its handler
//   async_scope& request_scope();              where handler coroutines run
//   bool answer(stream_key, response&&, const std::stop_token&);   the handler's response; true: flush
//                                              (false inside start_ready(): it flushes once, at its end)
//   coro_task<> flush();
//
// Thread-safety: the connection's io thread. Cost: one coroutine per
// request (plus the handler's own); the queue's capacity is reused.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>
#include <utility>
#include <vector>

#include <fastrt/async_scope.hpp>
#include <fastrt/http2/request.hpp>
#include <fastrt/http2/response.hpp>
#include <fastrt/http2/router.hpp>
#include <fastrt/http2/stream.hpp>
#include <fastrt/task.hpp>
#include <fastrt/with_stop_token.hpp>

namespace fastrt::http2 {

class request_dispatch {
 public:
  explicit request_dispatch(const router& routes) noexcept : routes_(routes) {}

  // Marks the span of a session's receive(): requests completed inside it
  // are queued, not started.
  class receiving {
   public:
    explicit receiving(request_dispatch& d) noexcept : d_(d) { d_.receiving_ = true; }
    receiving(const receiving&) = delete;
    receiving& operator=(const receiving&) = delete;
    ~receiving() { d_.receiving_ = false; }

   private:
    request_dispatch& d_;
  };

  // `s` holds a complete request (dispatched_req).
  template <class Receiver>
  void dispatch(Receiver& connection, stream& s) {
    if (receiving_) ready_.push_back(s.id);
    else start(connection, s);
  }

  // After receive(): starts what it completed. The handlers that answer
  // without suspending do not flush each (defer_flush()): one flush starts
  // after the last, so the answers to one read go out in one send, not the
  // first alone and the rest in a second. That flush runs in the request
  // scope, not in the caller (the read loop must not be the one waiting
  // for a client that does not read: it would miss the stop).
  template <class Receiver>
  void start_ready(Receiver& connection) {
    starting_ = true;
    for (const std::int32_t id : ready_) {
      stream* s = connection.find(stream_key{id});
      if (s && connection.may_start(*s)) start(connection, *s);
    }
    starting_ = false;
    ready_.clear();
    if (std::exchange(flush_deferred_, false)) connection.request_scope().spawn(connection.flush());
  }
  // An answer was submitted: true when start_ready() will flush it (the
  // caller need not).
  bool defer_flush() noexcept {
    flush_deferred_ = flush_deferred_ || starting_;
    return starting_;
  }

 private:
  template <class Receiver>
  void start(Receiver& connection, stream& s) {
    // (The connection looked the route up already: stream::route.)
    const router::target* route = s.route ? s.route : routes_.find_target(s.dispatched_req->method, s.dispatched_req->path);
    const router::handler* handler = route ? &route->call : nullptr;
    connection.request_scope().spawn(run(connection, s.key(), handler, s.dispatched_req, s.cancel.get_token()));
  }

  // The request is shared with this frame: the stream may be freed while
  // the handler runs.
  template <class Receiver>
  static coro_task<> run(Receiver& connection, stream_key key, const router::handler* handler,
                         std::shared_ptr<const request> req, std::stop_token cancel) {
    // Initialised from the await (no default response assigned over): the
    // answer is moved once less. (No co_await inside ?: with g++ 12.)
    if (!handler) handler = &not_found;
    response resp = co_await with_stop_token((*handler)(*req, cancel), cancel);
    req.reset();
    if (connection.answer(key, std::move(resp), cancel)) co_await connection.flush();
  }

  // What a request no route takes gets.
  static inline const router::handler not_found = [](const request&, std::stop_token) -> coro_task<response> {
    co_return text_response(404, "Not Found\n");
  };

  const router& routes_;
  std::vector<std::int32_t> ready_;  // requests completed during receive()
  bool receiving_ = false;
  bool starting_ = false;        // start_ready() runs
  bool flush_deferred_ = false;  // an answer made inside it waits for its flush
};

}  // namespace fastrt::http2
