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

// Runs that can be compared with each other: same target, profile and load shape (model,
// connections or rate, concurrency, shard). A trend across different ones means nothing.
struct HistorySeries {
  std::string label;             // e.g. "ws://127.0.0.1:8080/ws · profile local · closed: ..."
  std::vector<HistoryRun> runs;  // oldest first, at most `last`
};

struct History {
  std::string scenario;
  std::string results_dir;
  std::vector<HistorySeries> series;  // the series of the newest run first
  std::vector<std::string> warnings;  // unreadable or foreign files that were skipped
  std::size_t interrupted_skipped = 0;
};

// The stored runs of `scenario_name` under `results_dir` (list_runs + load_result_file),
// grouped into series, at most `last` per series. Files that cannot be read, or that hold
// another scenario's result, are skipped with a warning; interrupted runs are left out
// (counted) unless `include_interrupted`.
History load_history(const std::string& results_dir, const std::string& scenario_name,
                     std::size_t last = 20, bool include_interrupted = false);

// The series a run belongs to, as shown to the user.
std::string series_label(const RunResult& r);

// Trend of one metric over the runs (a history shows one per timeline_metrics()): p95 per run
// (nullopt where a run has no samples), and the median p50/p95 of the first and the last half
// of the runs (the middle run of an odd count belongs to neither).
struct MetricTrend {
  std::string metric;
  std::vector<std::optional<double>> p50, p95;
  std::optional<double> first_p50, last_p50, first_p95, last_p95;
};
MetricTrend metric_trend(const HistorySeries& h, const std::string& metric);
// One character per value, ▁ (lowest) .. █ (highest); a run without samples is "·".
std::string sparkline(const std::vector<std::optional<double>>& values);

std::string render_history_text(const History& h);
std::string render_history_html(const History& h);

}  // namespace wslat
