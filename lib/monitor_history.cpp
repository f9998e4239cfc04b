#include "monitor_history.hpp"

#include <algorithm>

#include "metrics.hpp"

namespace wslat {

ProbeHistory::ProbeHistory(double window_s, std::size_t max_samples, std::size_t max_errors)
    : window_s_(window_s), max_samples_(max_samples), max_errors_(max_errors) {}

void ProbeHistory::add(const RunResult& probe, double started_unix_s) {
  scenario_ = probe.scenario_name;
  target_ = probe.target;
  profile_ = probe.profile_name;
  thresholds_ = probe.thresholds;
  ++probes_;
  Sample s;
  s.t = started_unix_s;
  s.ok = probe.failed == 0 && probe.opened > 0;
  s.verdict = probe.verdict;
  s.attempted = probe.attempted;
  s.opened = probe.opened;
  s.failed = probe.failed;
  for (const auto& [name, metric] : probe.metrics) {
    const Histogram& h = metric.histogram;
    if (h.count() == 0) continue;
    s.phases[name] = {static_cast<double>(h.value_at_percentile(50)) / 1e6,
                      static_cast<double>(h.value_at_percentile(95)) / 1e6};
    if (std::find(phase_order_.begin(), phase_order_.end(), name) == phase_order_.end()) {
      phase_order_.push_back(name);
    }
  }
  samples_.push_back(std::move(s));
  while (!samples_.empty() &&
         (samples_.size() > max_samples_ || samples_.front().t < started_unix_s - window_s_)) {
    samples_.pop_front();
  }
  // An error of the previous probe with the same category and example goes on (one entry for
  // an outage); others are new entries, newest first.
  std::vector<ErrorSeen> fresh;
  for (const auto& entry : probe.errors) {
    const std::string& category = entry.first;
    const std::int64_t count = entry.second;
    const auto ex = probe.error_examples.find(category);
    const std::string example = ex == probe.error_examples.end() ? "" : ex->second;
    const auto same = std::find_if(errors_.begin(), errors_.end(), [&](const ErrorSeen& e) {
      return e.last_probe == probes_ - 1 && e.category == category && e.example == example;
    });
    if (same != errors_.end()) {
      same->t_last = started_unix_s;
      same->count += count;
      ++same->probes;
      same->last_probe = probes_;
    } else {
      fresh.push_back({started_unix_s, started_unix_s, category, example, count, 1, probes_});
    }
  }
  for (auto& e : fresh) errors_.push_front(std::move(e));
  while (errors_.size() > max_errors_) errors_.pop_back();
}

nlohmann::json ProbeHistory::to_json(double every_s, std::size_t newest) const {
  using nlohmann::json;
  json thresholds = json::array();
  for (const auto& t : thresholds_) {
    thresholds.push_back({{"metric", t.metric},
                          {"threshold", t.expr},
                          {"unit", t.unit},
                          {"limit", t.limit},
                          {"pass", t.pass}});
  }
  json samples = json::array();
  const std::size_t skip = samples_.size() > newest ? samples_.size() - newest : 0;
  for (auto it = samples_.begin() + static_cast<std::ptrdiff_t>(skip); it != samples_.end(); ++it) {
    const Sample& s = *it;
    json phases = json::object();
    for (const auto& [name, p] : s.phases) phases[name] = {p.first, p.second};
    samples.push_back({{"t", s.t},
                       {"ok", s.ok},
                       {"verdict", s.verdict},
                       {"attempted", s.attempted},
                       {"opened", s.opened},
                       {"failed", s.failed},
                       {"phases", phases}});
  }
  json errors = json::array();
  for (const auto& e : errors_) {
    errors.push_back({{"t", e.t},
                      {"t_last", e.t_last},
                      {"category", e.category},
                      {"count", e.count},
                      {"probes", e.probes},
                      {"example", e.example}});
  }
  std::vector<std::string> order = phase_order_;
  sort_in_report_order(order);
  return {{"scenario", scenario_}, {"target", target_},        {"profile", profile_},
          {"every_s", every_s},    {"window_s", window_s_},    {"probes", probes_},
          {"phases", order},       {"thresholds", thresholds}, {"samples", samples},
          {"errors", errors}};
}

}  // namespace wslat
