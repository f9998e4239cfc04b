// Baseline comparison and the regression gate (README, "Baselines and regression").
#pragma once

#include <string>
#include <vector>

#include "result.hpp"

namespace wslat {

struct CompareOptions {
  double tolerance = 0.10;        // relative slow-down that counts (10%)
  double noise_floor_ms = 0.5;    // absolute slow-down that counts
  double alpha = 0.01;            // Mann-Whitney significance
  std::vector<std::string> gate;  // metrics watched; empty -> handshake, e2e, perceived +
                                  // every metric with a threshold
  bool force = false;             // accept a baseline of a different scenario hash
};

// Compares `current` to `baseline`. Throws UsageError when the scenario hash differs and
// !force (message says how to override). Mismatched profile/target/tool version become
// warnings in the Comparison.
Comparison compare_results(const RunResult& current, const RunResult& baseline,
                           const CompareOptions& opts, const std::string& baseline_file);

// Combines shard results exactly: histograms and counters add, timelines interleave,
// thresholds re-evaluated, verdict decided. Throws UsageError for results of different
// scenarios (name or hash), a shard label given twice, or an empty list. `names` (e.g. the
// files the parts came from, same order) lets those errors say which inputs clash.
RunResult merge_results(const std::vector<RunResult>& parts,
                        const std::vector<std::string>& names = {});

}  // namespace wslat
