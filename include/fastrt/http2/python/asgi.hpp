// asgi.hpp — one request to an ASGI 3.0 app: the io-thread side of the call,
// whose Python side is the Channel of asgi_glue.hpp.
//
//   coro_task<result<response>> r = asgi::respond(app, executor, req, give_up);
//
// How it runs: a job (try_submit_awaitable) builds the scope
// (asgi_scope.hpp) and the channel on some worker and calls channel.begin(),
// which starts the app as its own Task there, eagerly: when the app has
// answered without waiting (the common case) the event comes back from the
// job at once; else the job awaits channel.next_event() in that worker's
// event loop. Each event the io side gets back is one of:
//   wants_body  the app waits in receive(): the next piece of the request
//               body (body_source) is fed with one job on the SAME worker
//               (submit_awaitable_to), which then awaits the next event
//   starts      the response head, with its first piece: more_body False
//               makes a whole response (no stream); else the response's
//               body_stream pulls each further piece with one job on that
//               worker (the pull waits there for the app's next send(),
//               which waits until the pull took the piece: one piece in
//               memory, the client's flow control paces the app)
//   body        a piece of the response body (`more` False: the last)
// A request body of at most piece_size goes in with the first job (no feed
// round); an empty one is one http.request with body b'' and more_body False.
//
// Giving up: `give_up` (the client reset, --handler-timeout: handler.hpp)
// cancels the job's Task; the channel then says http.disconnect to a
// receive() and cancels the app's Task. Once the response streams, the
// connection dropping the body_stream (finished, reset, timed out) does
// the same: its guard stops the pull in flight, and the call's release job
// (below) disconnects the channel.
//
// Errors: the app raising, or breaking the protocol, before the response
// starts fails the call (handler.hpp: 500, logged with the traceback);
// after, the pull fails (the connection resets the stream and logs it).
//
// Lifetime (the rules of streamed_body.hpp): the channel reference lives in
// a shared call_state held by the jobs and the body_stream. Whoever drops
// the last reference on a thread not attached to the channel's interpreter
// queues a fire-and-forget job on that worker, which disconnects and
// releases it; refused once the executor shuts down (the reference is left
// to finalization). The executor must outlive every response.
//
// Thread-safety: respond() and the body_stream run on one io thread; the
// call_state's Python members are touched only on its worker with the GIL
// (the io thread reads kind/worker after the first job completed, which
// orders them). Cost per request: one job (plus one per request body piece
// beyond the first 64 KiB, one per response piece when streamed), the scope,
// a Channel, the app's Task (plus a next_event Task when the app waits).
#pragma once

#include <Python.h>

#include <fastrt/python/exception.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>

#include <fastrt/http2/python/app.hpp>
#include <fastrt/http2/python/asgi_glue.hpp>
#include <fastrt/http2/python/asgi_scope.hpp>
#include <fastrt/http2/python/common.hpp>
#include <fastrt/http2/python/in_flight_capsule.hpp>
#include <fastrt/http2/python/module.hpp>
#include <fastrt/http2/python/streamed_body.hpp>
#include <fastrt/http2/request.hpp>
#include <fastrt/http2/request_body.hpp>
#include <fastrt/http2/response.hpp>

namespace fastrt::http2::python::asgi {

namespace py = fastrt::python;

// The request body, piece by piece, on the io thread: the next piece, or
// nullopt at the end (request_body.hpp).
using body_source = body_piece_source;

// The most one http.request message carries.
inline constexpr std::size_t piece_size = 64 * 1024;

// The body the server buffered (request.body), from `offset` on, in pieces
// of at most piece_size. `req` is kept alive by the source.
inline body_source buffered_body(std::shared_ptr<const request> req, std::size_t offset) {
  auto next = std::make_shared<std::size_t>(offset);
  return [req = std::move(req), next]() -> fastrt::coro_task<fastrt::result<std::optional<std::string>>> {
    const std::string& body = req->body;
    if (*next >= body.size()) co_return std::optional<std::string>();
    const std::size_t size = std::min(piece_size, body.size() - *next);
    std::optional<std::string> piece(std::in_place, body, *next, size);
    *next += size;
    co_return piece;
  };
}

// What the channel says the io side must do next (see the top).
enum class event_kind : std::uint8_t { wants_body, starts, body };

struct event {
  event_kind kind = event_kind::body;
  int status = 200;
  header_list headers;
  std::string body;
  bool more = false;  // more pieces follow
};

// A worker key for the glue's lifespan state ("pinned:0").
inline std::string worker_key(py::worker_kind kind, std::size_t index) {
  return std::string(py::to_string(kind)) + ":" + std::to_string(index);
}

class call_state {
 public:
  call_state(py::subinterpreter_executor& executor, body_source source) noexcept
      : executor_(executor), source_(std::move(source)) {}
  call_state(const call_state&) = delete;
  call_state& operator=(const call_state&) = delete;

  ~call_state() { release_on_worker(std::exchange(channel_, nullptr), interp_, executor_, kind_, worker_, &release); }

