// Trend of the stored runs of one scenario (`wslat history`): a table per run and a trend
// line per main metric, as text and as one self-contained HTML page with SVG charts.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "result.hpp"

namespace wslat {

struct HistoryRun {
  std::string file;
  RunResult result;
};

struct History {
  std::string scenario;
  std::string results_dir;
  std::vector<HistoryRun> runs;       // oldest first, at most `last`
  std::vector<std::string> warnings;  // unreadable files that were skipped
};

// The last `last` stored runs of `scenario_name` under `results_dir` (list_runs +
// load_result_file). Files that cannot be read are skipped with a warning.
History load_history(const std::string& results_dir, const std::string& scenario_name,
                     std::size_t last = 20);

// Trend of one metric over the runs: p95 per run (nullopt where a run has no samples), and the
// median p50/p95 of the first and the last half of the runs (the middle run of an odd count
// belongs to neither).
struct MetricTrend {
  std::string metric;
  std::vector<std::optional<double>> p50, p95;
  std::optional<double> first_p50, last_p50, first_p95, last_p95;
};
// The metrics a history shows: handshake, e2e, perceived.
const std::vector<std::string>& history_metrics();
MetricTrend metric_trend(const History& h, const std::string& metric);
// One character per value, ▁ (lowest) .. █ (highest); a run without samples is "·".
std::string sparkline(const std::vector<std::optional<double>>& values);

std::string render_history_text(const History& h);
std::string render_history_html(const History& h);

}  // namespace wslat
