// Turns what the runner measured into a RunResult: metadata, summaries, threshold outcomes.
// Pure: no I/O, so the whole path from measurements to verdict is unit-testable.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "profile.hpp"
#include "result.hpp"
#include "runner.hpp"
#include "scenario.hpp"
#include "threshold.hpp"

namespace wslat {

struct RunContext {
  const Scenario* scenario = nullptr;
  Profile profile;
  std::vector<Threshold> thresholds;
  Timeouts timeouts;       // effective
  std::string target;      // as run (before redaction)
  std::string started_at;  // UTC ISO 8601
  std::string host;
  std::string shard;                                               // "I/N" or ""
  std::vector<std::pair<std::string, std::string>> extra_headers;  // --header
  std::vector<std::string> warnings;
};

// The scenario's thresholds; when it has none, the registry's defaults for the phases its steps
// can reach (MetricDef::reach: a scenario that never sends has no e2e, one that never expects
// no perceived).
std::vector<ThresholdSpec> applicable_thresholds(const Scenario& s);

RunResult assemble_result(const RunContext& ctx, RawRun raw);

// "2026-11-27T14:00:00.123Z" for a system_clock time.
std::string utc_timestamp(std::chrono::system_clock::time_point t);
// The inverse, for "2026-11-27T14:00:00Z" and "2026-11-27T14:00:00.123Z", years 1970 to 2261;
// nullopt otherwise (a field out of its range included).
std::optional<std::chrono::system_clock::time_point> parse_utc_timestamp(const std::string& s);

}  // namespace wslat
