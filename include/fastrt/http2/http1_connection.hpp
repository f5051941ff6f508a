// http1_connection.hpp — one HTTP/1.1 connection over a transport
// (transport.hpp), handed over by basic_connection once the protocol
// sniffer saw an HTTP/1.x request that is not an h2c upgrade. It reads
// requests with http1_request_parser.hpp, runs each through the server's
// router (the same handlers as HTTP/2: C++ routes, the Python bridge), and
// writes the answers with http1_response.hpp:
//
//   reading ──head──▶ (100 Continue) ──body──▶ handling ──answer sent──▶ reading
//      │                                                  │
//      └── EOF, a refusal (400/413/414/417/431/501 sent), └── Connection: close,
//          a timeout, shutdown between requests              HTTP/1.0 without keep-alive,
//                                                           a close-delimited body ──▶ done
//
// One request at a time: pipelined requests wait (in the buffer, then in the
// kernel) until the previous answer is out, so answers go in order and the
// memory held is one request. A streamed body goes out piece by piece, each
// piece sent before the next is asked for (back-pressure), chunked on
// HTTP/1.1, close-delimited on HTTP/1.0.
// Timeouts (server_config): --idle-timeout between requests (close),
// --header-timeout for a whole head from its first byte (close: slowloris),
// --body-timeout for body bytes to keep coming (408 and close),
// --send-timeout for each send. Each read and send only writes its deadline
// (a coarse clock read); one watchdog coroutine per connection sleeps at most
// the shortest timeout at a time and cuts the I/O whose deadline passed — a
// timer per read and send would cost HTTP/1.1 about 40% of its requests/s.
// Graceful shutdown (begin_shutdown): a connection between requests closes
// at once; one busy answers with `connection: close`.
// Memory: the request body and a whole response body are charged to the
// connection's body budget (body_budget.hpp, shared with the server-wide
// one) while held: over it a request gets 503 and the connection closes, an
// answer becomes 503.
//
// Thread-safety: the connection's io thread. Cost: the unread bytes (a head
// at most, the rest waits in the kernel), the request being answered, one
// response head or piece being sent.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

#include <fastrt/async_scope.hpp>
#include <fastrt/http2/body_budget.hpp>
#include <fastrt/http2/connection_deadlines.hpp>
#include <fastrt/http2/connection_info.hpp>
#include <fastrt/http2/field_rules.hpp>
#include <fastrt/http2/http1_request_parser.hpp>
#include <fastrt/http2/http1_response.hpp>
#include <fastrt/http2/http_date.hpp>
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/response_rules.hpp>
#include <fastrt/http2/server_context.hpp>
#include <fastrt/http2/transport.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/task.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/with_stop_token.hpp>

namespace fastrt::http2 {

template <transport Transport>
class basic_http1_connection {
 public:
  basic_http1_connection(io_context& ctx, Transport& transport, const server_context& server,
                         const connection_info& info, connection_body_budget& budget)
      : ctx_(ctx),
        transport_(transport),
        server_(server),
        events_(*server.events),
        info_(info),
        budget_(budget),
        parser_({}, http1::body_limits{server.config.max_body_size, 4096, 8192}) {}

  // Serves requests, starting with `held` (the bytes the sniffer read);
  // returns when the connection is to close (the caller lingers and closes).
  coro_task<> run(std::string held) {
    buffer_ = std::move(held);
    background_.spawn(watchdog());
    co_await serve();
    waiting_ = waiting::nothing;
    finished_.request_stop();  // the watchdog's nap ends
    co_await background_.join();
  }

  // Graceful shutdown: close between requests, or after the current answer.
  void begin_shutdown() {
    shutdown_.request_stop();
    if (waiting_ == waiting::idle) io_stop_.request_stop();
  }

  ~basic_http1_connection() { budget_.release(charged_); }
  basic_http1_connection(const basic_http1_connection&) = delete;
  basic_http1_connection& operator=(const basic_http1_connection&) = delete;

