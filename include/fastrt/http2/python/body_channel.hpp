// body_channel.hpp — a streamed request body carried from the connection's
// io thread to the Python worker thread that runs the app, which reads it
// blocking (WSGI's wsgi.input, fastrt.Request.read(): body_input.hpp).
//
//   io thread:  spawn(pump(piece_source_of(req.body_pieces), channel));   // request_body.hpp
//   worker:     auto piece = channel->take();   // blocks (the caller releases the GIL)
//
// The pump holds at most `capacity` (2) pieces ahead of the reader — each
// piece is what the body_reader had queued, at most a stream window — and
// waits (without blocking the io thread) for room; what it does not take
// stays unread in the stream, whose window stays shut: the client waits for
// the app. The io side ends the channel at END_STREAM, fails it when the
// body fails (reset, closed connection, --body-timeout, too large) or the
// request is given up (close_from_server), and the worker wakes at once.
//
//   channel_state: open ──END_STREAM──▶ ended   (take() hands out the rest, then nullopt)
//                  open ──failure, given up──▶ failed   (take() fails at once)
//
// An `async def app` must not block its event loop: it polls (try_take)
// and, when nothing is there, asks to be woken (wake_when_ready: the io
// thread calls the wake-up once something arrives; body_input.hpp makes it a
// job that resolves an asyncio future on the app's worker).
//
// Thread-safety: push/end/fail/room from the io thread, take(), try_take()
// and wake_when_ready() from one worker thread at a time; a mutex and a condition variable between them,
// and an async_event for the pump's wait for room. Cost: one allocation per
// streamed request; per piece one lock on each side and a wake-up.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fastrt/async_event.hpp>
#include <fastrt/error.hpp>
#include <fastrt/result.hpp>
#include <fastrt/task.hpp>

#include <fastrt/http2/request_body.hpp>

namespace fastrt::http2::python {

enum class channel_state : std::uint8_t { open, ended, failed };

class body_channel {
 public:
  static constexpr std::size_t capacity = 2;  // pieces the pump may hold ahead of the reader

  // --- the worker's side --------------------------------------------------------
  // The next piece, nullopt at the end, or the failure; blocks until one of
  // them is there. Call with the GIL released.
  fastrt::result<std::optional<std::string>> take() {
    std::unique_lock lock(mutex_);
    arrived_.wait(lock, [this] { return !pieces_.empty() || state_ != channel_state::open; });
    if (state_ == channel_state::failed) return fastrt::error(std::errc::io_error, failure_);
    if (pieces_.empty()) return std::optional<std::string>();
    std::string piece = std::move(pieces_.front());
    pieces_.pop_front();
    lock.unlock();
    room_.set();  // the pump may fetch the next piece
    return std::optional<std::string>(std::move(piece));
  }

  // The same without waiting: `nothing_yet` is set (and nullopt returned)
  // when no piece, end or failure is there yet.
  fastrt::result<std::optional<std::string>> try_take(bool& nothing_yet) {
    {
      std::lock_guard lock(mutex_);
      nothing_yet = pieces_.empty() && state_ == channel_state::open;
      if (nothing_yet) return std::optional<std::string>();
    }
    return take();
  }

  // Calls `wake` once (on the io thread, with no lock held) when a piece,
  // the end or a failure arrives; false, without keeping it, when one is
  // there already (try_take again). A later call replaces an earlier one.
  bool wake_when_ready(std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    if (!pieces_.empty() || state_ != channel_state::open) return false;
    wake_ = std::move(wake);
    return true;
  }

  // --- the io thread's side -----------------------------------------------------
  // Pumps `source` into the channel until the end, a failure, or a stop of
  // the awaiting task's token (request_body.hpp's next() sees it).
  static fastrt::coro_task<> pump(body_piece_source source, std::shared_ptr<body_channel> channel) {
    for (;;) {
      co_await channel->room();
      if (channel->state() != channel_state::open) co_return;
      auto piece = co_await source();
      if (!piece) {
        channel->fail(std::string(piece.error().message()));
        co_return;
      }
      if (!*piece) {
        channel->end();
        co_return;
      }
      channel->push(std::move(**piece));
    }
  }

  // The server gave up on the request (the app finished, timed out, or the
  // stream went away): a reader still waiting fails with `why`.
  void close_from_server(std::string why) { fail(std::move(why)); }

  channel_state state() const {
    std::lock_guard lock(mutex_);
    return state_;
  }

 private:
  // Resumes when the channel has room for one more piece or is no longer open.
  fastrt::coro_task<> room() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (pieces_.size() < capacity || state_ != channel_state::open) co_return;
      }
      room_.reset();
      {
        // Taken (or failed) between the check and the reset: look again
        // before waiting, the set() may have come before the reset().
        std::lock_guard lock(mutex_);
        if (pieces_.size() < capacity || state_ != channel_state::open) co_return;
      }
      co_await room_;
    }
  }

  void push(std::string piece) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex_);
      if (state_ != channel_state::open) return;
      pieces_.push_back(std::move(piece));
      wake = std::exchange(wake_, nullptr);
    }
    arrived(wake);
  }
  void end() {
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex_);
      if (state_ != channel_state::open) return;
      state_ = channel_state::ended;
      wake = std::exchange(wake_, nullptr);
    }
    arrived(wake);
  }
  void fail(std::string why) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex_);
      if (state_ == channel_state::failed) return;
      state_ = channel_state::failed;
      failure_ = std::move(why);
      pieces_.clear();
      wake = std::exchange(wake_, nullptr);
    }
    arrived(wake);
    room_.set();  // a pump waiting for room ends
  }
  void arrived(const std::function<void()>& wake) {
    arrived_.notify_one();
    if (wake) wake();
  }

  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<std::string> pieces_;
  channel_state state_ = channel_state::open;
  std::string failure_;
  std::function<void()> wake_;  // an async reader waiting (wake_when_ready)
  fastrt::async_event room_;
};

}  // namespace fastrt::http2::python
