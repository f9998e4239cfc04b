// RunResult: everything a run produced, as a value. Its JSON is schema "wslat.result/1"
// (documented field by field in docs/result-schema.md); every reporter renders from it,
// `merge`, `compare` and `report` read it back.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "histogram.hpp"
#include "metrics.hpp"
#include "stats.hpp"
#include "threshold_types.hpp"

namespace wslat {

inline constexpr const char* kResultSchema = "wslat.result/1";

struct MetricResult {
  Summary summary;
  Histogram histogram;
};

// One counter of the registry (msgs_sent, bytes_received, ...): its total over the run, and how
// it spread over the connections that opened and ended (each such connection's own count).
struct Counter {
  std::int64_t total = 0;
  std::int64_t connections = 0;         // opened connections that ended
  std::int64_t per_connection_sum = 0;  // what those connections counted (= total at the end)
  std::int64_t min = 0, max = 0;        // per connection; 0 when no connection ended

  void add_connection(std::int64_t n) {
    min = connections == 0 ? n : std::min(min, n);
    max = connections == 0 ? n : std::max(max, n);
    ++connections;
    per_connection_sum += n;
  }
  void add(const Counter& o) {
    if (o.connections > 0) {
      min = connections == 0 ? o.min : std::min(min, o.min);
      max = connections == 0 ? o.max : std::max(max, o.max);
    }
    total += o.total;
    connections += o.connections;
    per_connection_sum += o.per_connection_sum;
  }
  bool empty() const { return total == 0 && connections == 0; }
  double mean() const {
    return connections == 0
               ? 0
               : static_cast<double>(per_connection_sum) / static_cast<double>(connections);
  }
  bool operator==(const Counter& o) const {
    return total == o.total && connections == o.connections &&
           per_connection_sum == o.per_connection_sum && min == o.min && max == o.max;
  }
};

// One point of "latency over the run" (the HTML chart): a connection's intended start
// offset from the run start and its main phases; absent phases are < 0.
struct TimelinePoint {
  using Phases = std::array<double, kTimelineMetricCount>;
  static constexpr Phases absent() {
    Phases out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = -1;
    return out;
  }

