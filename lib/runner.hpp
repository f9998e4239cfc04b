// Drives sessions through a scenario's steps and records phase times.
// Implementation in lib/net/client.cpp (websocketpp on standalone Asio): one io_context per
// worker thread, per-thread histograms merged once after join.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "result.hpp"
#include "scenario.hpp"
#include "schedule.hpp"
#include "timeouts.hpp"

namespace wslat {

struct RunOptions {
  std::string target;    // ws:// or wss:// URL (already resolved from "embedded")
  TimeoutPlan timeouts;  // plan_timeouts(scenario, profile): effective, written, their note
  Load load;             // effective (CLI overrides applied)
  Shard shard;
  int threads = 1;
  // Local addresses 127.0.0.1..N to spread connections over (loopback targets); 0 = as needed
  // (only beyond ~20k live connections).
  int source_addresses = 0;
  bool insecure = false;
  std::string ca_file;
  std::vector<std::pair<std::string, std::string>> extra_headers;  // --header
  // Called about every 250 ms from the coordinating thread while the run lasts.
  struct Progress {
    std::int64_t done = 0, total = 0;  // total = 0 when open model (see elapsed/duration)
    double elapsed_s = 0, duration_s = 0;
    double achieved_rate = 0;
    std::int64_t errors = 0;
    double live_p95_handshake_ms = 0;
  };
  std::function<void(const Progress&)> on_progress;
  // Set from a signal handler: stop starting connections, close open ones within the close
  // timeout, return what was measured with `interrupted` set.
  const std::atomic<bool>* stop_requested = nullptr;
};

struct RawRun {
  std::map<std::string, Histogram> metrics;  // only metrics with samples
  std::map<std::string, std::int64_t> errors;
  std::map<std::string, std::string> error_examples;
  std::int64_t attempted = 0, opened = 0, failed = 0;
  double duration_ms = 0;
  LoadStats load;
  std::vector<TimelinePoint> timeline;
  bool interrupted = false;
};

RawRun run_scenario(const Scenario& scenario, const RunOptions& opts);

// The bytes of the upgrade request the runner would send to `target` with these headers (in
// order, as --header adds them) and subprotocols: the same checks and the same websocketpp
// request building. Throws UsageError for anything the runner refuses. For tests and fuzzing.
std::string upgrade_request_text(const std::string& target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::vector<std::string>& subprotocols);

}  // namespace wslat
