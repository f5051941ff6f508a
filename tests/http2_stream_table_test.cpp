// fastrt::http2's stream table and stream states (<fastrt/http2/stream_table.hpp>,
// <fastrt/http2/stream.hpp>): ownership, lookup (the upgraded stream's slot),
// the busy count that decides when a connection is idle, and what each
// phase means. No socket, no nghttp2 session.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/stream_table.hpp>

#include <memory>

using fastrt::http2::piece_state;
using fastrt::http2::stream;
using fastrt::http2::stream_phase;
using fastrt::http2::stream_reset;
using fastrt::http2::stream_table;

namespace {

std::unique_ptr<stream> make(std::int32_t id) {
  auto s = std::make_unique<stream>();
  s->id = id;
  return s;
}

}  // namespace

TEST_CASE("stream table: a stream answered normally makes the connection idle once its answer is out") {
  stream_table t;
  stream& s = t.open(make(1));
  CHECK(t.size() == 1);
  CHECK(t.busy() == 0);
  CHECK_FALSE(s.dispatched());
  CHECK_FALSE(t.move(s, stream_phase::handling));  // busy now: not idle
  CHECK(t.busy() == 1);
  CHECK(s.dispatched());
  CHECK_FALSE(s.answer_submitted());
  CHECK_FALSE(t.move(s, stream_phase::answering));  // still busy
  CHECK(t.busy() == 1);
  CHECK(s.answer_submitted());
  CHECK(s.waiting_for_window());
  CHECK(t.move(s, stream_phase::answered));  // the last busy stream: idle
  CHECK(t.busy() == 0);
  CHECK(s.answer_submitted());
  CHECK_FALSE(t.close(s));  // not busy any more: closing it changes nothing
  CHECK(t.size() == 0);
}

TEST_CASE("stream table: idle only when the last of several busy streams is done") {
  stream_table t;
  stream& a = t.open(make(1));
  stream& b = t.open(make(3));
  stream& c = t.open(make(5));
  CHECK_FALSE(t.move(a, stream_phase::handling));
  CHECK_FALSE(t.move(b, stream_phase::handling));
  CHECK(t.busy() == 2);
  CHECK_FALSE(t.move(a, stream_phase::abandoned));  // reset while its handler ran
  CHECK_FALSE(a.answer_submitted());                 // no access record for it
  CHECK(t.close(b));                                 // closed while busy: the connection is idle
  CHECK(t.busy() == 0);
  CHECK(t.size() == 2);
  CHECK_FALSE(t.close(c));  // never busy
  CHECK_FALSE(t.close(a));
  CHECK(t.size() == 0);
}

TEST_CASE("stream table: an early answer (413, 431, 408) is busy until it is out") {
  stream_table t;
  stream& s = t.open(make(1));
  s.phase = stream_phase::receiving_oversized;  // what the connection sets when the header list is too large
  CHECK_FALSE(s.dispatched());
  CHECK_FALSE(t.move(s, stream_phase::answering));
  CHECK(s.dispatched());  // DATA still arriving is discarded
  CHECK(s.busy());
  CHECK(t.move(s, stream_phase::answered));
}

TEST_CASE("stream table: lookup prefers the session's user data, and knows the upgraded stream") {
  stream_table t;
  stream& one = t.open_upgraded(make(1));
  stream& three = t.open(make(3));
  CHECK(t.find(1, nullptr) == &one);     // nghttp2 does not hand out the upgraded stream's user data
  CHECK(t.find(3, &three) == &three);    // the session's user data answers
  CHECK(t.find(3, nullptr) == nullptr);  // closed in nghttp2: gone
  CHECK(t.find(5, nullptr) == nullptr);
  t.close(one);
  CHECK(t.find(1, nullptr) == nullptr);  // the slot is cleared with the stream
  CHECK(t.size() == 1);
}

TEST_CASE("stream table: recent() answers the stream found last until it closes") {
  stream_table t;
  stream& one = t.open_upgraded(make(1));
  stream& three = t.open(make(3));
  CHECK(t.recent(3) == nullptr);  // nothing found yet
  CHECK(t.find(3, &three) == &three);
  CHECK(t.recent(3) == &three);
  CHECK(t.recent(1) == nullptr);  // another id: ask the session
  CHECK(t.find(5, nullptr) == nullptr);
  CHECK(t.recent(3) == &three);  // a miss does not forget it
  CHECK(t.find(1, nullptr) == &one);
  CHECK(t.recent(1) == &one);
  CHECK(t.recent(3) == nullptr);
  t.close(one);
  CHECK(t.recent(1) == nullptr);  // freed: forgotten with it
  CHECK(t.find(3, &three) == &three);
  t.close(three);
  CHECK(t.recent(3) == nullptr);
}

TEST_CASE("stream table: for_each and any_of see every open stream; the destructor frees them") {
  auto t = std::make_unique<stream_table>();
  for (std::int32_t id = 1; id <= 9; id += 2) t->open(make(id));
  int count = 0;
  t->for_each([&](stream&) { ++count; });
  CHECK(count == 5);
  CHECK_FALSE(t->any_of([](const stream& s) { return s.waiting_for_window(); }));
  stream* some = nullptr;
  t->for_each([&](stream& s) {
    if (s.id == 5) some = &s;
  });
  REQUIRE(some);
  t->move(*some, stream_phase::handling);
  t->move(*some, stream_phase::answering);
  CHECK(t->any_of([](const stream& s) { return s.waiting_for_window(); }));
  some->pieces = piece_state::fetching;  // waiting for the app's next piece, not for the client's window
  CHECK_FALSE(t->any_of([](const stream& s) { return s.waiting_for_window(); }));
  some->pieces = piece_state::ready;
  some->reset = stream_reset::after_answer;  // a 408 whose reset waits for it: still going out
  CHECK(t->any_of([](const stream& s) { return s.waiting_for_window(); }));
  some->reset = stream_reset::ours;  // a reset is on its way: nothing more goes out
  CHECK_FALSE(t->any_of([](const stream& s) { return s.waiting_for_window(); }));
  t.reset();  // ASan: the five streams are freed
}
