#include "saturation.hpp"

#include <fmt/format.h>

#include "units.hpp"

namespace wslat {

std::optional<std::string> saturation_warning(const std::map<std::string, MetricResult>& metrics) {
  const auto lag = metrics.find("loop_lag");
  if (lag == metrics.end() || lag->second.summary.count == 0) return std::nullopt;
  const double lag_ms = lag->second.summary.p50;
  if (lag_ms < kSaturationFloorMs) return std::nullopt;
  const std::string* ref_name = nullptr;
  double ref_ms = 0;
  for (const char* name : {"handshake", "rtt"}) {
    const auto it = metrics.find(name);
    if (it == metrics.end() || it->second.summary.count == 0) continue;
    if (ref_name == nullptr || it->second.summary.p50 < ref_ms) {
      ref_name = &it->first;
      ref_ms = it->second.summary.p50;
    }
  }
  if (ref_name == nullptr || lag_ms <= kSaturationFraction * ref_ms) return std::nullopt;
  return fmt::format(
      "wslat itself was saturated: its event loop woke up {} late (loop_lag p50; p99 {}), {:.0f}% "
      "of the {} p50 ({}), so the latencies include wslat's own queueing; spread the load: more "
      "--threads (while cores are free), --shard over more processes or machines",
      format_ms(lag_ms), format_ms(lag->second.summary.p99),
      ref_ms > 0 ? 100.0 * lag_ms / ref_ms : 100.0, *ref_name, format_ms(ref_ms));
}

}  // namespace wslat
