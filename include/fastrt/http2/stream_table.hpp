// stream_table.hpp — a connection's open streams: owns them, moves them
// through their phases (stream.hpp) and counts those being answered, which
// is what keeps a connection from being idle.
//
// nghttp2 keeps each stream's address as its stream user data, so the
// connection finds a stream by id without a map of its own; the table's
// intrusive list reaches them all (cancel at close, the --body-timeout scan,
// and freeing what nghttp2_session_del leaves, as it calls no close
// callbacks). The stream an h2c upgrade opened is held in its own slot:
// nghttp2 does not hand out the user data given to nghttp2_session_upgrade2.
//
// Thread-safety: the connection's io thread only. Cost: O(1) per operation
// except for_each; no allocation beyond the streams themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <fastrt/http2/stream.hpp>

namespace fastrt::http2 {

class stream_table {
 public:
  stream_table() = default;
  stream_table(const stream_table&) = delete;
  stream_table& operator=(const stream_table&) = delete;
  ~stream_table() {
    while (head_) close(*head_);
  }

  // Takes ownership of a new stream (phase receiving).
  stream& open(std::unique_ptr<stream> owned) noexcept {
    stream* s = owned.release();
    s->next = head_;
    if (head_) head_->prev = s;
    head_ = s;
    ++open_;
    return *s;
  }
  // The same, for the stream an h2c upgrade opened (stream 1).
  stream& open_upgraded(std::unique_ptr<stream> owned) noexcept {
    upgraded_ = &open(std::move(owned));
    return *upgraded_;
  }

  // `from_session`: what nghttp2 holds as the stream's user data. A stream
  // found is remembered for recent().
  stream* find(std::int32_t id, stream* from_session) const noexcept {
    stream* s = from_session ? from_session : upgraded_ && upgraded_->id == id ? upgraded_ : nullptr;
    if (s) recent_ = s;
    return s;
  }
  // The stream find() found last, if its id is `id` and it is still open,
  // else null: a request's callbacks come in a row for one stream, and
  // nghttp2's look-up of the user data is a hash-map probe (≈ 45
  // instructions, ≈ 8 per request). Valid because nghttp2 reports every
  // stream it closes (close() is called then) and never reuses an id.
  stream* recent(std::int32_t id) const noexcept { return recent_ && recent_->id == id ? recent_ : nullptr; }

  // Moves `s` to `to`; true when that left no stream busy (the connection
  // just became idle). Phases only move forward (stream.hpp).
  bool move(stream& s, stream_phase to) noexcept {
    const bool was_busy = s.busy();
    s.phase = to;
    if (was_busy == s.busy()) return false;
    if (s.busy()) {
      ++busy_;
      return false;
    }
    return --busy_ == 0;
  }

  // Frees `s` (after nghttp2 closed it); true when that left no stream busy.
  bool close(stream& s) noexcept {
    const bool idle_now = s.busy() && --busy_ == 0;
    if (s.prev) s.prev->next = s.next;
    else head_ = s.next;
    if (s.next) s.next->prev = s.prev;
    if (upgraded_ == &s) upgraded_ = nullptr;
    if (recent_ == &s) recent_ = nullptr;
    --open_;
    delete &s;
    return idle_now;
  }

  // f(stream&) for each open stream; f must not close streams.
  template <class F>
  void for_each(F&& f) const {
    for (stream* s = head_; s; s = s->next) f(*s);
  }
  template <class Predicate>
  bool any_of(Predicate&& p) const {
    for (const stream* s = head_; s; s = s->next) {
      if (p(*s)) return true;
    }
    return false;
  }

  std::size_t busy() const noexcept { return busy_; }
  std::size_t size() const noexcept { return open_; }

 private:
  stream* head_ = nullptr;
  stream* upgraded_ = nullptr;
  mutable stream* recent_ = nullptr;  // find()'s last answer (a cache: recent())
  std::size_t busy_ = 0;
  std::size_t open_ = 0;
};

}  // namespace fastrt::http2
