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

// The most worker threads `--threads` takes in `run` and `serve`: more only add contention (one
// io_context each).
constexpr int kMaxWorkerThreads = 256;

// The default worker count: usable_cpus(), at least 1 and at most kMaxWorkerThreads.
inline int default_threads() {
  return static_cast<int>(std::clamp<std::int64_t>(usable_cpus(), 1, kMaxWorkerThreads));
}

}  // namespace wslat
