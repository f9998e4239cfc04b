#include "monitor_probe.hpp"

#include <sys/stat.h>

#include <chrono>

#include <fmt/core.h>

#include "error.hpp"
#include "http_syntax.hpp"
#include "profile.hpp"
#include "prometheus.hpp"

namespace wslat::cli {
namespace {

constexpr int kMaxProbesAtOnce = 4;
std::atomic<int> g_probes_running{0};

constexpr const char* kExposition = "text/plain; version=0.0.4; charset=utf-8";

HttpReply text(unsigned status, const std::string& body) {
  return {status, body + "\n", "text/plain; charset=utf-8"};
}

bool regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

ProbePlan plan_probe(const Scenario& scenario, const ProbeSettings& p) {
  const ProfileChoice choice = choose_profile(p.env, p.conservative, scenario, process_env());
  std::vector<ThresholdSpec> flags;
  for (const auto& f : p.threshold_flags) flags.push_back(parse_threshold_flag(f));
  ProbePlan plan;
  plan.ctx.scenario = &scenario;
  plan.ctx.profile = choice.profile;
  plan.ctx.thresholds = merge_thresholds(applicable_thresholds(scenario), flags);
  plan.ctx.warnings = choice.warnings;
  plan.ctx.host = p.host;
  plan.opts.timeouts = plan_timeouts(scenario.timeouts, plan.ctx.profile);
  plan.ctx.timeouts = plan.opts.timeouts.effective;
  plan.opts.load = scenario.load;
  plan.opts.threads = 1;
  plan.opts.insecure = p.insecure;
  plan.opts.ca_file = p.ca;
  plan.opts.stop_requested = p.stop_requested;
  return plan;
}

std::string scenario_name_problem(const std::string& name) {
  if (name.empty()) return "empty";
  if (name.size() > 200) return "longer than 200 characters";
  if (name.find_first_of("/\\") != std::string::npos) return "contains a path separator";
  if (name.front() == '.') return "starts with '.' (no hidden files, no ..)";
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return "contains a character other than letters, digits, . _ -";
  }
  return "";
}

HttpReply serve_probe_request(const std::string& scenarios_dir, const ProbeSettings& p,
                              const std::optional<std::string>& target,
                              const std::optional<std::string>& scenario) {
  if (scenarios_dir.empty()) {
    return text(404, "/probe is off: start wslat monitor with --scenarios DIR to name scenarios");
  }
  if (!scenario) {
    return text(400, "/probe: missing scenario=NAME (a scenario file in the --scenarios folder)");
  }
  const std::string problem = scenario_name_problem(*scenario);
  if (!problem.empty()) {
    return text(400, fmt::format("/probe: scenario \"{}\": {}; name a scenario file of the "
                                 "--scenarios folder (letters, digits, . _ -), without a path",
                                 *scenario, problem));
  }
  if (!target) return text(400, "/probe: missing target=URL (ws:// or wss://)");
  std::string url_problem;
  if (!parse_ws_url(*target, &url_problem)) {
    return text(400, fmt::format("/probe: target is not a WebSocket URL: {}; expected "
                                 "ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH",
                                 url_problem));
  }
  std::string path = scenarios_dir + "/" + *scenario;
  if (!regular_file(path)) path += ".json";
  if (!regular_file(path)) {
    return text(404, fmt::format("/probe: no scenario \"{0}\" in the --scenarios folder (looked "
                                 "for {1} and {1}.json)",
                                 *scenario, scenarios_dir + "/" + *scenario));
  }
  if (g_probes_running.fetch_add(1) >= kMaxProbesAtOnce) {
    g_probes_running.fetch_sub(1);
    return text(503, fmt::format("/probe: {} probes are already running; try again later",
                                 kMaxProbesAtOnce));
  }
  struct Release {
    ~Release() { g_probes_running.fetch_sub(1); }
  } release;
  try {
    const Scenario s = load_scenario(path, process_env());
    ProbePlan plan = plan_probe(s, p);
    plan.ctx.target = *target;
    plan.opts.target = *target;
    const auto started = std::chrono::system_clock::now();
    plan.ctx.started_at = utc_timestamp(started);
    RawRun raw = run_scenario(s, plan.opts);
    if (raw.interrupted) return text(503, "/probe: wslat monitor is stopping");
    RunResult r = assemble_result(plan.ctx, std::move(raw));
    ProbeStats stats;
    stats.probes = 1;
    stats.last_success = r.failed == 0 && r.opened > 0;
    stats.failed_probes = stats.last_success ? 0 : 1;
    stats.last_probe_unix_s =
        static_cast<double>(
            std::chrono::duration_cast<std::chrono::milliseconds>(started.time_since_epoch())
                .count()) /
        1e3;
    stats.last_probe_duration_s = r.duration_ms / 1e3;
    return {200, render_prometheus(r, stats), kExposition};
  } catch (const std::exception& e) {  // a bad scenario file: the monitor's setup, not the caller
    return text(500, fmt::format("/probe: scenario \"{}\" cannot run: {}", *scenario, e.what()));
  }
}

}  // namespace wslat::cli
