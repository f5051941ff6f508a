// fastrt/detail/ring_storage.hpp — the slot array behind spsc_queue and
// mpsc_queue: capacity rounding, one aligned allocation, and raw per-slot
// element storage.
//
// A ring of 2^k slots is allocated once; a 64-bit position maps to a slot with
// `pos & mask`, so positions grow forever and never need a modulo or a wrap
// check (2^64 pushes at 10^9 per second take 584 years). Elements live in raw
// storage that the queue constructs and destroys explicitly, so T needs
// neither a default constructor nor copyability.
//
// Thread-safety: the storage is immutable after construction; the queues
// decide who may touch which slot. Cost: one allocation at construction.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace fastrt::detail {

// The padding unit that keeps producer and consumer state apart. A fixed 64
// rather than std::hardware_destructive_interference_size: GCC derives that
// constant from -mtune and warns (-Winterference-size) that using it in a
// header can lay the same class out differently in two translation units; and
// 64 bytes is the line size of x86-64 and of most ARM64 cores.
inline constexpr std::size_t cache_line = 64;

// Storage for one T that is constructed and destroyed on demand.
template <class T>
struct uninitialized {
  template <class... Args>
  void construct(Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args...>) {
    ::new (static_cast<void*>(bytes)) T(std::forward<Args>(args)...);
  }
  T& get() noexcept { return *std::launder(reinterpret_cast<T*>(bytes)); }
  void destroy() noexcept { std::destroy_at(&get()); }

  alignas(T) unsigned char bytes[sizeof(T)];
};

template <class Slot>
class ring_storage {
 public:
  // Largest capacity whose byte size still fits a size_t.
  static constexpr std::size_t max_capacity =
      std::bit_floor(std::numeric_limits<std::size_t>::max() / sizeof(Slot));

  explicit ring_storage(std::size_t min_capacity) : mask_(round_up(min_capacity) - 1) {
    void* raw = ::operator new(capacity() * sizeof(Slot), std::align_val_t{alignment});
    slots_ = static_cast<Slot*>(raw);
    // Default-initialised: element bytes stay raw, only slot headers (like
    // mpsc_queue's sequence word) get their initial values.
    if constexpr (!std::is_trivially_default_constructible_v<Slot>) {
      for (std::size_t i = 0; i < capacity(); ++i) ::new (static_cast<void*>(slots_ + i)) Slot;
    }
  }
  ring_storage(const ring_storage&) = delete;
  ring_storage& operator=(const ring_storage&) = delete;
  ~ring_storage() {
    // Slots only hold raw element bytes and atomics: the owning queue has
    // already destroyed any element still inside.
    static_assert(std::is_trivially_destructible_v<Slot>);
    ::operator delete(static_cast<void*>(slots_), std::align_val_t{alignment});
  }

  Slot& operator[](std::uint64_t position) const noexcept {
    return slots_[static_cast<std::size_t>(position) & mask_];
  }
  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  // Whole lines, so the first slot does not share a line with whatever the
  // allocator placed before the array.
  static constexpr std::size_t alignment = std::max(alignof(Slot), cache_line);

  static std::size_t round_up(std::size_t requested) noexcept {
    if (requested > max_capacity) {
      std::fprintf(stderr, "fastrt: fatal: queue capacity %zu is too large\n", requested);
      std::abort();
    }
    return std::bit_ceil(std::max<std::size_t>(requested, 1));
  }

  Slot* slots_ = nullptr;
  std::size_t mask_;
};

}  // namespace fastrt::detail
