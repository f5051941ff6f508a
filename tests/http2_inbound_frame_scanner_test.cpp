// fastrt::http2::inbound_frame_scanner (<fastrt/http2/inbound_frame_scanner.hpp>):
// the client preface is skipped, every frame header is reported once with
// its fields decoded (24-bit length, type, flags, stream id without the
// reserved bit) at the byte that completes it, payloads are skipped, and
// the result does not depend on how the bytes are split.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/inbound_frame_scanner.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using fastrt::http2::frame_head;
using fastrt::http2::inbound_frame_scanner;

namespace {

const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string frame(std::uint32_t length, std::uint8_t type, std::uint8_t flags, std::uint32_t stream, char fill = 'p') {
  std::string out;
  out += static_cast<char>(length >> 16);
  out += static_cast<char>(length >> 8);
  out += static_cast<char>(length);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  out += static_cast<char>(stream >> 24);
  out += static_cast<char>(stream >> 16);
  out += static_cast<char>(stream >> 8);
  out += static_cast<char>(stream);
  return out + std::string(length, fill);
}

struct seen_head {
  frame_head head;
  std::size_t end;  // offset just past the byte that completed it
};

// Scans `bytes` in pieces of `piece` bytes.
std::vector<seen_head> scan_in_pieces(std::string_view bytes, std::size_t piece) {
  inbound_frame_scanner scanner;
  std::vector<seen_head> out;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    std::string_view rest = bytes.substr(offset, piece);
    const std::size_t piece_end = offset + rest.size();
    while (!rest.empty()) {
      const auto step = scanner.scan(rest);
      REQUIRE(step.consumed > 0);
      REQUIRE(step.consumed <= rest.size());
      offset += step.consumed;
      rest.remove_prefix(step.consumed);
      if (step.head) out.push_back({*step.head, offset});
    }
    REQUIRE(offset == piece_end);
  }
  return out;
}

}  // namespace

TEST_CASE("inbound_frame_scanner reports each frame header at its last byte, whatever the split") {
  const std::string settings = frame(12, 0x4, 0, 0);
  const std::string headers = frame(30, 0x1, 0x5, 1);
  const std::string data = frame(70'000, 0x0, 0x1, 1);            // longer than 16 bits
  const std::string reserved = frame(0, 0x8, 0, 0x80000003u);     // the reserved bit set
  const std::string empty_data = frame(0, 0x0, 0x1, 0x7fffffffu);  // the largest stream id
  const std::string bytes = preface + settings + headers + data + reserved + empty_data;

  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{9}, std::size_t{24},
                            std::size_t{25}, std::size_t{4096}, bytes.size()}) {
    INFO("pieces of " << piece << " bytes");
    const std::vector<seen_head> heads = scan_in_pieces(bytes, piece);
    REQUIRE(heads.size() == 5);
    std::size_t end = preface.size();
    const std::string* frames[] = {&settings, &headers, &data, &reserved, &empty_data};
    for (std::size_t i = 0; i < 5; ++i) {
      CHECK(heads[i].end == end + inbound_frame_scanner::header_size);
      end += frames[i]->size();
    }
    CHECK(heads[0].head.type == 0x4);
    CHECK(heads[0].head.length == 12);
    CHECK(heads[1].head.type == 0x1);
    CHECK(heads[1].head.flags == 0x5);
    CHECK(heads[1].head.stream == 1);
    CHECK(heads[2].head.type == 0x0);
    CHECK(heads[2].head.length == 70'000);
    CHECK(heads[2].head.flags == 0x1);
    CHECK(heads[3].head.type == 0x8);
    CHECK(heads[3].head.stream == 3);  // the reserved bit is not part of the id
    CHECK(heads[4].head.length == 0);
    CHECK(heads[4].head.stream == 0x7fffffff);
  }
}

TEST_CASE("inbound_frame_scanner: payload bytes that look like headers are skipped") {
  // A DATA payload made of what would be frame headers: none of them counts.
  std::string inner;
  for (int i = 0; i < 10; ++i) inner += frame(0, 0x1, 0x4, 5);
  const std::string outer = frame(static_cast<std::uint32_t>(inner.size()), 0x0, 0, 1).substr(0, 9) + inner;
  const std::string bytes = preface + outer + frame(4, 0x6, 0, 0);
  for (std::size_t piece : {std::size_t{1}, std::size_t{10}, bytes.size()}) {
    const std::vector<seen_head> heads = scan_in_pieces(bytes, piece);
    REQUIRE(heads.size() == 2);
    CHECK(heads[0].head.type == 0x0);
    CHECK(heads[0].head.length == inner.size());
    CHECK(heads[1].head.type == 0x6);
    CHECK(heads[1].end == bytes.size() - 4);
  }
}

TEST_CASE("inbound_frame_scanner: the preface alone, or cut short, reports nothing") {
  inbound_frame_scanner scanner;
  auto step = scanner.scan(std::string_view(preface).substr(0, 10));
  CHECK(step.consumed == 10);
  CHECK_FALSE(step.head);
  step = scanner.scan(std::string_view(preface).substr(10));
  CHECK(step.consumed == preface.size() - 10);
  CHECK_FALSE(step.head);
  const std::string half = frame(0, 0x4, 0x1, 0).substr(0, 5);
  step = scanner.scan(half);
  CHECK(step.consumed == 5);
  CHECK_FALSE(step.head);
  step = scanner.scan(frame(0, 0x4, 0x1, 0).substr(5));
  CHECK(step.consumed == 4);
  REQUIRE(step.head);
  CHECK(step.head->type == 0x4);
  CHECK(step.head->flags == 0x1);
}
