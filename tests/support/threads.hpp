// tests/support/threads.hpp — small helpers for threading tests.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
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

// CPU time (user + system) of each thread of this process whose name starts
// with `prefix`, by thread id, from /proc/self/task/*/stat (clock ticks, so
// 10 ms granularity).
inline std::map<int, std::chrono::milliseconds> threads_cpu_time(const std::string& prefix) {
  std::map<int, std::chrono::milliseconds> times;
  const long ms_per_tick = 1000 / ::sysconf(_SC_CLK_TCK);
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream file(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;  // the thread just ended
    if (stat.compare(open + 1, prefix.size(), prefix) != 0) continue;
    // After "(comm) ": state is field 3; utime and stime are fields 14 and 15.
    std::istringstream fields(stat.substr(close + 2));
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip;
    long utime = 0, stime = 0;
    fields >> utime >> stime;
    times[std::stoi(task.path().filename().string())] = std::chrono::milliseconds((utime + stime) * ms_per_tick);
  }
  return times;
}

}  // namespace fastrt::test
