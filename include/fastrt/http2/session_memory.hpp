// session_memory.hpp — the allocator one nghttp2 session uses (nghttp2_mem):
// the blocks of one page up to 32 KiB made with the session (nghttp2's 4 KiB
// stream map and ~16 KiB frame buffer) from the process's page_arena,
// everything else from malloc, and a way to give an idle session's pages back.
//
// Why: nghttp2 1.52 allocates per session 2.9 KiB (the session, zeroed), a
// 4 KiB stream map (zeroed), 2 × 1 KiB of HPACK tables and a 16 KiB frame
// buffer. From the arena, the map and the frame buffer are resident only
// in the pages written (calloc needs no memset: arena blocks start zero),
// and release_idle() makes them not resident again:
//   - the frame buffer (the arena block of ≥ 16 KiB live when
//     seal_output_buffer() is called, right after the session was made; the
//     stream map made with it is 4 KiB and is not scratch) holds only the frame being
//     sent: nghttp2 resets it after each frame and packs the next one from
//     its start, and the bytes it returned are only valid until the next
//     nghttp2_session_mem_send. Once nghttp2 has nothing to send
//     (!nghttp2_session_want_write: no frame in progress), its contents are
//     scratch; the caller (session::release_idle_memory) checks that.
//   - any other arena block is dropped only when every byte of it is zero
//     (the stream map of a connection with no open stream, as fastrt's
//     session has nghttp2 forget closed streams: session.hpp): dropped
//     pages read as zeros, so nothing changes for nghttp2.
//
//   session_memory memory;                     // lives as long as the session
//   nghttp2_session_server_new3(&s, callbacks, receiver, option, memory.table());
//   memory.seal_output_buffer();
//   ... when nghttp2 wants to write nothing:  memory.release_idle();
//
// Thread-safety: one session's (its io thread); the arena locks itself.
// Cost: two arena blocks per session (a lock each; one madvise each when
// the session ends); release_idle() one madvise per block dropped and a
// scan of the non-scratch ones (4 KiB). Blocks made while the session
// serves (large header fields, a frame buffer's extra chunks) come from
// malloc: an arena block would cost an madvise when freed and a page fault
// when used again, ~4 µs, per request.
#pragma once

#include <malloc.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fastrt/http2/page_arena.hpp>

namespace fastrt::http2 {

class session_memory {
 public:
  static constexpr std::size_t arena_from = page_arena::page_size;

  session_memory() noexcept
      : table_{this, &on_malloc, &on_free, &on_calloc, &on_realloc} {}
  // nghttp2 keeps table()'s address (and the table points here): it stays put.
  session_memory(const session_memory&) = delete;
  session_memory& operator=(const session_memory&) = delete;
  ~session_memory() {
    for (const block& b : blocks_) page_arena::shared().give_back(b.address, b.size);
  }

  nghttp2_mem* table() noexcept { return &table_; }

  // The frame buffer: a frame's payload (16 KiB) and its header. Nothing
  // else nghttp2_session_*_new3 makes is that large.
  static constexpr std::size_t frame_buffer_min = 16 * 1024;

  // The session is made: the arena blocks of ≥ frame_buffer_min are its
  // output scratch, and blocks allocated from now on come from malloc
  // (call once, right after nghttp2_session_*_new3).
  void seal_output_buffer() noexcept {
    for (block& b : blocks_)
      if (b.size >= frame_buffer_min) b.kind = contents::output_scratch;
    phase_ = phase::serving;
  }

  // Gives back the pages of the output scratch and of every all-zero arena
  // block. Only while nghttp2 has no frame in progress (see above). Returns
  // the bytes dropped.
  std::size_t release_idle() noexcept {
    std::size_t dropped = 0;
    for (const block& b : blocks_) {
      if (b.kind == contents::kept && !all_zero(b)) continue;
      page_arena::drop(b.address, b.size);
      dropped += page_arena::reserved_bytes(b.size);
    }
    return dropped;
  }

  // Blocks currently taken from the arena (for tests).
  std::size_t arena_blocks() const noexcept { return blocks_.size(); }

 private:
  enum class contents { kept, output_scratch };
  enum class phase { making_session, serving };
  struct block {
    void* address;
    std::size_t size;
    contents kind;
  };

  bool from_arena(std::size_t size) const noexcept {
    return phase_ == phase::making_session && size >= arena_from && page_arena::serves(size);
  }
  static bool all_zero(const block& b) noexcept {
    const auto* bytes = static_cast<const unsigned char*>(b.address);
    return bytes[0] == 0 && std::memcmp(bytes, bytes + 1, b.size - 1) == 0;
  }

  void* allocate(std::size_t size, contents kind = contents::kept) {
    if (!from_arena(size)) return std::malloc(size);
    void* address = page_arena::shared().take(size);
    if (!address) return std::malloc(size);  // (no address space: still usable, just resident)
    blocks_.push_back({address, size, kind});
    return address;
  }
  // The arena block at `address`, or end() for a malloc'd block.
  std::vector<block>::iterator find(void* address) noexcept {
    return std::find_if(blocks_.begin(), blocks_.end(), [&](const block& b) { return b.address == address; });
  }
  void release(void* address) noexcept {
    if (!address) return;
    const auto it = find(address);
    if (it == blocks_.end()) return std::free(address);
    page_arena::shared().give_back(it->address, it->size);
    blocks_.erase(it);
  }
  void* resize(void* address, std::size_t size) {
    if (!address) return allocate(size);
    const auto it = find(address);
    if (it == blocks_.end() && !from_arena(size)) return std::realloc(address, size);
    // Into or out of the arena, or within it: a new block and a copy.
    const bool in_arena = it != blocks_.end();
    const std::size_t old_size = in_arena ? it->size : ::malloc_usable_size(address);
    const contents kind = in_arena ? it->kind : contents::kept;
    void* moved = allocate(size, kind);
    if (!moved) return nullptr;  // (the old block stays valid, as realloc's contract says)
    std::memcpy(moved, address, std::min(old_size, size));
    release(address);
    return moved;
  }

  static void* on_malloc(std::size_t size, void* self) { return static_cast<session_memory*>(self)->allocate(size); }
  static void on_free(void* address, void* self) { static_cast<session_memory*>(self)->release(address); }
  static void* on_calloc(std::size_t count, std::size_t size, void* self) {
    if (size != 0 && count > static_cast<std::size_t>(-1) / size) return nullptr;
    auto* memory = static_cast<session_memory*>(self);
    void* block = memory->allocate(count * size);
    // (arena blocks are zero already; only malloc'd ones need it)
    if (block && memory->find(block) == memory->blocks_.end()) std::memset(block, 0, count * size);
    return block;
  }
  static void* on_realloc(void* address, std::size_t size, void* self) {
    return static_cast<session_memory*>(self)->resize(address, size);
  }

  nghttp2_mem table_;
  std::vector<block> blocks_;
  phase phase_ = phase::making_session;
};

}  // namespace fastrt::http2
