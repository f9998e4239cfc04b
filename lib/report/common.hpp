// Wording and figures shared by the reporters, so that text, markdown, junit and html say
// the same thing the same way. Private to lib/report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "result.hpp"

namespace wslat::report {

// Metric names present in the result, in the README's Metrics order, unknown names last (sorted).
std::vector<std::string> ordered_metrics(const RunResult& r);

// Counter names present in the result, in registry order (none in results older than counters);
// a role's copy (COUNTER@ROLE) right after its counter, unless both counted nothing.
std::vector<std::string> ordered_counters(const RunResult& r);
// A counter's row in every report: {name, total, per-connection min, mean, max} ("10", "10.5").
std::vector<std::string> counter_cells(const std::string& name, const Counter& c);
// "2000 (per connection: min 10, mean 10, max 10)".
std::string describe_counter(const Counter& c);

// "local (x0.3, margin 0%, chosen by default)" -- the profile and how it was chosen.
std::string describe_profile(const RunResult& r);
// "200 attempted, 198 opened, 2 failed".
std::string describe_connections(const RunResult& r);
// "closed model, concurrency 20, 2 threads" / "open model, target 20/s, achieved 19.8/s,
// 3 late (max 12ms), 0 dropped".
std::string describe_load(const RunResult& r);

// A threshold's limit or actual in its own unit: "900ms", "1%", "0". `actual` absent ->
// "no samples".
std::string format_threshold_value(const ThresholdOutcome& t, double value);
std::string format_threshold_actual(const ThresholdOutcome& t);
// "limit 900ms, actual 1.2s".
std::string threshold_limit_actual(const ThresholdOutcome& t);

// "+12.5%", "-3%", "n/a" (undefined); "+1.2ms" / "-300us" for differences.
std::string format_pct(double pct);
std::string format_delta_ms(double ms);
// A p-value with enough digits to judge against alpha = 0.01: "0.0031", "<0.0001".
std::string format_p_value(double p);

// What an exit code means: "threshold breached", "regression against the baseline", ...
std::string exit_reason_text(int code);
// "fail (exit 1): threshold breached (1), regression against the baseline (2)".
std::string describe_verdict(const RunResult& r);

// A histogram regrouped into `bins` equal-width bins on a log scale between its min and
// max: what the distribution sketches draw.
struct LogBins {
  double lo_ms = 0, hi_ms = 0;  // edges of the whole range
  std::vector<std::int64_t> counts;
  std::int64_t max_count = 0;
  double edge_ms(std::size_t i) const;  // left edge of bin i (i == counts.size(): hi_ms)
};
LogBins log_bins(const Histogram& h, std::size_t bins);
// The same over a given range (e.g. widened to show baseline marks); lo_ms > 0.
LogBins log_bins(const Histogram& h, std::size_t bins, double lo_ms, double hi_ms);

}  // namespace wslat::report
