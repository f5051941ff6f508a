// handler.hpp — the Python app as a router handler: each request runs
// python_app (app.hpp) on a subinterpreter_executor worker, and what went
// wrong becomes an HTTP answer and a log line.
//
//   python_handler_options opts;
//   opts.timeout = 30s;          // fastrt-h2's --handler-timeout; 0: no limit
//   opts.events = &my_observer;  // where failures are logged
//   ctx.routes.fallback(python_handler(app, *executor, opts));
//
// What a request gets:
//   the app's answer        as python_app converted it; a streamed body has
//                           each piece bounded by the timeout too (a piece
//                           that does not come fails with errc::timed_out:
//                           the connection resets the stream)
//   503 + retry-after: 1    every worker's queue is full (try_submit): the
//                           client may retry, nothing ran
//   504                     no answer within the timeout (logged, error)
//   500                     the app raised (logged with the traceback) or
//                           returned something unusable (logged)
//   503                     the stop token stopped (the stream was reset or
//                           the connection cut: the connection drops this
//                           answer), or the executor is shutting down
// The worker's job owns a copy of the request: a request given up on
// (timeout, reset) does not wait for the worker, which may still be reading
// it. A job whose stop token is already stopped when a worker picks it up
// does not call the app. An ASGI app runs as asgi.hpp says (the same
// answers; a timeout or reset after its response started resets the
// stream). An `async def app` is awaited as a Task in the
// worker's event loop (subinterpreter_executor::try_submit_awaitable): many
// at once per worker; giving up on the request (reset, timeout) cancels the
// task (the app sees CancelledError), and a worker whose loop holds
// max_in_flight_per_worker tasks takes no more (all full: the 503).
//
// Thread-safety: the handler is an immutable value, called on any io
// thread at once. With a timeout, a call and each streamed piece must run
// on an io_context's loop thread (io_context::current(): its timers bound
// the timeout; elsewhere the answer is a 500 saying so). `executor` and
// `events` must outlive the handler and every response it made (a streamed
// body pulls through the executor).
// Cost per request: the request shared with the job (copied, body
// included, only when the caller does not hold it by a shared_ptr), one
// executor job, a timer when there is a timeout; per streamed piece: one
// job and, with a timeout, one timer.
#pragma once

#include <fastrt/async_scope.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/timer.hpp>
#include <fastrt/with_stop_token.hpp>

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

#include <fastrt/http2/field_rules.hpp>
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/asgi.hpp>
#include <fastrt/http2/python/body_channel.hpp>
#include <fastrt/http2/request_body.hpp>
#include <fastrt/http2/request.hpp>
#include <fastrt/http2/response.hpp>
#include <fastrt/http2/router.hpp>