 private:
  using clock = connection_deadlines::clock;
  // What the connection waits for; the watchdog cuts it at its deadline.
  enum class waiting : std::uint8_t { nothing, idle, head, body, send };

  coro_task<> serve() {
    for (;;) {
      const http1::parse_result r = parser_.parse(buffer_);
      buffer_.erase(0, r.consumed);
      if (!charge_request_body()) {
        co_await refuse(503, "too many request bytes held: try again later");
        co_return;
      }
      switch (r.status) {
        case http1::parse_status::need_more:
          if (!co_await read_more()) co_return;
          break;
        case http1::parse_status::head_ready:
          if (!co_await head_ready()) co_return;
          break;
        case http1::parse_status::request_ready:
          if (!co_await answer(parser_.take())) co_return;
          break;
        case http1::parse_status::failed:
          events_.log(log_level::warning, "HTTP/1.1 request refused (" + std::to_string(r.error_status) +
                                              "): " + std::string(r.problem));
          co_await refuse(r.error_status, r.problem);
          co_return;
      }
    }
  }

  // Sleeps until the deadline of what the connection waits for, never
  // longer than the shortest timeout (a deadline set meanwhile is at least
  // that far away), and cuts the wait once its deadline has passed.
  coro_task<> watchdog() {
    const server_config& c = server_.config;
    std::chrono::milliseconds nap = std::chrono::hours(24 * 365);
    for (const auto limit : {c.idle_timeout, c.header_timeout, c.body_timeout, c.send_timeout}) {
      if (limit.count() > 0) nap = std::min(nap, limit);
    }
    while (!finished_.stop_requested()) {
      const auto now = connection_deadlines::coarse_now();
      if (waiting_ != waiting::nothing && now >= deadline_) {
        expired_ = waiting_;
        io_stop_.request_stop();
        co_return;
      }
      auto until = now + nap;
      if (waiting_ != waiting::nothing) until = std::min(until, deadline_);
      (void)co_await with_stop_token(sleep_for(ctx_, until - now), finished_.get_token());
    }
  }

  // What the connection waits for from now, until when (a zero limit: no deadline).
  void expect(waiting what, clock::time_point since, std::chrono::milliseconds limit) noexcept {
    waiting_ = what;
    deadline_ = limit.count() > 0 ? since + limit : clock::time_point::max();
  }

  // Reads more bytes into buffer_ under the timeout of what is awaited;
  // false when the connection is over (EOF, error, timeout, shutdown).
  coro_task<bool> read_more() {
    const waiting what = parser_.between_requests() && buffer_.empty()
                             ? waiting::idle
                             : (in_body_ ? waiting::body : waiting::head);
    if (what == waiting::idle && shutdown_.stop_requested()) co_return false;
    if (continue_due_) {
      continue_due_ = false;  // (the body has not come yet: the client may be waiting for this)
      if (!co_await send(std::string(http1::continue_100))) co_return false;
    }
    const server_config& c = server_.config;
    const auto now = connection_deadlines::coarse_now();
    if (what == waiting::head) {  // the whole head within --header-timeout, however slowly it comes
      if (!head_started_) head_started_ = now;
      expect(what, *head_started_, c.header_timeout);
    } else {
      expect(what, now, what == waiting::idle ? c.idle_timeout : c.body_timeout);
    }
    auto got = co_await with_stop_token(receive(), io_stop_.get_token());
    waiting_ = waiting::nothing;
    if (got && *got) co_return true;
    if (expired_ != waiting::nothing) {
      if (what == waiting::body) {
        events_.count(metric::bodies_timed_out);
        events_.log(log_level::warning, "closing an HTTP/1.1 connection: the request body stopped arriving (408)");
        co_await refuse(408, "the request body stopped arriving");
      } else if (what == waiting::head) {
        events_.count(metric::connections_timed_out);
        events_.log(log_level::warning, "closing an HTTP/1.1 connection: header timeout");
      }
    }
    co_return false;
  }

