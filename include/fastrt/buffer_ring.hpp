// fastrt/buffer_ring.hpp — a ring of receive buffers the kernel picks from
// (io_uring "provided buffers", IORING_REGISTER_PBUF_RING).
//
// Multishot receives name a buffer group instead of a buffer: the kernel
// takes a free buffer when data arrives and says which one in the CQE. So an
// idle connection holds no receive memory at all; N connections share
// `count` buffers of `size` bytes. A buffer goes back to the ring when the
// application is done with it (received_buffer's destructor).
//
// When the ring runs dry the kernel ends multishot receives with ENOBUFS.
// Such streams register here as starved and are re-armed when a buffer comes
// back, never in a busy loop.
//
// Thread-safety: loop thread only. Cost: one mmap'd region for the ring and
// one for the buffers; recycling a buffer is a few stores.
#pragma once

#include <liburing.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "result.hpp"

namespace fastrt {

struct buffer_ring_options {
  std::uint16_t count = 1024;  // a power of two, at most 32768
  std::uint32_t size = 4096;   // bytes per buffer
  std::uint16_t group = 0;     // buffer group id (one ring per group per io_uring)
};

class buffer_ring {
 public:
  static result<std::unique_ptr<buffer_ring>> create(io_uring& ring, buffer_ring_options options = {}) {
    if (options.count == 0 || (options.count & (options.count - 1)) != 0 || options.count > 32768)
      return error(std::errc::invalid_argument, "buffer_ring: count must be a power of two up to 32768");
    std::unique_ptr<buffer_ring> self(new buffer_ring(ring, options));
    FASTRT_TRY(self->setup());
    return self;
  }
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;
  ~buffer_ring() {
    // Waiting receivers hold references to their streams: drop them while
    // the buffers are still mapped (a stream may return buffers as it goes).
    auto waiting = std::move(starved_);
    starved_.clear();
    waiting.clear();
    if (registered_) io_uring_unregister_buf_ring(ring_, options_.group);
    if (entries_ != MAP_FAILED) ::munmap(entries_, entries_bytes());
    if (memory_ != MAP_FAILED) ::munmap(memory_, memory_bytes());
  }

  std::uint16_t group() const noexcept { return options_.group; }
  std::uint32_t buffer_size() const noexcept { return options_.size; }
  std::uint16_t count() const noexcept { return options_.count; }
  std::size_t available() const noexcept { return available_; }

  std::span<std::byte> buffer(std::uint16_t id) noexcept {
    return {static_cast<std::byte*>(memory_) + std::size_t{id} * options_.size, options_.size};
  }

  // Returns buffer `id` to the kernel, then re-arms starved receivers.
  void recycle(std::uint16_t id) {
    io_uring_buf_ring_add(entries_, buffer(id).data(), options_.size, id, io_uring_buf_ring_mask(options_.count), 0);
    io_uring_buf_ring_advance(entries_, 1);
    ++available_;
    if (!starved_.empty()) {
      auto waiting = std::move(starved_);
      starved_.clear();
      for (auto& rearm : waiting) rearm();
    }
  }
  // The kernel consumed a buffer (a CQE carried IORING_CQE_F_BUFFER).
  void taken() noexcept { --available_; }

  // Called once a buffer is back: for receivers that hit ENOBUFS.
  void when_available(std::function<void()> rearm) { starved_.push_back(std::move(rearm)); }

 private:
  buffer_ring(io_uring& ring, buffer_ring_options options) : ring_(&ring), options_(options) {}

  std::size_t entries_bytes() const noexcept { return sizeof(io_uring_buf) * options_.count; }
  std::size_t memory_bytes() const noexcept { return std::size_t{options_.count} * options_.size; }

  result<void> setup() {
    // Both regions are mapped, not malloc'd: the ring must be page aligned,
    // and untouched buffer pages cost no RSS until data lands in them.
    entries_ = static_cast<io_uring_buf_ring*>(
        ::mmap(nullptr, entries_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (entries_ == MAP_FAILED) return error::from_errno("buffer_ring: mmap ring");
    memory_ = ::mmap(nullptr, memory_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory_ == MAP_FAILED) return error::from_errno("buffer_ring: mmap buffers");
    io_uring_buf_ring_init(entries_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(entries_);
    reg.ring_entries = options_.count;
    reg.bgid = options_.group;
    if (const int err = io_uring_register_buf_ring(ring_, &reg, 0); err < 0)
      return error(-err, "buffer_ring: registering provided buffers failed (kernel 5.19+ needed)");
    registered_ = true;
    const int mask = io_uring_buf_ring_mask(options_.count);
    for (std::uint16_t id = 0; id < options_.count; ++id)
      io_uring_buf_ring_add(entries_, buffer(id).data(), options_.size, id, mask, id);
    io_uring_buf_ring_advance(entries_, options_.count);
    available_ = options_.count;
    return {};
  }

  io_uring* ring_;
  buffer_ring_options options_;
  io_uring_buf_ring* entries_ = static_cast<io_uring_buf_ring*>(MAP_FAILED);
  void* memory_ = MAP_FAILED;
  bool registered_ = false;
  std::size_t available_ = 0;
  std::vector<std::function<void()>> starved_;
};

}  // namespace fastrt
