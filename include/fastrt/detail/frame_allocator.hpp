// fastrt/detail/frame_allocator.hpp — thread-local recycling allocator for
// coroutine frames and other small, short-lived blocks.
//
// Blocks are grouped in size classes of 64 bytes up to 4 KiB; a freed block
// goes onto the freeing thread's list for its class and is handed out again
// on the next allocation of that class. In steady state a coroutine frame
// therefore costs a pointer pop and push, no call into the global allocator.
// Larger blocks go straight to ::operator new.
//
// A block may be freed on another thread than the one that allocated it; it
// then simply joins that thread's lists. Each list is capped so a thread that
// only frees cannot hoard memory. The lists are released at thread exit.
//
// Thread-safety: every list is thread_local; no synchronisation is needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FASTRT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FASTRT_ASAN 1
#endif
#if defined(FASTRT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace fastrt::detail {

class frame_allocator {
 public:
  static constexpr std::size_t granule = 64;
  static constexpr std::size_t class_count = 64;  // up to 4 KiB
  static constexpr std::size_t max_cached_per_class = 1024;

  static void* allocate(std::size_t size) {
    const std::size_t cls = class_of(size);
    state& s = local();
    ++s.live;
    if (cls < class_count) {
      if (free_block* block = s.heads[cls]) {
        unpoison(block, cls);
        s.heads[cls] = block->next;
        --s.counts[cls];
        return block;
      }
      return ::operator new((cls + 1) * granule);
    }
    return ::operator new(size);
  }

  static void deallocate(void* ptr, std::size_t size) noexcept {
    const std::size_t cls = class_of(size);
    state& s = local();
    --s.live;
    if (cls < class_count && !s.released && s.counts[cls] < max_cached_per_class) {
      auto* block = static_cast<free_block*>(ptr);
      block->next = s.heads[cls];
      s.heads[cls] = block;
      ++s.counts[cls];
      poison(block, cls);
      return;
    }
    ::operator delete(ptr);
  }

  // Blocks allocated minus blocks freed on this thread. Tests use it to prove
  // that destroying a task chain frees every frame.
  static std::int64_t live_blocks_on_this_thread() noexcept { return local().live; }

 private:
  struct free_block {
    free_block* next;
  };
  // Trivially destructible so it stays usable during thread exit; a
  // separate guard object releases the cached blocks.
  struct state {
    free_block* heads[class_count];
    std::uint32_t counts[class_count];
    std::int64_t live;
    bool released;
  };
  struct releaser {
    ~releaser() {
      state& s = local();
      s.released = true;
      for (std::size_t cls = 0; cls < class_count; ++cls) {
        while (free_block* block = s.heads[cls]) {
          unpoison(block, cls);
          s.heads[cls] = block->next;
          ::operator delete(block);
        }
        s.counts[cls] = 0;
      }
    }
  };

  static state& local() noexcept {
    static thread_local state s{};
    static thread_local releaser guard;
    (void)&guard;  // odr-use: registers the thread-exit release
    return s;
  }

  static constexpr std::size_t class_of(std::size_t size) noexcept {
    return (size + granule - 1) / granule - (size != 0);
  }

  static void poison([[maybe_unused]] free_block* block, [[maybe_unused]] std::size_t cls) noexcept {
#if defined(FASTRT_ASAN)
    // Keep the link word readable; the rest of a freed frame must not be touched.
    ASAN_POISON_MEMORY_REGION(reinterpret_cast<char*>(block) + sizeof(free_block),
                              (cls + 1) * granule - sizeof(free_block));
#endif
  }
  static void unpoison([[maybe_unused]] free_block* block, [[maybe_unused]] std::size_t cls) noexcept {
#if defined(FASTRT_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(block, (cls + 1) * granule);
#endif
  }
};

}  // namespace fastrt::detail