  // On a worker, with the GIL: the scope and the channel for `req`; returns
  // channel.begin() (a new reference), which starts the app's Task: the
  // first event, or the next_event() coroutine that waits for it.
  fastrt::result<PyObject*> start(py::call_context& ctx, const python_app& app, const request& req) {
    PyObject* type = ctx.object(app.request_type());
    PyObject* callable = ctx.object(app.app_handler());
    module_state* module = type ? request_state(type) : nullptr;
    if (!module || !callable) return fastrt::error(std::errc::invalid_argument, "the app is not loaded in this interpreter");
    PyObject* make_channel = channel_class(*module);
    if (!make_channel) return py::take_exception("loading the ASGI glue");
    PyObject* scope = new_scope(*module, req);
    if (!scope) return py::take_exception("building the ASGI scope");
    // A small body goes in at once: no feed round.
    const bool whole = !source_;
    PyObject* body = whole ? bytes_of(req.body) : Py_NewRef(Py_None);
    // Listed as running (for a shutdown that times out) until the app's Task is done.
    PyObject* listed = new_in_flight_capsule(app.in_flight(), req, ctx);
    const std::string key = worker_key(ctx.kind(), ctx.worker_index());
    PyObject* key_text = PyUnicode_FromStringAndSize(key.data(), static_cast<Py_ssize_t>(key.size()));
    PyObject* channel = nullptr;
    if (body && listed && key_text) {
      PyObject* args[] = {callable, scope, body, Py_False, key_text, listed};
      channel = PyObject_Vectorcall(make_channel, args, 6, nullptr);
    }
    Py_XDECREF(key_text);
    Py_XDECREF(listed);
    Py_XDECREF(body);
    Py_DECREF(scope);
    if (!channel) return py::take_exception("making the ASGI channel");
    channel_ = channel;
    interp_ = PyInterpreterState_Get();
    kind_ = ctx.kind();
    worker_ = ctx.worker_index();
    PyObject* out = PyObject_CallMethodNoArgs(channel_, module->asgi_begin);
    if (!out) return py::take_exception();
    return out;
  }

  // On the worker: channel.feed(piece) (nullopt: the end), a new reference
  // to the next_event() coroutine.
  fastrt::result<PyObject*> feed(const std::optional<std::string>& piece) {
    PyObject* out = PyObject_CallMethod(channel_, "feed", "NN", bytes_of(piece ? std::string_view(*piece) : ""),
                                        PyBool_FromLong(piece ? 1 : 0));
    if (!out) return py::take_exception();
    return out;
  }
  fastrt::result<PyObject*> next_event() {
    PyObject* out = PyObject_CallMethod(channel_, "next_event", nullptr);
    if (!out) return py::take_exception();
    return out;
  }