  // One recv into buffer_: true with bytes, false at EOF.
  coro_task<result<bool>> receive() {
    auto chunk = co_await transport_.recv();
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) co_return false;
    buffer_.append(chunk->text());
    co_return true;
  }

  // The head is in: refuse an expectation we cannot meet; owe 100 Continue.
  coro_task<bool> head_ready() {
    in_body_ = true;
    head_started_.reset();
    if (access_records_) started_ = std::chrono::steady_clock::now();
    const http1::request_head& h = parser_.head();
    if (h.expect == http1::expectation::unsupported) {
      co_await refuse(417, "only the 100-continue expectation is supported");
      co_return false;
    }
    continue_due_ = http1::wants_continue(h);
    co_return true;
  }

  // Charges what the request body grew by; false when over the budget.
  bool charge_request_body() {
    if (!in_body_) return true;
    const std::size_t held = parser_.head().req.body.size();
    if (held <= charged_) return true;
    if (!budget_.try_charge(held - charged_)) {
      events_.log(log_level::warning, "an HTTP/1.1 request body is over --max-buffered-per-connection or "
                                      "--max-buffered (503, closing)");
      return false;
    }
    charged_ = held;
    return true;
  }

  // Runs the request's handler and sends its answer; false: close.
  coro_task<bool> answer(http1::request_head head) {
    in_body_ = false;
    continue_due_ = false;
    const bool keep_alive = http1::keeps_alive(head);
    auto req = std::make_shared<request>(std::move(head.req));
    set_connection(*req, info_);
    events_.count(metric::requests_dispatched);
    const router::handler* handler = server_.routes.find(req->method, req->path);
    response resp;
    if (handler) resp = co_await with_stop_token((*handler)(*req, cut_.get_token()), cut_.get_token());
    else resp = text_response(404, "Not Found\n");
    const bool head_request = req->method == "HEAD";
    response_verdict verdict = check_response(resp, head_request);
    if (!verdict.problem.empty()) {
      log_request_problem(*req, verdict.problem);
      resp = text_response(500, "Internal Server Error\n");
      verdict = response_verdict{};
    }
    std::string().swap(req->body);  // (the handler is done with it)
    budget_.release(std::exchange(charged_, 0));
    if (!resp.stream) {
      if (budget_.try_charge(resp.body.size())) {
        charged_ = resp.body.size();
      } else {
        events_.log(log_level::warning, "an HTTP/1.1 answer is over --max-buffered-per-connection or "
                                        "--max-buffered (503)");
        resp = text_response(503, "Service Unavailable: too many response bytes held\n");
        resp.headers.emplace_back("retry-after", "1");
      }
    }
    http1::response_context context;
    context.version = req->http_version;
    context.head_request = head_request;
    context.keep_alive = keep_alive && !shutdown_.stop_requested();
    context.date = http_date_now();
    std::string out;
    const http1::response_plan plan = http1::write_response(resp, context, out);
    const bool whole_body_sent = !resp.stream && !head_request && resp.status != 204 && resp.status != 304;
    std::uint64_t body_bytes = whole_body_sent ? resp.body.size() : 0;
    bool ok = co_await send(std::move(out));
    if (ok && plan.framing != http1::response_framing::none) {
      ok = co_await send_stream(resp.stream, plan.framing, verdict.declared_length, body_bytes, *req);
    }
    budget_.release(std::exchange(charged_, 0));
    record_access(*req, resp.status, body_bytes);
    co_return ok && !plan.close;
  }

  // A streamed body, each piece out before the next is asked for; false
  // when it failed (the connection closes: the client sees a cut body).
  coro_task<bool> send_stream(const body_stream& next, http1::response_framing framing, std::uint64_t declared,
                              std::uint64_t& sent, const request& req) {
    for (;;) {
      auto piece = co_await with_stop_token(next(), cut_.get_token());
      if (!piece) {
        log_request_problem(req, "the response body failed: " + std::string(piece.error().message()));
        co_return false;
      }
      if (declared != unknown_length && sent + piece->size() > declared) {
        log_request_problem(req, "the streamed body has more bytes than its content-length");
        co_return false;
      }
      std::string out;
      if (piece->empty()) {
        if (declared != unknown_length && sent != declared) {
          log_request_problem(req, "the streamed body has fewer bytes than its content-length");
          co_return false;
        }
        http1::write_body_end(framing, out);
        if (out.empty()) co_return true;
        co_return co_await send(std::move(out));
      }
      sent += piece->size();
      http1::write_piece(framing, *piece, out);
      if (!co_await send(std::move(out))) co_return false;
    }
  }

