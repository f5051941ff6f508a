// tests/support/threads.hpp — small helpers for threading tests.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <string>

namespace fastrt::test {

// Number of threads in this process, from /proc/self/status.
inline int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "Threads:") {
      int n = 0;
      status >> n;
      return n;
    }
  }
  return -1;
}

// CPU time (user + system) this process has used so far.
inline std::chrono::microseconds process_cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto to_us = [](const timeval& tv) { return std::chrono::microseconds(tv.tv_sec * 1'000'000L + tv.tv_usec); };
  return to_us(usage.ru_utime) + to_us(usage.ru_stime);
}

}  // namespace fastrt::test
