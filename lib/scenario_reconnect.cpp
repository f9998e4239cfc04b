// Reconnects: the "reconnect" step and "on_drop", and the backoff policy both share
// (README "Reconnects").
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/core.h>

#include "scenario_check.hpp"

namespace wslat {

Duration ReconnectPolicy::delay(std::int64_t attempt) const {
  if (attempt <= 1) return Duration{};
  // initial × factor^(attempt - 2), in doubles: saturates at max instead of overflowing.
  const double ns =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(initial).count()) *
      std::pow(factor, static_cast<double>(attempt - 2));
  const double cap =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(max).count());
  if (ns >= cap) return max;
  return std::chrono::duration_cast<Duration>(
      std::chrono::nanoseconds(static_cast<std::int64_t>(ns)));
}

Duration ReconnectPolicy::total_delay() const {
  Duration total{};
  for (std::int64_t k = 2; k <= attempts; ++k) {
    const Duration d = delay(k);
    const auto longest =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double, Duration::period>(
            static_cast<double>(d.count()) * (1.0 + jitter)));
    if (longest >= Duration::max() - total) return Duration::max();
    total += longest;
  }
  return total;
}

namespace scenario_detail {

namespace {
constexpr std::int64_t kMaxAttempts = 1000;
}  // namespace

// {"attempts": N, "backoff": {"initial": "100ms", "max": "2s", "factor": 2, "jitter": 0.2}}
// (the keys of `j` other than these are the caller's).
ReconnectPolicy Checker::check_reconnect_policy(const json& j, const std::string& ptr,
                                                ReconnectPolicy policy) {
  if (j.contains("attempts")) {
    policy.attempts =
        get_positive_int(j["attempts"], ptr + "/attempts", kMaxAttempts).value_or(policy.attempts);
  }
  if (!j.contains("backoff")) return policy;
  const std::string bp = ptr + "/backoff";
  const json& b = j["backoff"];
  if (!require_object(b, bp, "\"backoff\", e.g. {\"initial\": \"100ms\", \"max\": \"2s\"}")) {
    return policy;
  }
  check_keys(b, bp, {"initial", "max", "factor", "jitter"}, "\"backoff\"");
  if (b.contains("initial")) {
    policy.initial = get_duration(b["initial"], bp + "/initial", true).value_or(policy.initial);
  }
  if (b.contains("max"))
    policy.max = get_duration(b["max"], bp + "/max", true).value_or(policy.max);
  if (b.contains("factor")) {
    policy.factor =
        get_number(b["factor"], bp + "/factor", 1, 100, "each wait is the previous one times this")
            .value_or(policy.factor);
  }
  if (b.contains("jitter")) {
    policy.jitter = get_number(b["jitter"], bp + "/jitter", 0, 1,
                               "each wait varies at random by up to this fraction")
                        .value_or(policy.jitter);
  }
  if (policy.max < policy.initial) {
    issue(bp + "/max", fmt::format("\"max\" ({}) is shorter than \"initial\" ({}): the waits "
                                   "grow from initial up to max",
                                   format_duration(policy.max), format_duration(policy.initial)));
  }
  return policy;
}

void Checker::check_body(const json& j, const StepSite& at, ReconnectStep& reconnect) {
  const std::string& ptr = at.body;
  if (!require_object(j, ptr, "\"reconnect\", e.g. {\"close\": \"drop\"}")) return;
  check_keys(j, ptr, {"close", "attempts", "backoff"}, "\"reconnect\"");
  if (j.contains("close")) {
    const auto how = get_string(j["close"], ptr + "/close", "\"clean\" or \"drop\"");
    if (how && *how != "clean" && *how != "drop") {
      issue(ptr + "/close",
            fmt::format("{} is not allowed here: expected \"clean\" (a close handshake, code "
                        "1000) or \"drop\" (the TCP connection torn down without a close frame)",
                        describe(j["close"])));
    }
    reconnect.drop = how && *how == "drop";
  }
  reconnect.policy = check_reconnect_policy(j, ptr, ReconnectPolicy{});
}

// "on_drop": {"reconnect": {"attempts": 5, "backoff": {...}}}
void Checker::check_on_drop(const json& doc, Scenario& s) {
  if (!doc.contains("on_drop")) return;
  const json& j = doc["on_drop"];
  if (!require_object(j, "/on_drop", "\"on_drop\", e.g. {\"reconnect\": {\"attempts\": 5}}")) {
    return;
  }
  check_keys(j, "/on_drop", {"reconnect"}, "\"on_drop\"");
  if (!j.contains("reconnect")) {
    issue("/on_drop", "missing \"reconnect\": e.g. {\"reconnect\": {\"attempts\": 5}}");
    return;
  }
  const json& r = j["reconnect"];
  if (!require_object(r, "/on_drop/reconnect", "\"reconnect\", e.g. {\"attempts\": 5}")) return;
  check_keys(r, "/on_drop/reconnect", {"attempts", "backoff"}, "\"reconnect\"");
  ReconnectPolicy defaults;
  defaults.attempts = 5;
  s.on_drop = check_reconnect_policy(r, "/on_drop/reconnect", defaults);
}

}  // namespace scenario_detail
}  // namespace wslat
