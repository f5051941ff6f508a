// bench/alloc_counter.hpp — counts heap allocations.
//
// Include from exactly one translation unit of a benchmark binary. It
// replaces the global operator new / delete of that binary (and of every
// shared library it loads) with counting versions, and, on glibc, also
// interposes malloc / calloc / realloc / aligned_alloc / posix_memalign /
// memalign / valloc, because some libraries (asio's recycling allocator, for
// one) get their memory from std::aligned_alloc rather than operator new.
// Every allocation is counted exactly once; benchmarks read the counter
// before and after their timed loop.
//
// Counting is per thread (each thread owns a cache-line-sized slot and bumps
// it with a plain load + store, no locked instruction), so the counter adds
// about a nanosecond per allocation and never makes threads contend; the
// total is the sum over all slots.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace fastrt_bench {

struct alignas(64) alloc_slot {
  std::atomic<std::uint64_t> count{0};
};
inline constexpr std::size_t max_slots = 64;
inline alloc_slot slots[max_slots];  // the last one is shared by surplus threads
inline std::atomic<std::size_t> next_slot{0};

// Allocations so far, all threads together.
inline std::uint64_t allocations() noexcept {
  std::uint64_t total = 0;
  for (const alloc_slot& s : slots) total += s.count.load(std::memory_order_relaxed);
  return total;
}

namespace detail {
inline void count_one() noexcept {
  static thread_local alloc_slot* mine = nullptr;
  if (!mine) {
    const std::size_t i = next_slot.fetch_add(1, std::memory_order_relaxed);
    mine = &slots[i < max_slots - 1 ? i : max_slots - 1];
    if (mine == &slots[max_slots - 1]) {
      mine->count.fetch_add(1, std::memory_order_relaxed);
      mine = nullptr;  // shared slot: stay on the locked path
      return;
    }
  }
  mine->count.store(mine->count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
}  // namespace detail
}  // namespace fastrt_bench

#if defined(__GLIBC__)
// glibc's own entry points, so the interposed functions below can forward.
extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void* __libc_calloc(std::size_t count, std::size_t size) noexcept;
void* __libc_realloc(void* ptr, std::size_t size) noexcept;
void* __libc_memalign(std::size_t align, std::size_t size) noexcept;
void* __libc_valloc(std::size_t size) noexcept;
void __libc_free(void* ptr) noexcept;
}

extern "C" void* malloc(std::size_t size) noexcept {
  fastrt_bench::detail::count_one();
  return __libc_malloc(size);
}
extern "C" void* calloc(std::size_t count, std::size_t size) noexcept {
  fastrt_bench::detail::count_one();
  return __libc_calloc(count, size);
}
extern "C" void* realloc(void* ptr, std::size_t size) noexcept {
  fastrt_bench::detail::count_one();
  return __libc_realloc(ptr, size);
}
extern "C" void* aligned_alloc(std::size_t align, std::size_t size) noexcept {
  fastrt_bench::detail::count_one();
  return __libc_memalign(align, size);
}
extern "C" void* memalign(std::size_t align, std::size_t size) noexcept {
  fastrt_bench::detail::count_one();
  return __libc_memalign(align, size);
}
extern "C" void* valloc(std::size_t size) noexcept {
  fastrt_bench::detail::count_one();
  return __libc_valloc(size);
}
extern "C" int posix_memalign(void** out, std::size_t align, std::size_t size) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return 22;  // EINVAL
  fastrt_bench::detail::count_one();
  void* p = __libc_memalign(align, size);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
extern "C" void free(void* ptr) noexcept { __libc_free(ptr); }

namespace fastrt_bench::detail {
inline void* raw_alloc(std::size_t size) noexcept { return __libc_malloc(size); }
inline void* raw_aligned_alloc(std::size_t align, std::size_t size) noexcept {
  return __libc_memalign(align, size);
}
inline void raw_free(void* ptr) noexcept { __libc_free(ptr); }
}  // namespace fastrt_bench::detail
#else
namespace fastrt_bench::detail {
inline void* raw_alloc(std::size_t size) noexcept { return std::malloc(size); }
inline void* raw_aligned_alloc(std::size_t align, std::size_t size) noexcept {
  void* p = nullptr;
  return ::posix_memalign(&p, align, size) == 0 ? p : nullptr;
}
inline void raw_free(void* ptr) noexcept { std::free(ptr); }
}  // namespace fastrt_bench::detail
#endif

namespace fastrt_bench::detail {
inline void* counted_alloc(std::size_t size) {
  count_one();
  if (size == 0) size = 1;
  if (void* p = raw_alloc(size)) return p;
  throw std::bad_alloc();
}
inline void* counted_aligned_alloc(std::size_t size, std::align_val_t align) {
  count_one();
  std::size_t a = static_cast<std::size_t>(align);
  if (a < sizeof(void*)) a = sizeof(void*);
  if (size == 0) size = 1;
  if (void* p = raw_aligned_alloc(a, size)) return p;
  throw std::bad_alloc();
}
}  // namespace fastrt_bench::detail

// NOLINTBEGIN(misc-new-delete-overloads)
void* operator new(std::size_t size) { return fastrt_bench::detail::counted_alloc(size); }
void* operator new[](std::size_t size) { return fastrt_bench::detail::counted_alloc(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return fastrt_bench::detail::counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return fastrt_bench::detail::counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) {
  return fastrt_bench::detail::counted_aligned_alloc(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return fastrt_bench::detail::counted_aligned_alloc(size, align);
}
void operator delete(void* p) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete[](void* p) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete(void* p, std::size_t) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete[](void* p, std::size_t) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { fastrt_bench::detail::raw_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { fastrt_bench::detail::raw_free(p); }
// NOLINTEND(misc-new-delete-overloads)
