// The value types thresholds share with the stages before and after them: a threshold as a
// scenario or --threshold writes it (ThresholdSpec) and as a result records its outcome
// (ThresholdOutcome). Plain values with no dependencies, so that the scenario, result and report
// code include them without the threshold parser, and result and report code without the
// scenario model (docs/design.md, "Dependencies").
#pragma once

#include <optional>
#include <string>

namespace wslat {

// One threshold as written: metric name and expression text ("p95 < 3s").
struct ThresholdSpec {
  std::string metric;
  std::string expr;
  std::string pointer;  // where it came from ("/thresholds/e2e/0" or "--threshold")
};

struct ThresholdOutcome {
  std::string metric;
  std::string expr;
  std::string unit;              // "ms", "ratio" (errors rate) or "count"
  double limit = 0;              // effective limit (ms scaled by the profile, ratio or count)
  std::optional<double> actual;  // nullopt when the metric has no samples
  bool pass = false;             // a latency threshold on a metric with no samples fails
  std::string detail;            // e.g. "no samples: the scenario never reached this phase"
};

}  // namespace wslat
