// The live dashboard's data (`wslat monitor`, GET /api/samples): per probe of the last hour,
// each phase's p50 and p95, the verdict and the connection counts; the latest errors; the
// last probe's thresholds. Pure and bounded in memory; docs/monitoring.md "Dashboard".
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "result.hpp"

namespace wslat {

class ProbeHistory {
 public:
  // Keeps probes that started within `window_s` of the newest, at most `max_samples`, and the
  // newest `max_errors` error entries: one per run of consecutive probes with the same
  // category and example message (an outage of 50 probes is one entry, not 50).
  explicit ProbeHistory(double window_s = 3600, std::size_t max_samples = 3600,
                        std::size_t max_errors = 20);

  void add(const RunResult& probe, double started_unix_s);
  std::size_t size() const { return samples_.size(); }

  // {"scenario", "target", "profile", "every_s", "window_s", "probes", "phases": [...in report
  // order], "thresholds": [{metric, threshold, unit, limit, pass}], "samples": [{t, ok, verdict,
  // attempted, opened, failed, phases: {name: [p50_ms, p95_ms]}}], "errors": [{t, t_last,
  // category, count, probes, example}] (newest first)}.
  // `newest`: only that many of the newest samples (the live dashboard's event per probe has 1).
  nlohmann::json to_json(double every_s,
                         std::size_t newest = std::numeric_limits<std::size_t>::max()) const;

 private:
  struct Sample {
    double t = 0;
    bool ok = false;
    std::string verdict;
    std::int64_t attempted = 0, opened = 0, failed = 0;
    std::map<std::string, std::pair<double, double>> phases;  // p50, p95 in ms
  };
  struct ErrorSeen {
    double t = 0, t_last = 0;  // the first and the last probe of the run
    std::string category, example;
    std::int64_t count = 0, probes = 0;
    std::int64_t last_probe = 0;  // the number (probes_) of the last probe that had it
  };
  double window_s_;
  std::size_t max_samples_, max_errors_;
  std::string scenario_, target_, profile_;
  std::int64_t probes_ = 0;
  std::deque<Sample> samples_;
  std::deque<ErrorSeen> errors_;  // newest first
  std::vector<ThresholdOutcome> thresholds_;
  std::vector<std::string> phase_order_;
};

}  // namespace wslat