  // A closing answer to a request that cannot be served.
  coro_task<> refuse(int status, std::string_view problem) {
    if (status == 413 || status == 431 || status == 408) events_.count(metric::requests_answered_early);
    response r = text_response(status, std::string(problem) + "\n");
    http1::response_context context;
    context.keep_alive = false;
    context.date = http_date_now();
    std::string out;
    (void)http1::write_response(r, context, out);
    (void)co_await send(std::move(out));
  }

  coro_task<bool> send(std::string bytes) {
    if (io_stop_.stop_requested()) {  // the watchdog is gone: the last answer (408) gets a second of its own
      auto sent = co_await with_timeout(ctx_, send_all(std::move(bytes)), std::chrono::seconds(1));
      co_return sent.has_value();
    }
    expect(waiting::send, connection_deadlines::coarse_now(), server_.config.send_timeout);
    auto sent = co_await with_stop_token(send_all(std::move(bytes)), io_stop_.get_token());
    waiting_ = waiting::nothing;
    if (!sent && expired_ == waiting::send) {
      events_.count(metric::connections_timed_out);
      events_.log(log_level::warning, "closing an HTTP/1.1 connection: send timeout");
    }
    co_return sent.has_value();
  }
  coro_task<result<void>> send_all(std::string bytes) {
    auto op = transport_.send(bytes);  // an awaiter that cannot move: awaited in place
    auto sent = co_await op;
    if (!sent) co_return sent.error();
    co_return result<void>{};
  }

  void log_request_problem(const request& r, std::string_view why) const {
    std::string line;
    fields::escape_for_log(r.method, line);
    line += ' ';
    fields::escape_for_log(r.path, line);
    line += ": ";
    line += why;
    line += " (HTTP/1.1)";
    events_.log(log_level::error, line);
  }

  void record_access(const request& r, int status, std::uint64_t body_bytes) const {
    if (!access_records_) return;
    events_.access(access_record{.method = r.method,
                                 .path = r.path,
                                 .query = r.query,
                                 .protocol = r.http_version == protocol_version::http1_0 ? "HTTP/1.0" : "HTTP/1.1",
                                 .status = status,
                                 .body_bytes = body_bytes,
                                 .duration = std::chrono::steady_clock::now() - started_});
  }

  io_context& ctx_;
  Transport& transport_;
  const server_context& server_;
  observer& events_;
  const connection_info& info_;
  connection_body_budget& budget_;
  http1::request_parser parser_;
  std::string buffer_;  // received, not yet parsed
  std::stop_source shutdown_;
  std::stop_source cut_;  // the handlers' stop token (no answer is abandoned yet: the client is not read meanwhile)
  const bool access_records_ = events_.wants_access_records();
  std::chrono::steady_clock::time_point started_{};
  std::optional<clock::time_point> head_started_;  // the first byte of the head being read (coarse clock)
  waiting waiting_ = waiting::nothing;
  clock::time_point deadline_{};
  waiting expired_ = waiting::nothing;  // set by the watchdog when it cut the wait
  std::stop_source io_stop_;            // cuts the read or send waited for (timeout, shutdown when idle)
  std::stop_source finished_;           // the connection is over: the watchdog stops
  async_scope background_;              // the watchdog
  std::size_t charged_ = 0;    // the request body, then the whole response body, held
  bool in_body_ = false;       // between head_ready and request_ready
  bool continue_due_ = false;  // a 100 Continue is owed before reading the body
};

}  // namespace fastrt::http2
