#include "alerts.hpp"

#include <fmt/core.h>

namespace wslat {

std::vector<std::string> probe_failure_reasons(const RunResult& probe) {
  std::vector<std::string> out;
  if (probe.attempted > 0 && probe.opened == 0 && probe.failed == 0) {
    out.emplace_back("no connection opened");
  }
  if (probe.failed > 0) {
    std::string categories;
    for (const auto& [category, count] : probe.errors) {
      categories += fmt::format("{}{} {}", categories.empty() ? "" : ", ", count, category);
    }
    out.push_back(
        fmt::format("{} of {} connections failed ({})", probe.failed, probe.attempted, categories));
  }
  for (const auto& t : probe.thresholds) {
    if (!t.pass) out.push_back(fmt::format("threshold breached: {}: {}", t.metric, t.expr));
  }
  if (probe.comparison && probe.comparison->regressed) {
    bool named = false;
    for (const auto& m : probe.comparison->metrics) {
      if (m.gated && m.verdict == "regressed") {
        out.push_back(fmt::format("regression: {}: {}", m.metric, m.reason));
        named = true;
      }
    }
    if (!named) out.emplace_back("regression against the baseline");
  }
  return out;
}

AlertTracker::AlertTracker(std::int64_t after, double min_interval_s)
    : after_(after < 1 ? 1 : after), min_interval_s_(min_interval_s) {}

std::optional<AlertEvent> AlertTracker::observe(const std::vector<std::string>& reasons,
                                                double now_s, const std::string& at) {
  if (reasons.empty()) {  // a passing probe ends the episode
    std::optional<AlertEvent> out;
    if (firing_) out = AlertEvent{"resolved", consecutive_, since_, at, {}};
    if (held_back_ && !firing_) ++suppressed_;
    consecutive_ = 0;
    firing_ = false;
    held_back_ = false;
    return out;
  }
  if (consecutive_++ == 0) since_ = at;
  if (firing_ || consecutive_ < after_) return std::nullopt;
  if (last_firing_s_ && now_s - *last_firing_s_ < min_interval_s_) {
    held_back_ = true;
    return std::nullopt;
  }
  firing_ = true;
  held_back_ = false;
  last_firing_s_ = now_s;
  return AlertEvent{"firing", consecutive_, since_, at, reasons};
}

nlohmann::json alert_payload(const AlertEvent& e, const AlertSubject& s, const RunResult& probe) {
  nlohmann::json thresholds = nlohmann::json::array();
  for (const auto& t : probe.thresholds) {
    thresholds.push_back({{"metric", t.metric}, {"threshold", t.expr}, {"pass", t.pass}});
  }
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [category, count] : probe.errors) errors[category] = count;
  nlohmann::json last = {{"started_at", probe.started_at}, {"verdict", probe.verdict},
                         {"attempted", probe.attempted},   {"opened", probe.opened},
                         {"failed", probe.failed},         {"errors", errors},
                         {"thresholds", thresholds}};
  if (probe.comparison) last["regressed"] = probe.comparison->regressed;
  return {{"version", 1},         {"source", "wslat monitor"},
          {"state", e.state},     {"scenario", s.scenario},
          {"target", s.target},   {"profile", s.profile},
          {"host", s.host},       {"since", e.since},
          {"at", e.at},           {"failing_probes", e.failing_probes},
          {"reasons", e.reasons}, {"summary", alert_summary(e, s)},
          {"last_probe", last}};
}

std::string alert_summary(const AlertEvent& e, const AlertSubject& s) {
  if (e.state == "resolved") {
    return fmt::format("wslat: RESOLVED: {} at {} passes again after {} failing probes (since {})",
                       s.scenario, s.target, e.failing_probes, e.since);
  }
  std::string why;
  for (const auto& r : e.reasons) why += (why.empty() ? "" : "; ") + r;
  return fmt::format("wslat: FIRING: {} at {} failing for {} probes (since {}): {}", s.scenario,
                     s.target, e.failing_probes, e.since, why);
}

std::map<std::string, std::string> alert_environment(const AlertEvent& e, const AlertSubject& s,
                                                     const nlohmann::json& payload) {
  std::string reasons;
  for (const auto& r : e.reasons) reasons += (reasons.empty() ? "" : "; ") + r;
  return {{"WSLAT_ALERT_STATE", e.state},
          {"WSLAT_ALERT_SCENARIO", s.scenario},
          {"WSLAT_ALERT_TARGET", s.target},
          {"WSLAT_ALERT_PROFILE", s.profile},
          {"WSLAT_ALERT_SINCE", e.since},
          {"WSLAT_ALERT_AT", e.at},
          {"WSLAT_ALERT_FAILING_PROBES", std::to_string(e.failing_probes)},
          {"WSLAT_ALERT_REASONS", reasons},
          {"WSLAT_ALERT_SUMMARY", alert_summary(e, s)},
          {"WSLAT_ALERT_JSON", payload.dump()}};
}

}  // namespace wslat
