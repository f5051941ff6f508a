// tests/support/stress.hpp — sizes for stress tests.
//
// ThreadSanitizer makes every atomic operation a runtime call; stress loops
// shrink under it so each test binary stays within about a minute on two
// cores. Every other build runs the full size.
#pragma once

#include <cstdint>

#if defined(__SANITIZE_THREAD__)
#define FASTRT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FASTRT_TEST_TSAN 1
#endif
#endif

namespace fastrt::test {

#if defined(FASTRT_TEST_TSAN)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif

// `full` normally, full / divisor under ThreadSanitizer.
constexpr std::uint64_t stress_count(std::uint64_t full, std::uint64_t tsan_divisor) {
  return under_tsan ? full / tsan_divisor : full;
}

}  // namespace fastrt::test
