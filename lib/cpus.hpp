// The CPUs this process may run on: its affinity mask (taskset, a container's cpuset), not all
// the machine's. More event loops than that only take turns on the same cores. The default
// worker count of `wslat run` and `wslat serve`.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <thread>

namespace wslat {

inline std::int64_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return std::thread::hardware_concurrency();
}

// The default worker count: usable_cpus(), at least 1 and at most `max`.
inline int default_threads(int max) {
  return static_cast<int>(std::clamp<std::int64_t>(usable_cpus(), 1, max));
}

}  // namespace wslat
