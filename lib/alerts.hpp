// `wslat monitor --alert-after N`: when a run of consecutive failing probes becomes an alert,
// when it is resolved, and what the notification says (docs/monitoring.md "Alerts"). Pure: the
// delivery (webhook POST, command) is in cli/monitor_alerts.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "result.hpp"

namespace wslat {

// Why a probe failed; empty when it passed. A probe fails on a failed connection (or none
// opened), a breached threshold, or a regression against the baseline (probe.comparison).
std::vector<std::string> probe_failure_reasons(const RunResult& probe);

struct AlertEvent {
  std::string state;  // "firing" | "resolved"
  std::int64_t failing_probes =
      0;              // consecutive failing probes: so far (firing), in all (resolved)
  std::string since;  // UTC timestamp of the episode's first failing probe
  std::string at;     // UTC timestamp of the probe that caused this notification
  std::vector<std::string> reasons;  // of the last failing probe
};

// One alert per contiguous failing episode, one recovery notification per alert sent.
// An episode is announced when it reaches `after` failing probes in a row, unless the last
// firing notification was less than `min_interval_s` ago: then it is announced by the first
// failing probe after that interval, or never when it ends sooner (and then neither is its
// recovery). A resolved notification is never held back.
class AlertTracker {
 public:
  AlertTracker(std::int64_t after, double min_interval_s);

  // The probe's reasons (empty: it passed); `now_s` a monotonic clock in seconds, `at` the
  // probe's UTC timestamp. Returns the notification to send, if any.
  std::optional<AlertEvent> observe(const std::vector<std::string>& reasons, double now_s,
                                    const std::string& at);

  bool firing() const { return firing_; }
  std::int64_t suppressed() const { return suppressed_; }  // episodes held back by the interval

 private:
  std::int64_t after_;
  double min_interval_s_;
  std::int64_t consecutive_ = 0;
  std::string since_;
  bool firing_ = false;
  bool held_back_ = false;  // this episode reached `after` within the interval
  std::optional<double> last_firing_s_;
  std::int64_t suppressed_ = 0;
};

struct AlertSubject {
  std::string scenario, target, profile, host;
};

// The JSON body POSTed to --webhook (documented field by field in docs/monitoring.md).
nlohmann::json alert_payload(const AlertEvent& e, const AlertSubject& s, const RunResult& probe);

// One line a person reads: "wslat: ALERT firing: chat at ws://... failing for 3 probes: ...".
std::string alert_summary(const AlertEvent& e, const AlertSubject& s);

// The variables --alert-command gets on top of the monitor's environment:
// WSLAT_ALERT_STATE, WSLAT_ALERT_SCENARIO, ... and WSLAT_ALERT_JSON (the webhook payload).
std::map<std::string, std::string> alert_environment(const AlertEvent& e, const AlertSubject& s,
                                                     const nlohmann::json& payload);

}  // namespace wslat
