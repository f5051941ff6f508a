// bench/cpu_pinning.hpp — the CPU helpers of the queue benchmarks: which CPUs
// the process may use, pinning the calling thread, and the pause a spinning
// thread takes between attempts (the same for every queue compared).
#pragma once

#include <pthread.h>
#include <sched.h>

#include <vector>

#include "fastrt/detail/spin_wait.hpp"

namespace bench {

// The pause between attempts is the runtime's own (fastrt/detail/spin_wait.hpp).
using fastrt::detail::cpu_relax;

// The CPUs this process may run on, in increasing order.
inline std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  return cpus;
}

// Pins the calling thread to `cpu`; false if cpu < 0 or pinning failed.
inline bool pin_this_thread(int cpu) {
  if (cpu < 0) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

}  // namespace bench
