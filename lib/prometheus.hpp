// The Prometheus text exposition format (version 0.0.4, what node_exporter's textfile collector
// and a /metrics scrape read) of a result: per-phase latency histograms in fixed classic
// buckets, connection and error counters, message/byte counters, threshold states. Pure: the
// one-off export (--export-prometheus) and `wslat monitor`'s /metrics render with it.
// Every metric and label is documented in docs/monitoring.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "monitor_window.hpp"
#include "result.hpp"

namespace wslat {

// The upper bounds (`le`) of the classic histogram buckets, in nanoseconds, ascending: 10 us
// to 60 s, each at most 10% above the one before (per decade: 1.0 1.1 .. 1.9, 2.0 2.2 .. 3.8,
// 4.0 4.4 4.8, 5.0 5.5 .. 9.5: 33 round values), 224 in all, then +Inf.
const std::vector<std::int64_t>& prometheus_bucket_bounds_ns();

// Cumulative counts per bound of prometheus_bucket_bounds_ns() (the +Inf bucket is count()).
// A sample is placed by the midpoint of its wslat bucket (whose width is <= 1/128 of its
// value), so a sample within 0.4% of a bound may land on either side of it.
std::vector<std::int64_t> prometheus_cumulative_buckets(const Histogram& h);

// `value` as a decimal number of seconds, exactly, without exponent: 0.00011, 1.5, 60.
std::string prometheus_seconds(std::int64_t ns);

// What `wslat monitor` adds to a result: the probes so far.
struct ProbeStats {
  std::int64_t probes = 0;         // finished probes
  std::int64_t failed_probes = 0;  // probes with at least one failed connection
  bool last_success = false;       // the last probe: every connection opened and completed
  double last_probe_unix_s = 0;    // when the last probe started (Unix time, seconds)
  double last_probe_duration_s = 0;
  std::optional<bool> last_regressed;  // with --baseline: the last probe regressed against it
};

// The whole exposition. Without `probe`, a one-off run's result (textfile collector); with it,
// a monitor's cumulative result plus the probe metrics; with `window` too, the rolling window's
// gauges (wslat_window_*).
std::string render_prometheus(const RunResult& r, const std::optional<ProbeStats>& probe = {},
                              const RollingWindow* window = nullptr);

// Several expositions (a monitor's targets) as one: each family's HELP and TYPE once, followed
// by the samples of every part that has it, families in the order they first appear.
std::string merge_prometheus_expositions(const std::vector<std::string>& parts);

}  // namespace wslat
