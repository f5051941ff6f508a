// request_body.hpp — a request body read piece by piece while it arrives,
// under HTTP/2 flow control: what a route registered with
// route_options{.body = request_body::streamed} (router.hpp) gets instead of
// a whole request.body when the body is still to come as its handler starts
// (request.body_pieces); a request that was already complete (no body, or
// all of it in the first read) comes whole in request.body as on a buffered
// route, which costs nothing extra. body_pieces_of(req) reads either way:
//
//   body_piece_source pieces = body_pieces_of(held_request);  // a streamed route's request
//   for (;;) {
//     auto piece = co_await pieces();                       // result<optional<string>>
//     if (!piece) co_return text_response(400, ...);        // reset, connection gone, --body-timeout, too large
//     if (!*piece) break;                                   // END_STREAM: the body is complete
//     hash.update(**piece);
//   }
//
// Flow control: the connection opens the stream's window only for bytes
// next() handed over (body_reader::owner::taken), so a handler that reads
// slowly makes the client wait, and a stream holds at most its receive
// window (64 KiB by default) plus one frame. The connection-level window is
// opened as soon as bytes are queued here, so a stalled stream does not
// starve the connection's other streams (connection.hpp, request_data).
//
// body_reader_state:
//
//   open ──END_STREAM──▶ ended          (next() hands out what is queued, then nullopt)
//   open ──reset, connection closed, body timeout, too large──▶ failed   (next() fails at once)
//   open ──the handler answered (abandon)──▶ abandoned   (the rest of the body is discarded)
//
// body_piece_source is that stream as a plain function ("next piece,
// nullopt at the end"), the seam the Python bridges (and ASGI's receive())
// pull from.
//
// Thread-safety: the connection's io thread only (deliver/finish/fail from
// the connection, next() from a coroutine on that thread); one next() at a
// time. A stop requested on the awaiting task's token (from any thread)
// ends a waiting next() with errc::canceled on the io thread. Cost: the
// bytes queued (one std::string, appended to), one shared state per
// streamed request; next() takes everything queued at once.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fastrt/error.hpp>
#include <fastrt/http2/request.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/result.hpp>
#include <fastrt/task.hpp>

namespace fastrt::http2 {

enum class body_reader_state : std::uint8_t { open, ended, failed, abandoned };

class body_reader : public std::enable_shared_from_this<body_reader> {
 public:
  // Who delivers the bytes (the connection): told when next() handed `n`
  // bytes to the handler, so that it opens the stream's window by as much.
  // A plain function pointer (called on the io thread, outside nghttp2's
  // callbacks); the owner detaches itself (detach()) before it goes away.
  using taken_hook = void (*)(void* owner, std::int32_t stream_id, std::size_t n);

  body_reader() = default;
  body_reader(void* owner, taken_hook taken, std::int32_t stream_id) noexcept
      : owner_(owner), taken_(taken), stream_id_(stream_id) {}
  body_reader(const body_reader&) = delete;
  body_reader& operator=(const body_reader&) = delete;

  // The next bytes: everything queued since the last call (at least one
  // byte), nullopt once the body ended and all of it was handed out, or an
  // error (the stream was reset or the connection closed, --body-timeout,
  // the body outgrew --max-body-size; errc::canceled when the awaiting
  // task's stop token stopped). Must be awaited on the io thread.
  // (Not a coroutine itself: the task's frame holds the reader, so it may
  // outlive whoever called next().)
  fastrt::coro_task<fastrt::result<std::optional<std::string>>> next() { return read(shared_from_this()); }

  body_reader_state state() const noexcept { return state_; }
  // Bytes received and not yet handed out.
  std::size_t queued() const noexcept { return queued_.size(); }

  // --- the connection's side ------------------------------------------------
  void deliver(std::string_view bytes) {
    if (state_ != body_reader_state::open) return;
    queued_.append(bytes);
    wake();
  }
  // END_STREAM arrived.
  void finish() {
    if (state_ != body_reader_state::open) return;
    state_ = body_reader_state::ended;
    wake();
  }
  // The body cannot complete: next() fails with `why`. Returns the bytes
  // that were queued, now dropped (the caller opens the window for them).
  std::size_t fail(fastrt::error why) {
    const std::size_t dropped = queued_.size();
    if (state_ == body_reader_state::open || state_ == body_reader_state::ended) {
      state_ = body_reader_state::failed;
      failure_ = std::move(why);
    }
    std::string().swap(queued_);
    wake();
    return dropped;
  }
  // The handler answered: nobody reads the rest. The bytes still queued
  // (the caller opens the window for them).
  std::size_t abandon() {
    const std::size_t dropped = queued_.size();
    if (state_ == body_reader_state::open || state_ == body_reader_state::ended) {
      state_ = body_reader_state::abandoned;
      failure_ = fastrt::error(std::errc::operation_canceled, "the request body is no longer read: the handler answered");
    }
    std::string().swap(queued_);
    wake();
    return dropped;
  }
  // The stream is freed: the reader no longer reaches its owner, and a body
  // that had not ended fails.
  void detach() {
    owner_ = nullptr;
    (void)fail(fastrt::error(std::errc::connection_reset,
                       "the request stream was reset or its connection closed before the body ended"));
  }

