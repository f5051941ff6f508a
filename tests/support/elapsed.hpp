// tests/support/elapsed.hpp — how long something took, in milliseconds, for
// tests that bound a wait from below (a timer did not fire early) or from
// above (a cancellation did not wait out its sleep).
#pragma once

#include <chrono>

namespace fastrt::test {

// Milliseconds on the steady clock since `start` (fractional: a 30 ms timer
// that fired after 29.6 ms fired early).
inline double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace fastrt::test
