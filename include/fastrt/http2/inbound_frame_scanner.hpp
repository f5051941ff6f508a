// inbound_frame_scanner.hpp — follows the frame boundaries of the bytes a
// server session receives (the 24-byte client preface, then frames: a
// 9-byte header and `length` bytes of payload), so that session.hpp can stop
// feeding nghttp2 in front of a chosen frame and look at it first.
//
//   inbound_frame_scanner scanner;
//   while (!bytes.empty()) {
//     const auto step = scanner.scan(bytes);   // up to and with the byte completing a header
//     if (step.head) ... a frame header, complete (its payload not yet scanned)
//     bytes.remove_prefix(step.consumed);
//   }
//
// It only frames: nothing is validated (nghttp2 does that; a frame too
// large for the session, or a bad preface, ends the session there, after
// which the scanner's view no longer matters). Headers and prefaces may be
// split across calls anyhow.
//
// Thread-safety: none (one connection's). Cost: 20 bytes; payloads are
// skipped whole, header bytes are copied one by one (9 per frame).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fastrt::http2 {

// A frame's 9-byte header (RFC 9113 §4.1), decoded.
struct frame_head {
  std::uint32_t length = 0;  // of the payload
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::int32_t stream = 0;  // the reserved bit cleared
};

class inbound_frame_scanner {
 public:
  static constexpr std::size_t preface_size = 24;  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
  static constexpr std::size_t header_size = 9;

  struct step {
    std::size_t consumed = 0;        // bytes of the input scanned
    std::optional<frame_head> head;  // completed by the last byte scanned
  };

  // Scans `bytes` (the next bytes of the connection) until a frame header
  // completes (its last byte is the last one consumed) or the input ends.
  step scan(std::string_view bytes) noexcept {
    std::size_t at = skip(preface_left_, bytes.size());
    while (at < bytes.size()) {
      if (payload_left_ > 0) {
        at += skip(payload_left_, bytes.size() - at);
        continue;
      }
      header_[have_++] = static_cast<std::uint8_t>(bytes[at++]);
      if (have_ == header_size) {
        have_ = 0;
        const frame_head head = decode();
        payload_left_ = head.length;
        return {at, head};
      }
    }
    return {at, std::nullopt};
  }

 private:
  // Takes up to `available` bytes off `left`; returns how many it took.
  static std::size_t skip(std::uint32_t& left, std::size_t available) noexcept {
    const std::size_t n = left < available ? left : available;
    left -= static_cast<std::uint32_t>(n);
    return n;
  }

  frame_head decode() const noexcept {
    frame_head head;
    head.length = (std::uint32_t{header_[0]} << 16) | (std::uint32_t{header_[1]} << 8) | header_[2];
    head.type = header_[3];
    head.flags = header_[4];
    head.stream = static_cast<std::int32_t>(((std::uint32_t{header_[5]} & 0x7f) << 24) |
                                            (std::uint32_t{header_[6]} << 16) | (std::uint32_t{header_[7]} << 8) |
                                            header_[8]);
    return head;
  }

  std::uint32_t preface_left_ = preface_size;
  std::uint32_t payload_left_ = 0;
  std::array<std::uint8_t, header_size> header_{};
  std::uint8_t have_ = 0;  // header bytes gathered
};

}  // namespace fastrt::http2