  double t_ms = 0;
  Phases ms = absent();  // ms[timeline_slot("e2e")]: one per timeline_metrics(), in that order
  bool ok = true;
};

// How many points a result's timeline holds at most.
inline constexpr std::size_t kMaxTimelinePoints = 5000;
// Sorts the points by time (stable) and keeps at most kMaxTimelinePoints of them, evenly spaced.
void thin_timeline(std::vector<TimelinePoint>& points);

// Per-metric comparison against a baseline (filled by baseline::compare).
struct MetricComparison {
  std::string metric;
  bool gated = false;  // watched by the gate (else information only)
  double baseline_p50 = 0, current_p50 = 0;
  double baseline_p95 = 0, current_p95 = 0;
  std::int64_t baseline_count = 0, current_count = 0;
  double delta_p50_ms = 0, delta_p50_pct = 0;
  double delta_p95_ms = 0, delta_p95_pct = 0;
  double p_value = 1;   // one-sided Mann-Whitney p that current is slower
  std::string verdict;  // "improved", "unchanged", "regressed", "inconclusive"
  std::string reason;   // one sentence a person can read
};

struct Comparison {
  std::string baseline_file;
  std::string baseline_started_at;
  std::string baseline_tool_version;
  double tolerance = 0.10;
  double noise_floor_ms = 0.5;
  double alpha = 0.01;
  std::vector<MetricComparison> metrics;
  std::vector<std::string> warnings;  // profile/target/version mismatch
  bool regressed = false;
};

// What the servers answered to the upgrade requests' offers (result field "negotiated"): each
// value as answered -> how many upgrades got it; "" = the header was absent.
struct Negotiated {
  std::vector<std::string> offered;                  // the scenario's subprotocols
  std::map<std::string, std::int64_t> subprotocols;  // Sec-WebSocket-Protocol
  std::map<std::string, std::int64_t> extensions;    // Sec-WebSocket-Extensions
  // The Sec-WebSocket-Extensions wslat offered (permessage-deflate), "" for none.
  std::string offered_extensions;
  bool empty() const { return subprotocols.empty() && extensions.empty(); }
};

struct LoadStats {
  std::string model = "closed";  // "closed" | "open"
  std::int64_t concurrency = 1;  // closed: at once; open: max_concurrency
  double target_rate = 0;        // open: mean intended arrivals/s
  double achieved_rate = 0;      // started connections per second of the run
  std::int64_t late_starts = 0;  // started more than 1 ms after their intended time
  std::int64_t dropped = 0;      // never started (no slot before the run ended)
  double max_lateness_ms = 0;
  int threads = 1;
};

struct RunResult {
  std::string schema = kResultSchema;
  std::string tool_name = "wslat";
  std::string tool_version;
  std::string tool_commit, tool_build;  // optional: absent from older results
  std::string scenario_name, scenario_file, scenario_sha256;
  std::string target;  // redacted
  std::string profile_name;
  double profile_multiplier = 1.0, profile_margin = 0.0;
  bool profile_conservative = false;
  std::string profile_source;
  std::string started_at;  // UTC, ISO 8601 "2026-11-27T14:00:00Z"
  std::string host;        // machine that ran it
  double duration_ms = 0;
  std::int64_t attempted = 0, opened = 0, failed = 0;
  std::map<std::string, std::int64_t> errors;         // category -> count
  std::map<std::string, std::string> error_examples;  // category -> one message (redacted)
  std::map<std::string, MetricResult> metrics;
  // Every counter of the registry (counter_order()); empty in results older than counters.
  std::map<std::string, Counter> counters;
  std::vector<ThresholdOutcome> thresholds;
  std::optional<Comparison> comparison;
  std::string verdict = "pass";  // pass | fail | regression | error | interrupted
  int exit_code = 0;
  std::vector<int> exit_reasons;  // every code that applies (report lists them all)
  bool interrupted = false;
  LoadStats load;
  std::map<std::string, double> timeouts_ms;  // effective: connect, handshake, message, close
  std::map<std::string, std::string> request_headers;  // redacted
  // "rtt.<name>" of a named expect -> which steps it times ("from send /steps/2 to expect ...").
  std::map<std::string, std::string> step_metrics;
  Negotiated negotiated;                // absent from older results
  std::vector<TimelinePoint> timeline;  // at most kMaxTimelinePoints, evenly spaced
  int shards = 1;                       // how many shard results this one holds
  std::string shard;                    // "I/N" when run with --shard
  std::vector<std::string> warnings;
};

nlohmann::json to_json(const RunResult& r);
// The same without the "timeline" key, and that key's value as JSON text (render_json
// splices it in, rather than building 5000 rows as json values).
nlohmann::json to_json_without_timeline(const RunResult& r);
std::string timeline_rows_json(const std::vector<TimelinePoint>& points);
// Validates schema and required fields; throws std::invalid_argument with a message naming
// the problem (the caller adds the file name).
RunResult result_from_json(const nlohmann::json& j);

// The warnings about negotiated subprotocols: upgrades where the server selected none of the
// offered ones, or one that was not offered (empty when nothing was offered or none differ).
std::vector<std::string> subprotocol_warnings(const Negotiated& n);

// The warning about permessage-deflate offered (offered_extensions) and declined: upgrades whose
// answer did not accept it (none when it was not offered or every upgrade accepted it).
std::vector<std::string> extension_warnings(const Negotiated& n);

// Every warning a report shows: the run's, then the baseline comparison's.
std::vector<std::string> all_warnings(const RunResult& r);

// Rebuilds summaries from histograms (after merging).
void refresh_summaries(RunResult& r);

// Decides verdict, exit_code and exit_reasons from thresholds, comparison, errors and
// interruption, applying the README's "Exit codes" precedence (64, 3, 1, 2; 130 when interrupted).
// `interruption_decides` = false is for commands that judge stored data (compare, merge): they
// were not interrupted themselves, so an interrupted input is judged on what it measured.
void decide_verdict(RunResult& r, bool interruption_decides = true);

}  // namespace wslat
