#include "assemble.hpp"

#include <cstdio>
#include <ctime>
#include <string_view>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "build_info.hpp"
#include "metrics.hpp"
#include "redact.hpp"
#include "saturation.hpp"

namespace wslat {

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms.count());
}

std::optional<std::chrono::system_clock::time_point> parse_utc_timestamp(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  int used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6) {
    return std::nullopt;
  }
  std::string_view rest(s.c_str() + used);
  if (rest.size() == 5 && rest[0] == '.') {
    for (char c : rest.substr(1, 3)) {
      if (c < '0' || c > '9') return std::nullopt;
      ms = ms * 10 + (c - '0');
    }
    rest.remove_prefix(4);
  }
  if (rest != "Z") return std::nullopt;
  // Fields in their ranges (timegm would roll "2026-13-45" over into 2027), years from 1970 to
  // 2261: system_clock counts nanoseconds in 64 bits, which end in April 2262, and any two
  // such times are less than 292 years apart, so their difference fits as well.
  const auto in = [](int v, int lo, int hi) { return lo <= v && v <= hi; };
  if (!in(tm.tm_year, 1970, 2261) || !in(tm.tm_mon, 1, 12) || !in(tm.tm_mday, 1, 31) ||
      !in(tm.tm_hour, 0, 23) || !in(tm.tm_min, 0, 59) || !in(tm.tm_sec, 0, 60)) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const time_t secs = timegm(&tm);
  if (secs == static_cast<time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(ms);
}

namespace {

std::map<std::string, std::string> shown_headers(const RunContext& ctx) {
  const Scenario& s = *ctx.scenario;
  std::map<std::string, std::string> out;
  auto show = [&](const std::string& name, const std::string& value) {
    out[name] = redact_header(name, value, s.redact, s.secrets);
  };
  for (const auto& [name, value] : s.headers) show(name, expand_shown(value));
  for (const auto& [name, value] : ctx.extra_headers) show(name, value);
  if (s.origin) show("Origin", expand_shown(*s.origin));
  if (!s.cookies.empty() || (s.login && s.login->send_cookies)) show("Cookie", "");  // ***
  return out;
}

}  // namespace

std::vector<ThresholdSpec> applicable_thresholds(const Scenario& s) {
  if (!s.thresholds_defaulted) return s.thresholds;
  bool expects = false, expect_after_send = false;
  for (const auto* steps : s.step_lists()) {
    bool sent = false;
    for (const auto& fs : flatten(*steps)) {
      if (fs.step->is<SendStep>()) sent = true;
      if (fs.step->is<ExpectStep>()) {
        expects = true;
        expect_after_send = expect_after_send || sent;
      }
    }
  }
  const auto reached = [&](MetricReach reach) {
    switch (reach) {
      case MetricReach::kConnect:
        return true;
      case MetricReach::kExpect:
        return expects;
      case MetricReach::kExpectAfterSend:
        return expect_after_send;
    }
    return true;
  };
  std::vector<ThresholdSpec> out;
  for (const auto& t : s.thresholds) {
    const MetricDef* m = find_metric(t.metric);
    if (m == nullptr || reached(m->reach)) out.push_back(t);
  }
  return out;
}

RunResult assemble_result(const RunContext& ctx, RawRun raw) {
  const Scenario& s = *ctx.scenario;
  RunResult r;
  r.tool_version = build_info().version;
  r.tool_commit = build_info().commit;
  r.tool_build = build_info().build;
  r.scenario_name = s.name;
  r.scenario_file = s.file;
  r.scenario_sha256 = s.sha256;
  r.target = redact(ctx.target, s.secrets);
  r.profile_name = ctx.profile.name;
  r.profile_multiplier = ctx.profile.multiplier;
  r.profile_margin = ctx.profile.margin;
  r.profile_conservative = ctx.profile.conservative;
  r.profile_source = ctx.profile.source;
  r.started_at = ctx.started_at;
  r.host = ctx.host;
  r.duration_ms = raw.duration_ms;
  r.attempted = raw.attempted;
  r.opened = raw.opened;
  r.failed = raw.failed;
  r.errors = std::move(raw.errors);
  r.counters = std::move(raw.counters);
  for (auto& [k, v] : raw.error_examples) r.error_examples[k] = redact(v, s.secrets);
  for (auto& [name, h] : raw.metrics) r.metrics[name] = MetricResult{summarize(h), std::move(h)};
  r.thresholds = evaluate_thresholds(ctx.thresholds, ctx.profile, r);
  r.interrupted = raw.interrupted;
  r.load = raw.load;
  for (const TimeoutField& f : kTimeoutFields) {
    r.timeouts_ms[f.name] = to_ms(ctx.timeouts.*f.field);
  }
  r.request_headers = shown_headers(ctx);
  for (std::size_t i = 0; i < s.step_metrics.size(); ++i) {
    r.step_metrics[s.step_metrics[i]] = s.step_metric_notes.at(i);
  }
  r.timeline = std::move(raw.timeline);
  r.shard = ctx.shard;
  r.warnings = ctx.warnings;
  if (raw.load.dropped > 0 || raw.load.late_starts > 0) {
    r.warnings.push_back(fmt::format(
        "wslat could not keep the intended schedule: {} late starts (worst {:.1f} ms late, charged "
        "to latency), {} arrivals dropped; achieved {:.1f}/s of {:.1f}/s",
        raw.load.late_starts, raw.load.max_lateness_ms, raw.load.dropped, raw.load.achieved_rate,
        raw.load.target_rate));
  }
  if (auto w = saturation_warning(r.metrics)) r.warnings.push_back(std::move(*w));
  if (const auto remote = r.counters.find("delivery_remote");
      remote != r.counters.end() && remote->second.total > 0) {
    r.warnings.push_back(fmt::format(
        "delivery across processes uses wall clocks: skew between machines adds to it ({} of "
        "the deliveries were of broadcasts another process sent, timed by the send time the "
        "message carries)",
        remote->second.total));
  }
  r.negotiated = std::move(raw.negotiated);
  r.negotiated.offered = s.subprotocols;
  for (auto& w : extension_warnings(r.negotiated)) r.warnings.push_back(std::move(w));
  // Required: the failures (upgrade.subprotocol) say it already.
  if (!s.require_subprotocol) {
    for (auto& w : subprotocol_warnings(r.negotiated)) r.warnings.push_back(std::move(w));
  }
  decide_verdict(r);
  return r;
}

}  // namespace wslat
