// tests/support/counted.hpp — a queue element that counts its lifetimes.
//
// Move-only, not default-constructible, and owning a heap int, so a leak, a
// double destruction or a use after destruction shows up in the counters and
// under ASan.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace fastrt::test {

struct counted {
  static inline std::atomic<long> constructions{0};
  static inline std::atomic<long> destructions{0};
  static long alive() { return constructions.load() - destructions.load(); }
  static void reset() {
    constructions = 0;
    destructions = 0;
  }

  explicit counted(std::uint64_t v) : value(std::make_unique<std::uint64_t>(v)) { ++constructions; }
  counted(counted&& other) noexcept : value(std::move(other.value)) { ++constructions; }
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
  ~counted() { ++destructions; }

  std::uint64_t get() const { return *value; }

  std::unique_ptr<std::uint64_t> value;
};

static_assert(!std::is_default_constructible_v<counted>);
static_assert(!std::is_copy_constructible_v<counted>);

}  // namespace fastrt::test