namespace fastrt::http2::python {

struct python_handler_options {
  // How long the app may take to answer, and then each piece of a streamed
  // body to come; 0 (or less): no limit.
  std::chrono::milliseconds timeout{0};
  // Where failed requests are logged; null: nowhere.
  observer* events = nullptr;
};

namespace detail {

// "METHOD /path" with request text escaped, so it cannot forge log lines.
inline std::string request_for_log(const request& req) {
  std::string out;
  fields::escape_for_log(req.method, out);
  out += ' ';
  fields::escape_for_log(req.path, out);
  return out;
}

// What the client gets for an app call that failed, other than canceled
// (see the table above); logs why through `events`.
inline response failure_response(const request& req, const fastrt::error& e, observer* events) {
  if (e == std::errc::resource_unavailable_try_again) {
    response r = text_response(503, "Service Unavailable: the Python workers are busy\n");
    r.headers.emplace_back("retry-after", "1");
    return r;  // not logged: a flood of them would flood the log, and the client is told to retry
  }
  const bool timed_out = e == fastrt::errc::timed_out;
  if (events) {
    std::string line = request_for_log(req);
    std::string_view why = e.message();
    while (!why.empty() && why.back() == '\n') why.remove_suffix(1);  // a Python error ends with one
    if (timed_out) {
      line += ": the app did not answer within --handler-timeout (504)";
    } else if (e == fastrt::python::exception_code) {
      // The traceback keeps its lines: it is the app's text, not the client's.
      (line += ": the app raised an exception (500):\n") += why;
    } else {
      ((line += ": ") += why) += " (500)";
    }
    events->log(log_level::error, line);
  }
  if (timed_out) return text_response(504, "Gateway Timeout: the app did not answer in time\n");
  return text_response(500, "Internal Server Error\n");
}

// One piece of a streamed body, failing with errc::timed_out when it does
// not come within `limit` (the pull is abandoned; its job, if running,
// finishes on its worker).
inline fastrt::coro_task<fastrt::result<std::string>> piece_within(fastrt::coro_task<fastrt::result<std::string>> piece,
                                                                   std::chrono::milliseconds limit) {
  fastrt::io_context* ctx = fastrt::io_context::current();
  if (!ctx)
    co_return fastrt::error(std::errc::operation_not_supported,
                            "python_handler: a response body with a timeout must be pulled on an io_context thread");
  fastrt::result<std::string> out = co_await fastrt::with_timeout(*ctx, std::move(piece), limit);
  if (!out && out.error() == fastrt::errc::timed_out)
    co_return fastrt::error(fastrt::errc::timed_out, "the response body gave no piece within --handler-timeout");
  co_return std::move(out);
}

inline body_stream timed_stream(body_stream inner, std::chrono::milliseconds limit) {
  // Not a coroutine itself: each pull's frame holds the piece's task and the
  // limit, not a reference to this function object (which the connection
  // may drop while the pull is in flight).
  return [inner = std::move(inner), limit] { return piece_within(inner(), limit); };
}

inline fastrt::coro_task<fastrt::result<response>> run_app(python_app app, fastrt::python::subinterpreter_executor& executor,
                                                           std::chrono::milliseconds timeout,
                                                           std::shared_ptr<const request> req,
                                                           std::shared_ptr<body_channel> input, std::stop_token token);

// The app's result: its answer, or the error that stopped it. A streamed
// body (request::body_pieces) is pumped into a body_channel the app reads
// blocking on its worker (wsgi.input, Request.read()) while the app runs;
// once it has answered, failed or been given up on, a read still waiting
// fails (OSError) and the pump stops.
inline fastrt::coro_task<fastrt::result<response>> call(python_app app, fastrt::python::subinterpreter_executor& executor,
                                                        std::chrono::milliseconds timeout,
                                                        std::shared_ptr<const request> req, std::stop_token token) {
  std::shared_ptr<body_channel> input;
  // (An ASGI app's receive() pulls the body itself: asgi.hpp.)
  if (req->body_pieces && app.interface() != app_interface::asgi) {
    if (!fastrt::io_context::current())
      co_return fastrt::error(std::errc::operation_not_supported,
                              "python_handler: a streamed request body must be read on an io_context thread");
    input = std::make_shared<body_channel>();
  }
  fastrt::async_scope pumps;
  if (input) pumps.spawn(body_channel::pump(piece_source_of(req->body_pieces), input));
  fastrt::result<response> out = co_await run_app(app, executor, timeout, req, input, std::move(token));
  if (input) {
    input->close_from_server("the server no longer reads this request's body (the app answered or was given up on)");
    pumps.request_stop();
  }
  co_await pumps.join();
  co_return std::move(out);
}

inline fastrt::coro_task<fastrt::result<response>> run_app(python_app app, fastrt::python::subinterpreter_executor& executor,
                                                           std::chrono::milliseconds timeout,
                                                           std::shared_ptr<const request> req,
                                                           std::shared_ptr<body_channel> input, std::stop_token token) {
  fastrt::io_context* ctx = timeout.count() > 0 ? fastrt::io_context::current() : nullptr;
  if (timeout.count() > 0 && !ctx)
    co_return fastrt::error(std::errc::operation_not_supported,
                            "python_handler: a handler with a timeout must run on an io_context thread");
  // Stopped when the client gives up (token) or the timeout passes: then
  // the app's task, if it is an `async def` app's, is cancelled.
  std::stop_source give_up;
  const std::stop_callback forward(token, [&give_up] { give_up.request_stop(); });
  auto start = [req, app, input, stopped = give_up.get_token()](
                   fastrt::python::call_context& call_ctx) -> fastrt::result<PyObject*> {
    if (stopped.stop_requested())
      return fastrt::error(fastrt::errc::canceled, "the request was given up before the app ran");
    return app.start(call_ctx, *req, input);
  };
  auto finish = [app](fastrt::python::call_context& call_ctx, PyObject* out) { return app.finish(call_ctx, out); };
  // A WSGI app is called whole, as a plain job (it never awaits).
  auto whole = [req, app, input, stopped = give_up.get_token()](
                   fastrt::python::call_context& call_ctx) -> fastrt::result<response> {
    if (stopped.stop_requested())
      return fastrt::error(fastrt::errc::canceled, "the request was given up before the app ran");
    return app(call_ctx, *req, input);
  };
  // Named locals throughout: see streamed_body.hpp on g++ 12 and
  // `co_return co_await` of a temporary.
  if (app.interface() == app_interface::asgi) {
    // Several jobs (the request body is fed as the app asks for it,
    // asgi.hpp), bounded up to the response's head as one call is.
    auto exchange = asgi::respond(app, executor, req, give_up.get_token());
    if (!ctx) {
      fastrt::result<response> out = co_await fastrt::with_stop_token(std::move(exchange), token);
      co_return std::move(out);
    }
    fastrt::result<response> out =
        co_await fastrt::with_stop_token(fastrt::with_timeout(*ctx, std::move(exchange), timeout), token);
    if (!out) give_up.request_stop();  // timed out: the channel disconnects, the app's task is cancelled
    co_return std::move(out);
  }
  auto future = app.interface() == app_interface::wsgi
                    ? executor.try_submit(std::move(whole))
                    : executor.try_submit_awaitable(give_up.get_token(), std::move(start), std::move(finish));
  if (!ctx) {
    fastrt::result<response> out = co_await fastrt::with_stop_token(std::move(future), token);
    co_return std::move(out);
  }
  fastrt::result<response> out =
      co_await fastrt::with_stop_token(fastrt::with_timeout(*ctx, std::move(future), timeout), token);
  if (!out) give_up.request_stop();  // timed out: cancel the task (a no-op once the job is done)
  co_return std::move(out);
}

inline fastrt::coro_task<response> answer(python_app app, fastrt::python::subinterpreter_executor& executor,
                                          python_handler_options options, std::shared_ptr<const request> req,
                                          std::stop_token token) {
  fastrt::result<response> out = co_await call(app, executor, options.timeout, req, token);
  if (out) {
    response r = std::move(out).value();
    if (r.stream && options.timeout.count() > 0) r.stream = timed_stream(std::move(r.stream), options.timeout);
    co_return std::move(r);
  }
  if (out.error() == fastrt::errc::canceled) {
    // Given up on (the connection drops this answer), or refused by an
    // executor that is shutting down (this one goes out).
    co_return text_response(503, "Service Unavailable: the Python workers are stopping\n");
  }
  co_return failure_response(*req, out.error(), options.events);
}

}  // namespace detail

// The handler that answers with `app` run on `executor` (see above).
inline router::handler python_handler(python_app app, fastrt::python::subinterpreter_executor& executor,
                                      python_handler_options options = {}) {
  return [app, executor = &executor, options](const request& req, std::stop_token token) {
    // Shared (or copied) here, before the coroutine starts: the caller's
    // request only has to live for this call, and the job may outlive the
    // answer. The server's requests are shared, not copied (request.hpp).
    std::shared_ptr<const request> held = req.weak_from_this().lock();
    if (!held) held = std::make_shared<const request>(req);
    return detail::answer(app, *executor, options, std::move(held), std::move(token));
  };
}

}  // namespace fastrt::http2::python
