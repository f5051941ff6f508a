// fastrt::http2::client_stream_history (<fastrt/http2/client_stream_history.hpp>):
// opened, skipped and reset ids are told apart within the window of the
// last 128 client stream ids; older ids, ids above the highest, even ids
// and ids not above the highest passed to opened() change nothing or read
// as forgotten; a slot reused by a newer id starts clean.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/client_stream_history.hpp>

#include <cstdint>
#include <limits>

using fastrt::http2::client_stream_history;
using fastrt::http2::stream_history;

TEST_CASE("client_stream_history: opened, skipped, reset and forgotten ids") {
  client_stream_history h;
  CHECK(h.highest() == 0);
  CHECK(h.of(1) == stream_history::forgotten);  // above every id seen
  h.opened(1);
  h.opened(7);  // 3 and 5 skipped
  CHECK(h.highest() == 7);
  CHECK(h.of(1) == stream_history::opened);
  CHECK(h.of(3) == stream_history::skipped);
  CHECK(h.of(5) == stream_history::skipped);
  CHECK(h.of(7) == stream_history::opened);
  CHECK(h.of(9) == stream_history::forgotten);
  CHECK(h.of(2) == stream_history::forgotten);  // not a client id
  CHECK(h.of(0) == stream_history::forgotten);
  CHECK(h.of(-1) == stream_history::forgotten);

  h.reset(7);
  h.reset(3);  // nghttp2 refused a skipped id: tolerated too
  h.reset(9);  // above the highest: nothing to remember
  CHECK(h.of(7) == stream_history::reset);
  CHECK(h.of(3) == stream_history::reset);
  CHECK(h.of(9) == stream_history::forgotten);
  h.opened(9);
  CHECK(h.of(9) == stream_history::opened);  // the earlier reset(9) left no trace

  h.opened(5);  // not above the highest: not a new stream, nothing changes
  h.opened(10);  // even: ignored
  CHECK(h.of(5) == stream_history::skipped);
  CHECK(h.highest() == 9);
}

TEST_CASE("client_stream_history: the window holds the last 128 ids, and a slot reused starts clean") {
  client_stream_history h;
  for (std::int32_t id = 1; id <= 255; id += 2) {
    h.opened(id);
    if (id % 4 == 1) h.reset(id);
  }
  // 1..255: exactly the 128 ids of the window.
  CHECK(h.of(1) == stream_history::reset);
  CHECK(h.of(3) == stream_history::opened);
  CHECK(h.of(255) == stream_history::opened);
  h.opened(257);  // 1 leaves the window; 257 takes its slot
  CHECK(h.of(1) == stream_history::forgotten);
  CHECK(h.of(3) == stream_history::opened);
  CHECK(h.of(257) == stream_history::opened);  // not the reset of 1, whose slot it reuses
  h.opened(263);  // 259 and 261 skipped: they reuse the slots of 3 and 5 (opened, reset), clean
  CHECK(h.of(259) == stream_history::skipped);
  CHECK(h.of(261) == stream_history::skipped);
  CHECK(h.of(5) == stream_history::forgotten);
  CHECK(h.of(9) == stream_history::reset);
  for (std::int32_t id = 9; id <= 263; id += 2) {
    const stream_history expected = id > 255 ? (id == 259 || id == 261 ? stream_history::skipped : stream_history::opened)
                                             : (id % 4 == 1 ? stream_history::reset : stream_history::opened);
    INFO("id " << id);
    CHECK(h.of(id) == expected);
  }
}

TEST_CASE("client_stream_history: a jump far beyond the window clears everything, up to the largest id") {
  client_stream_history h;
  for (std::int32_t id = 1; id <= 101; id += 2) h.opened(id);
  h.reset(51);
  h.opened(10001);  // every slot is skipped now
  for (std::int32_t id = 10001 - 2 * 127; id < 10001; id += 2) {
    INFO("id " << id);
    CHECK(h.of(id) == stream_history::skipped);
  }
  CHECK(h.of(51) == stream_history::forgotten);
  CHECK(h.of(10001) == stream_history::opened);

  constexpr std::int32_t largest = std::numeric_limits<std::int32_t>::max();  // 2^31 - 1, odd
  h.opened(largest);
  CHECK(h.highest() == largest);
  CHECK(h.of(largest) == stream_history::opened);
  CHECK(h.of(largest - 2) == stream_history::skipped);
  CHECK(h.of(largest - 2 * 127) == stream_history::skipped);
  CHECK(h.of(largest - 2 * 128) == stream_history::forgotten);
  h.reset(largest);
  CHECK(h.of(largest) == stream_history::reset);
}
