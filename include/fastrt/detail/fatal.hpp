// fastrt/detail/fatal.hpp — the one way fastrt reports a broken invariant or
// misuse it cannot turn into a result: a message on stderr, then abort().
// Never undefined behaviour, never a silent hang.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace fastrt::detail {

[[noreturn]] inline void fatal(const char* message) noexcept {
  std::fprintf(stderr, "fastrt: fatal: %s\n", message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace fastrt::detail