 private:
  // Suspends next() until something arrives (true) or the awaiting task's
  // stop token stops (false). The waiter resumes through its io_context's
  // queue, never inside the caller of deliver()/fail() (an nghttp2 callback).
  struct arrival {
    body_reader* reader;
    std::optional<std::stop_callback<std::function<void()>>> stop;

    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> h) {
      io_context* ctx = io_context::current();
      if (!ctx) {
        reader->canceled_ = true;  // no loop to resume on: a usage error, reported as canceled
        return false;
      }
      reader->waiter_ = h;
      reader->ctx_ = ctx;
      reader->canceled_ = false;
      if constexpr (requires { h.promise().stop_token_ptr(); }) {
        const std::stop_token* token = h.promise().stop_token_ptr();
        if (token && token->stop_possible()) {
          // Any thread may stop the token: the cancel runs on the loop.
          stop.emplace(*token, [ctx, keep = reader->weak_from_this()] {
            ctx->post([keep] {
              if (const auto r = keep.lock()) r->cancel_wait();
            });
          });
        }
      }
      return true;
    }
    bool await_resume() noexcept {
      stop.reset();
      return !reader->canceled_;
    }
  };

  static fastrt::coro_task<fastrt::result<std::optional<std::string>>> read(std::shared_ptr<body_reader> self) {
    body_reader& r = *self;
    while (r.queued_.empty() && r.state_ == body_reader_state::open) {
      if (!co_await arrival{&r, {}}) co_return fastrt::error(fastrt::errc::canceled, "reading the request body was given up");
    }
    if (!r.queued_.empty() && (r.state_ == body_reader_state::open || r.state_ == body_reader_state::ended)) {
      std::string piece = std::exchange(r.queued_, std::string());
      if (r.owner_) r.taken_(r.owner_, r.stream_id_, piece.size());
      co_return std::optional<std::string>(std::move(piece));
    }
    if (r.state_ == body_reader_state::ended) co_return std::optional<std::string>();
    co_return r.failure_;
  }

  void wake() {
    if (!waiter_) return;
    ctx_->post(std::exchange(waiter_, nullptr));
  }
  void cancel_wait() {
    if (!waiter_) return;
    canceled_ = true;
    wake();
  }

  void* owner_ = nullptr;
  taken_hook taken_ = nullptr;
  std::int32_t stream_id_ = 0;
  body_reader_state state_ = body_reader_state::open;
  std::string queued_;
  fastrt::error failure_ = fastrt::error(std::errc::connection_reset, "the request body failed");
  std::coroutine_handle<> waiter_;
  io_context* ctx_ = nullptr;
  bool canceled_ = false;
};

// "The next piece, nullopt at the end": the seam the Python bridges (WSGI's
// wsgi.input, fastrt.Request's stream, ASGI's receive()) pull from.
using body_piece_source = std::function<fastrt::coro_task<fastrt::result<std::optional<std::string>>>()>;

namespace detail {
// A whole body as one piece, then the end.
inline fastrt::coro_task<fastrt::result<std::optional<std::string>>> whole_body_piece(std::shared_ptr<const request> req,
                                                                                        std::shared_ptr<bool> taken) {
  if (*taken || req->body.empty()) co_return std::optional<std::string>();
  *taken = true;
  co_return std::optional<std::string>(req->body);
}
}  // namespace detail

// The reader as a body_piece_source (sharing it). Each call's frame holds
// the reader, not the function object.
inline body_piece_source piece_source_of(std::shared_ptr<body_reader> reader) {
  return [reader = std::move(reader)] { return reader->next(); };  // next()'s frame shares the reader
}

// `req`'s body as a body_piece_source: its reader's pieces on a streamed
// route while the body arrives, else request.body (copied) as one piece.
inline body_piece_source body_pieces_of(std::shared_ptr<const request> req) {
  if (req->body_pieces) return piece_source_of(req->body_pieces);
  return [req = std::move(req), taken = std::make_shared<bool>(false)] { return detail::whole_body_piece(req, taken); };
}

}  // namespace fastrt::http2
