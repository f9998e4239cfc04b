// One probe of a scenario as `wslat monitor` runs it (the same plan for its own loop and for
// the blackbox_exporter-style `/probe?target=...&scenario=...` endpoint), and that endpoint's
// request handling: scenarios are named from the --scenarios folder only.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "assemble.hpp"
#include "metrics_http.hpp"
#include "runner.hpp"
#include "scenario.hpp"

namespace wslat::cli {

// What the command line says about every probe.
struct ProbeSettings {
  std::optional<std::string> env;
  bool conservative = false;
  std::vector<std::string> threshold_flags;
  bool insecure = false;
  std::string ca;
  std::string host;                                   // this machine, recorded in results
  const std::atomic<bool>* stop_requested = nullptr;  // a signal: end the probe early
};

// The context and options of a run of `scenario` (which must outlive them) on one thread.
struct ProbePlan {
  RunContext ctx;
  RunOptions opts;
};
ProbePlan plan_probe(const Scenario& scenario, const ProbeSettings& p);

// A scenario name from a URL: letters, digits, '.', '_', '-' only, not starting with '.', at
// most 200 characters; "" when acceptable, else why not.
std::string scenario_name_problem(const std::string& name);

// GET /probe?target=URL&scenario=NAME: loads DIR/NAME(.json), probes `target` once, answers
// the exposition of that one probe (200, probe_success 0 or 1), or 400/404/500/503 with a
// plain-text body saying what is wrong. At most `max_at_once` probes run at the same time.
HttpReply serve_probe_request(const std::string& scenarios_dir, const ProbeSettings& p,
                              const std::optional<std::string>& target,
                              const std::optional<std::string>& scenario);

}  // namespace wslat::cli
