// Threshold expressions: "p95 < 3s", "p(99.5) <= 250ms", "max < 1s"; for errors:
// "rate < 1%", "count == 0". Evaluated on aggregates, never raw samples (as k6 does).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "metrics.hpp"
#include "profile.hpp"
#include "result.hpp"
#include "threshold_types.hpp"

namespace wslat {

struct Threshold {
  enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };
  enum class Kind { kLatency, kErrorRate, kErrorCount, kCounterTotal };
  std::string metric;  // "handshake", ..., "errors", or a counter ("delivery_missing")
  std::string expr;    // as written
  Kind kind = Kind::kLatency;
  std::string stat;  // latency: "p95", "p(99.5)", "mean", ...
  Op op = Op::kLess;
  Duration limit{};        // latency, as written (unscaled)
  double limit_value = 0;  // error rate as a fraction (0.01) or count, a counter's total
};

// "<", "<=", ... as thresholds write the operator.
const char* op_text(Threshold::Op op);

// Throws UsageError naming `where` (pointer or "--threshold") and the accepted forms.
Threshold parse_threshold(const std::string& metric, const std::string& expr,
                          const std::string& where);
// "METRIC: EXPR" as given on the command line.
ThresholdSpec parse_threshold_flag(const std::string& flag);

struct ErrorTotals {
  std::int64_t attempted = 0;  // connections attempted
  std::int64_t failed = 0;     // connections with at least one error
  std::int64_t errors = 0;     // total error events
};

std::vector<ThresholdOutcome> evaluate_thresholds(
    const std::vector<Threshold>& thresholds, const Profile& profile,
    const std::map<std::string, Histogram>& metrics, const ErrorTotals& errors,
    const std::map<std::string, Counter>& counters = {});
// The same on a result's histograms and connection counts: the one place that turns a result
// into threshold inputs (assemble_result for a run, merge_results for merged shards).
std::vector<ThresholdOutcome> evaluate_thresholds(const std::vector<Threshold>& thresholds,
                                                  const Profile& profile, const RunResult& r);

// Scenario thresholds with --threshold flags added (a flag for a metric+stat already present
// overrides it).
std::vector<Threshold> merge_thresholds(const std::vector<ThresholdSpec>& scenario,
                                        const std::vector<ThresholdSpec>& flags);

}  // namespace wslat
