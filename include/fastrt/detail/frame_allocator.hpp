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
// then simply joins that thread's lists. Each list is capped
// (max_cached_per_class) so a thread that only frees cannot hoard memory. The
// lists are released at thread exit; a block freed on the thread after that
// goes to ::operator delete.
//
// Cost: the fast paths touch one constant-initialised thread_local (no
// initialisation guard): allocate is a pop and an increment, deallocate a
// decrement, a test and a push. Everything else (first use on a thread,
// empty or full list, large blocks, thread exit) is out of line.
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
  static constexpr std::uint32_t max_cached_per_class = 1024;

  [[gnu::always_inline]] static void* allocate(std::size_t size) {
    const std::size_t cls = class_of(size);
    if (cls < class_count) {
      if (free_block* block = lists.heads[cls]) [[likely]] {
        unpoison(block, cls);
        lists.heads[cls] = block->next;
        ++lists.room[cls];
        return block;
      }
    }
    return allocate_fresh(size, cls);
  }

  [[gnu::always_inline]] static void deallocate(void* ptr, std::size_t size) noexcept {
    const std::size_t cls = class_of(size);
    if (cls < class_count && lists.room[cls] != 0) [[likely]] {
      push(static_cast<free_block*>(ptr), cls);
      return;
    }
    deallocate_slow(ptr, cls);
  }

  // Blocks allocated minus blocks freed on this thread. Tests use it to prove
  // that destroying a task chain frees every frame.
  static std::int64_t live_blocks_on_this_thread() noexcept {
    std::int64_t cached = 0;
    if (lists.phase == cache_phase::active) {
      for (std::size_t cls = 0; cls < class_count; ++cls) cached += max_cached_per_class - lists.room[cls];
    }
    return lists.outside - cached;
  }

 private:
  struct free_block {
    free_block* next;
  };
  // unregistered: no block cached yet, the thread-exit release not set up;
  // active: caching; released: the thread is exiting, nothing is cached.
  enum class cache_phase : std::uint8_t { unregistered, active, released };
  // Trivially destructible and constant-initialised, so the fast paths need
  // no guard and it stays usable during thread exit; a separate guard object
  // (registered on the first cached block) releases the cached blocks.
  struct state {
    free_block* heads[class_count];
    // Blocks the list of each class may still take: 0 while unregistered or
    // released, so that the fast path of deallocate needs only this test.
    std::uint32_t room[class_count];
    // Blocks handed out by ::operator new minus blocks given back to
    // ::operator delete; live = outside - cached.
    std::int64_t outside;
    cache_phase phase;
  };
  struct releaser {
    ~releaser() {
      lists.outside -= max_cached_per_class * class_count;
      for (std::size_t cls = 0; cls < class_count; ++cls) {
        lists.outside += lists.room[cls];
        lists.room[cls] = 0;
        while (free_block* block = lists.heads[cls]) {
          unpoison(block, cls);
          lists.heads[cls] = block->next;
          ::operator delete(block);
        }
      }
      lists.phase = cache_phase::released;
    }
  };
  static inline thread_local constinit state lists{};

  static void push(free_block* block, std::size_t cls) noexcept {
    --lists.room[cls];
    block->next = lists.heads[cls];
    lists.heads[cls] = block;
    poison(block, cls);
  }

  [[gnu::noinline]] static void* allocate_fresh(std::size_t size, std::size_t cls) {
    void* block = ::operator new(cls < class_count ? (cls + 1) * granule : size);
    ++lists.outside;
    return block;
  }

  [[gnu::noinline]] static void deallocate_slow(void* ptr, std::size_t cls) noexcept {
    if (cls < class_count && lists.phase == cache_phase::unregistered) {
      static thread_local releaser guard;
      (void)&guard;  // odr-use: registers the thread-exit release
      for (std::uint32_t& room : lists.room) room = max_cached_per_class;
      lists.phase = cache_phase::active;
      push(static_cast<free_block*>(ptr), cls);
      return;
    }
    --lists.outside;
    ::operator delete(ptr);
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
