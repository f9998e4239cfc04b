// Self-saturation: whether wslat's own event loops fell far enough behind that the latencies it
// measured include its own queueing. Each worker records how late its 100 ms tick woke up
// (metric "loop_lag", lib/net/worker.hpp); this compares that lag with the latencies measured.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "result.hpp"

namespace wslat {

// The rule (README, "Load, shards and many machines"): warn when loop_lag's p50 is at least
// kSaturationFloorMs AND more than kSaturationFraction of the smaller p50 of handshake and rtt
// (the measured latency wslat's lag distorts most): the loop is behind most of the time by a
// share of the typical latency. The floor keeps a loopback run, where 10% of a p50 is a few
// microseconds of wake-up jitter, from warning. The median, not a tail: one sample per 100 ms
// makes p99 the single worst tick, and on a shared machine that is one time slice the scheduler
// gave another process (3-4 ms seen on a loaded 2-core machine), not wslat's own load.
inline constexpr double kSaturationFloorMs = 1.0;
inline constexpr double kSaturationFraction = 0.10;

// The warning in plain words, or nullopt when the rule does not fire (no loop_lag, no handshake
// or rtt samples, or lag below the floor or the fraction).
std::optional<std::string> saturation_warning(const std::map<std::string, MetricResult>& metrics);

}  // namespace wslat
