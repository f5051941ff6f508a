// page_arena.hpp — page-aligned, zero-filled blocks of 1, 2, 4 or 8 pages,
// carved from a few large mappings shared by the whole process; what is
// given back (or dropped) returns its pages to the kernel.
//
// Why: nghttp2 allocates per session a ~16 KiB frame buffer and a 4 KiB
// stream map (session_memory.hpp). One mmap per block would mean one
// mapping per connection unless the kernel merges neighbours: past ~65 k
// connections that would exceed vm.max_map_count (65,530 by default). Here
// 100,000 connections need about 100,000 × (32 + 4) KiB / 4 MiB ≈ 860
// mappings, and no mmap/munmap per connection. A block
// is resident only in the pages that were written since it was handed out
// or last dropped: fresh slots are never-touched pages, freed ones are
// madvise(MADV_DONTNEED)'d, which makes them read as zeros again — so a
// block from take() is always zero (calloc needs no memset).
//
//   void* p = page_arena::shared().take(16394);   // 8 pages, zero
//   page_arena::drop(p, 16394);                   // still ours, zero again, not resident
//   page_arena::shared().give_back(p, 16394);
//
// Thread-safety: take() and give_back() lock one mutex (any thread); drop()
// is a system call on the caller's own block. Cost: take/give_back one lock
// and a vector push/pop, give_back and drop one madvise; one mmap per
// 4 MiB of slots. Address space is never unmapped (only its pages are
// returned): the high-water mark of slots stays reserved, not resident.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <mutex>
#include <vector>

namespace fastrt::http2 {

class page_arena {
 public:
  static constexpr std::size_t page_size = 4096;
  static constexpr std::size_t largest_block = 8 * page_size;  // bigger ones are the caller's business
  static constexpr std::size_t chunk_size = 4 * 1024 * 1024;   // one mapping, carved into slots

  // The process's arena (never destroyed: blocks may be freed during static destruction).
  static page_arena& shared() {
    static page_arena* const arena = new page_arena;
    return *arena;
  }

  page_arena() = default;
  page_arena(const page_arena&) = delete;
  page_arena& operator=(const page_arena&) = delete;
  ~page_arena() {
    for (void* chunk : chunks_) ::munmap(chunk, chunk_size);
  }

  // Whether take(bytes) can serve the size (0 < bytes ≤ largest_block).
  static constexpr bool serves(std::size_t bytes) noexcept { return bytes != 0 && bytes <= largest_block; }

  // A zero-filled block of at least `bytes` (rounded up to 1, 2, 4 or 8
  // pages), page-aligned; nullptr if !serves(bytes) or no address space is left.
  void* take(std::size_t bytes) {
    if (!serves(bytes)) return nullptr;
    const std::size_t cls = size_class(bytes);
    const std::lock_guard lock(mutex_);
    std::vector<void*>& free = free_[cls];
    if (free.empty() && !carve(cls)) return nullptr;
    void* block = free.back();
    free.pop_back();
    ++in_use_;
    return block;
  }

  // Returns a block from take(bytes) (the same `bytes`): its pages go back
  // to the kernel first, so the slot is zero when handed out again.
  void give_back(void* block, std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    drop(block, bytes);
    const std::lock_guard lock(mutex_);
    free_[cls].push_back(block);
    --in_use_;
  }

  // The block's pages stop being resident and read as zeros from now on;
  // the block stays the caller's. Only for contents nobody needs any more.
  static void drop(void* block, std::size_t bytes) noexcept {
    ::madvise(block, block_bytes(size_class(bytes)), MADV_DONTNEED);
  }

  // The size take(bytes) really reserves.
  static constexpr std::size_t reserved_bytes(std::size_t bytes) noexcept { return block_bytes(size_class(bytes)); }

  // For tests and statistics.
  std::size_t blocks_in_use() const {
    const std::lock_guard lock(mutex_);
    return in_use_;
  }
  std::size_t mappings() const {
    const std::lock_guard lock(mutex_);
    return chunks_.size();
  }

 private:
  static constexpr std::size_t classes = 4;  // 1, 2, 4, 8 pages

  static constexpr std::size_t size_class(std::size_t bytes) noexcept {
    std::size_t cls = 0;
    while (block_bytes(cls) < bytes && cls + 1 < classes) ++cls;
    return cls;
  }
  static constexpr std::size_t block_bytes(std::size_t cls) noexcept { return page_size << cls; }

  // A fresh mapping cut into blocks of class `cls` (called with mutex_ held).
  bool carve(std::size_t cls) {
    void* chunk = ::mmap(nullptr, chunk_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (chunk == MAP_FAILED) return false;
    // A transparent huge page would make one written byte cost 2 MiB.
    ::madvise(chunk, chunk_size, MADV_NOHUGEPAGE);
    chunks_.push_back(chunk);
    const std::size_t size = block_bytes(cls);
    std::vector<void*>& free = free_[cls];
    // Pushed in reverse, so blocks are handed out in address order (neighbours share page-table pages).
    for (std::size_t offset = chunk_size; offset >= size; offset -= size)
      free.push_back(static_cast<char*>(chunk) + offset - size);
    return true;
  }

  mutable std::mutex mutex_;
  std::array<std::vector<void*>, classes> free_;
  std::vector<void*> chunks_;
  std::size_t in_use_ = 0;
};

}  // namespace fastrt::http2
