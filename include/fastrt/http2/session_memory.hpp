// session_memory.hpp — the allocator one nghttp2 session uses (nghttp2_mem):
// small blocks from malloc, large ones (≥ 8 KiB: nghttp2's ~16 KiB frame
// buffer, made with every session) mapped from the kernel on their own.
//
// Why: an idle connection touches only the first page of that frame buffer
// (its SETTINGS, a small response). From malloc, the buffer usually reuses
// memory other work already touched (over TLS: the handshake's and
// OpenSSL's 16 KiB record buffers, freed a moment before), so all ~16 KiB
// of it count as resident for as long as the connection lives. Mapped, only
// the pages nghttp2 writes become resident.
//
//   session_memory memory;                     // lives as long as the session
//   nghttp2_session_server_new3(&s, callbacks, receiver, option, memory.table());
//
// Thread-safety: one session's (its io thread). Cost: one mmap/munmap per
// large block (one per connection); the list of mapped blocks (usually one).
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace fastrt::http2 {

class session_memory {
 public:
  static constexpr std::size_t mapped_from = 8 * 1024;

  session_memory() noexcept
      : table_{this, &on_malloc, &on_free, &on_calloc, &on_realloc} {}
  // nghttp2 keeps table()'s address (and the table points here): it stays put.
  session_memory(const session_memory&) = delete;
  session_memory& operator=(const session_memory&) = delete;
  ~session_memory() {
    for (const mapping& m : mapped_) ::munmap(m.address, m.size);
  }

  nghttp2_mem* table() noexcept { return &table_; }
  // Blocks currently mapped (for tests).
  std::size_t mapped_blocks() const noexcept { return mapped_.size(); }

 private:
  struct mapping {
    void* address;
    std::size_t size;
  };

  void* allocate(std::size_t size) {
    if (size < mapped_from) return std::malloc(size);
    void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (address == MAP_FAILED) return std::malloc(size);  // (still usable, just resident)
    mapped_.push_back({address, size});
    return address;
  }
  // The mapping that holds `address`, or end() for a malloc'd block.
  std::vector<mapping>::iterator find(void* address) noexcept {
    return std::find_if(mapped_.begin(), mapped_.end(), [&](const mapping& m) { return m.address == address; });
  }
  void release(void* address) noexcept {
    if (!address) return;
    const auto it = find(address);
    if (it == mapped_.end()) return std::free(address);
    ::munmap(it->address, it->size);
    mapped_.erase(it);
  }
  void* resize(void* address, std::size_t size) {
    if (!address) return allocate(size);
    const auto it = find(address);
    if (it == mapped_.end()) return std::realloc(address, size);  // (a malloc'd block that grows stays in malloc)
    const std::size_t old_size = it->size;
    void* moved = allocate(size);
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
    // (mapped pages are zero already; only malloc'd ones need it)
    if (block && memory->find(block) == memory->mapped_.end()) std::memset(block, 0, count * size);
    return block;
  }
  static void* on_realloc(void* address, std::size_t size, void* self) {
    return static_cast<session_memory*>(self)->resize(address, size);
  }

  nghttp2_mem table_;
  std::vector<mapping> mapped_;
};

}  // namespace fastrt::http2
