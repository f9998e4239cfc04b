// Summary statistics and the Mann-Whitney U test, computed from histograms.
#pragma once

#include <cstdint>
#include <string>

#include "histogram.hpp"

namespace wslat {

// All figures in milliseconds (the result's unit).
struct Summary {
  std::int64_t count = 0;
  double min = 0, mean = 0, stddev = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0, max = 0;
};

Summary summarize(const Histogram& h);
// A statistic by name: "min", "mean", "avg", "med", "p50", "p90", "p95", "p99", "p99.9",
// "max" and "p(N)" for any 0 <= N <= 100. Milliseconds. Throws std::invalid_argument.
double statistic_ms(const Histogram& h, const std::string& stat);

struct MannWhitney {
  double u = 0;          // U statistic of `current` (ties counted as 1/2)
  double z = 0;          // normal approximation with tie correction; > 0 when current is slower
  double p_greater = 1;  // one-sided p-value that `current` is stochastically greater (slower)
  double p_two_sided = 1;
  bool enough_samples = false;  // both sides >= 8 samples (else the test is not meaningful)
};

// Values falling in the same histogram bucket are treated as ties.
MannWhitney mann_whitney(const Histogram& current, const Histogram& baseline);

}  // namespace wslat
