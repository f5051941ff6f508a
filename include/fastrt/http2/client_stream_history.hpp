// client_stream_history.hpp — what a connection remembers of the client's
// most recent stream ids, to judge a frame on a stream nghttp2 no longer
// knows (it keeps no closed stream: session.hpp):
//
//   opened     the client opened it (its HEADERS began) and the server did
//              not reset it: unknown to nghttp2 now means closed by the two
//              END_STREAMs or by the client's RST_STREAM, so more frames on
//              it are errors (RFC 9113 §5.1 "closed")
//   reset      the server reset it, or nghttp2 refused it: frames the client
//              sent before it saw the RST_STREAM are ignored (§5.1 "closed")
//   skipped    below a newer stream, never opened (§5.1.1: closed by it)
//   forgotten  older than the last `window` ids, or above every id seen:
//              nothing is known, and the caller ignores the frame as nghttp2
//              does. Forgetting errs on the lenient side: however many
//              streams are reset at once, a reset stream never turns into an
//              error, it only leaves the window.
//
//   client_stream_history h;
//   h.opened(1); h.opened(7);    // 3 and 5: skipped
//   h.reset(7);
//   h.of(5) == stream_history::skipped; h.of(7) == stream_history::reset;
//
// Thread-safety: none (one connection's). Cost: 36 bytes; opened() clears
// one slot per id it skips that stays in the window (at most `window`).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace fastrt::http2 {

enum class stream_history : std::uint8_t { forgotten, skipped, opened, reset };

class client_stream_history {
 public:
  // Client stream ids remembered: the last `window` odd ids up to highest().
  static constexpr std::int32_t window = 128;

  // The highest client stream id opened so far (0: none).
  std::int32_t highest() const noexcept { return highest_; }

  // Client stream `id` (odd) begins: its HEADERS arrived. Ids not above
  // highest() change nothing (not a new stream: the caller judges them).
  void opened(std::int32_t id) noexcept {
    if (id <= highest_ || (id & 1) == 0) return;
    // The ids between the previous stream and this one were skipped: their
    // slots still hold ids that left the window.
    const std::int64_t first = std::max<std::int64_t>(std::int64_t{highest_} + 1 + (highest_ & 1), oldest_for(id));
    for (std::int64_t skipped = first; skipped < id; skipped += 2) clear(static_cast<std::int32_t>(skipped));
    clear(id);
    set(opened_, id);
    highest_ = id;
  }

  // The server reset stream `id`, or nghttp2 refused it.
  void reset(std::int32_t id) noexcept {
    if (in_window(id)) set(reset_, id);
  }

  stream_history of(std::int32_t id) const noexcept {
    if (!in_window(id)) return stream_history::forgotten;
    if (test(reset_, id)) return stream_history::reset;
    if (test(opened_, id)) return stream_history::opened;
    return stream_history::skipped;
  }

 private:
  using bits = std::array<std::uint64_t, window / 64>;
  static_assert(window % 64 == 0);

  // The lowest odd id still in the window when `top` is the highest.
  static std::int64_t oldest_for(std::int32_t top) noexcept { return std::int64_t{top} - 2 * (window - 1); }
  bool in_window(std::int32_t id) const noexcept {
    return id > 0 && (id & 1) == 1 && id <= highest_ && id >= oldest_for(highest_);
  }

  // Odd ids map to consecutive slots: `window` ids in a row never share one.
  static std::size_t slot(std::int32_t id) noexcept {
    return static_cast<std::size_t>(id >> 1) % static_cast<std::size_t>(window);
  }
  static void set(bits& b, std::int32_t id) noexcept { b[slot(id) / 64] |= std::uint64_t{1} << (slot(id) % 64); }
  static bool test(const bits& b, std::int32_t id) noexcept {
    return (b[slot(id) / 64] >> (slot(id) % 64)) & 1;
  }
  void clear(std::int32_t id) noexcept {
    const std::uint64_t keep = ~(std::uint64_t{1} << (slot(id) % 64));
    opened_[slot(id) / 64] &= keep;
    reset_[slot(id) / 64] &= keep;
  }

  bits opened_{};
  bits reset_{};
  std::int32_t highest_ = 0;
};

}  // namespace fastrt::http2