  // On the worker: the event next_event() returned (borrowed).
  static fastrt::result<event> parse(PyObject* value) {
    event e;
    long kind = -1;
    if (PyTuple_Check(value) && PyTuple_GET_SIZE(value) >= 1) kind = PyLong_AsLong(PyTuple_GET_ITEM(value, 0));
    if (kind == 0) {
      e.kind = event_kind::wants_body;
      return e;
    }
    PyObject* body = nullptr;
    PyObject* more = nullptr;
    if (kind == 1 && PyTuple_GET_SIZE(value) == 5) {
      e.kind = event_kind::starts;
      e.status = static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(value, 1)));
      FASTRT_TRY(add_headers(e.headers, PyTuple_GET_ITEM(value, 2)));
      body = PyTuple_GET_ITEM(value, 3);
      more = PyTuple_GET_ITEM(value, 4);
    } else if (kind == 2 && PyTuple_GET_SIZE(value) == 3) {
      body = PyTuple_GET_ITEM(value, 1);
      more = PyTuple_GET_ITEM(value, 2);
    } else {
      PyErr_Clear();
      return fastrt::error(std::errc::invalid_argument, "the ASGI channel gave an event it should not");
    }
    if (e.status < 200 || e.status > 599)
      return fastrt::error(std::errc::invalid_argument,
                           "the ASGI app sent status " + std::to_string(e.status) + " (fastrt-h2 sends 200..599)");
    if (body != Py_None) e.body = FASTRT_TRY(py::call_context::to_bytes(body));
    e.more = PyObject_IsTrue(more) == 1;
    return e;
  }

  // The call's response: the head and first piece of `started`, and a
  // body_stream for the rest when more follows. On the io thread.
  static response respond_with(std::shared_ptr<call_state> self, event started) {
    response r;
    r.status = started.status;
    r.headers = std::move(started.headers);
    if (!started.more) {
      r.body = std::move(started.body);
      return r;
    }
    self->pending_ = std::move(started.body);
    // The guard lives with the body_stream only (not the pulls): dropping
    // the stream stops the pull in flight (its Task is cancelled, the
    // channel disconnects).
    auto guard = std::make_shared<stop_on_drop>();
    r.stream = [self, guard] { return pull(self, guard->source.get_token()); };
    return r;
  }

  // The next event, feeding the request body as long as the app asks for it.
  template <class Future>
  static fastrt::coro_task<fastrt::result<event>> until_answer(std::shared_ptr<call_state> self, Future first,
                                                               std::stop_token give_up) {
    fastrt::result<event> got = co_await std::move(first);
    while (got && got->kind == event_kind::wants_body) {
      fastrt::result<std::optional<std::string>> piece = co_await self->next_piece();
      if (!piece) co_return std::move(piece).error();
      auto start = [self, piece = std::move(piece).value()](py::call_context&) { return self->feed(piece); };
      auto fed = self->executor_.submit_awaitable_to(self->kind_, self->worker_, give_up, std::move(start), &finish);
      got = co_await std::move(fed);
    }
    co_return got;
  }

  static fastrt::result<event> finish(py::call_context&, PyObject* value) { return parse(value); }

 private:
  struct stop_on_drop {
    std::stop_source source;
    ~stop_on_drop() { source.request_stop(); }
  };

  static void release(PyObject* channel) {
    PyObject* out = PyObject_CallMethod(channel, "disconnect", nullptr);
    if (!out) PyErr_Clear();  // nothing to tell: the client is gone
    Py_XDECREF(out);
    Py_DECREF(channel);
  }

  // (name, value) bytes pairs, checked by the glue; names lower-cased here
  // and both checked against the rules every response header follows.
  static fastrt::result<void> add_headers(header_list& out, PyObject* headers) {
    if (!PyList_Check(headers)) return fastrt::error(std::errc::invalid_argument, "the ASGI channel gave no header list");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); ++i) {
      PyObject* pair = PyList_GET_ITEM(headers, i);
      std::string name(PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 0)),
                       static_cast<std::size_t>(PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 0))));
      std::string value(PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 1)),
                        static_cast<std::size_t>(PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 1))));
      lower_ascii(name);
      if (const char* problem = header_problem(name, value))
        return fastrt::error(std::errc::invalid_argument, "the ASGI app sent header '" + name + "': " + problem);
      out.emplace_back(std::move(name), std::move(value));
    }
    return {};
  }

  fastrt::coro_task<fastrt::result<std::optional<std::string>>> next_piece() {
    if (!source_) co_return std::optional<std::string>();  // (the channel never asks then: the body went in whole)
    fastrt::result<std::optional<std::string>> piece = co_await source_();
    co_return piece;
  }

  static fastrt::coro_task<fastrt::result<std::string>> pull(std::shared_ptr<call_state> self, std::stop_token stopped) {
    if (!self->pending_.empty()) co_return std::exchange(self->pending_, std::string());
    if (self->ended_) co_return std::string();
    auto start = [self](py::call_context&) { return self->next_event(); };
    auto first = self->executor_.submit_awaitable_to(self->kind_, self->worker_, stopped, std::move(start), &finish);
    fastrt::result<event> got = co_await until_answer(self, std::move(first), stopped);
    if (!got) co_return std::move(got).error();
    if (got->kind != event_kind::body)
      co_return fastrt::error(std::errc::invalid_argument, "the ASGI channel started the response twice");
    if (!got->more) self->ended_ = true;
    co_return std::move(got->body);  // "" (the end) when the last piece is empty
  }

  py::subinterpreter_executor& executor_;
  body_source source_;
  PyObject* channel_ = nullptr;  // owned; touched only with interp_'s GIL held
  PyInterpreterState* interp_ = nullptr;
  py::worker_kind kind_ = py::worker_kind::pinned;
  std::size_t worker_ = 0;
  bool ended_ = false;       // the last piece was pulled
  std::string pending_;      // the first piece, which came with the head
};

// The response of `app` (an ASGI app) to `req`: its head once the app sent
// http.response.start (with its first piece), or why not. On an io thread.
inline fastrt::coro_task<fastrt::result<response>> respond(python_app app, py::subinterpreter_executor& executor,
                                                           std::shared_ptr<const request> req, std::stop_token give_up) {
  // A body still arriving (a streamed route) is fed as it comes, under flow
  // control; a whole one of at most piece_size goes in with the first job.
  body_source source;
  if (req->body_pieces) source = piece_source_of(req->body_pieces);
  else if (req->body.size() > piece_size) source = buffered_body(req, 0);
  auto self = std::make_shared<call_state>(executor, std::move(source));
  auto start = [self, app, req, give_up](py::call_context& ctx) -> fastrt::result<PyObject*> {
    if (give_up.stop_requested())
      return fastrt::error(fastrt::errc::canceled, "the request was given up before the app ran");
    return self->start(ctx, app, *req);
  };
  auto first = executor.try_submit_awaitable(give_up, std::move(start), &call_state::finish);
  fastrt::result<event> started = co_await call_state::until_answer(self, std::move(first), give_up);
  if (!started) co_return std::move(started).error();
  if (started->kind != event_kind::starts)
    co_return fastrt::error(std::errc::invalid_argument, "the ASGI channel sent a body before the response's head");
  co_return call_state::respond_with(std::move(self), std::move(started).value());
}

}  // namespace fastrt::http2::python::asgi
