// When `wslat monitor` alerts (lib/alerts.hpp): one firing notification per contiguous failing
// episode after N failing probes, one resolved notification per alert sent, the rate limit,
// and what a failing probe is.
#include <doctest/doctest.h>

#include "alerts.hpp"
#include "report_fixture.hpp"

namespace {

using wslat::AlertTracker;

const std::vector<std::string> kFail = {"2 of 2 connections failed (2 connect.refused)"};
const std::vector<std::string> kPass = {};

// Feeds `pattern` ('F' failing, 'P' passing), one probe a second from `t0`; the notifications
// as "firing@i"/"resolved@i" (i: the probe's index).
std::string feed(AlertTracker& t, const std::string& pattern, double t0 = 0) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const auto e = t.observe(pattern[i] == 'F' ? kFail : kPass, t0 + static_cast<double>(i),
                             "probe" + std::to_string(i));
    if (e) out += (out.empty() ? "" : " ") + e->state + "@" + std::to_string(i);
  }
  return out;
}

}  // namespace

TEST_CASE("alerts: one firing after N failing probes in a row, one resolved, per episode") {
  AlertTracker t(3, 0);
  // A short blip (2 failing) is not an alert; the long episode alerts once, at its 3rd probe.
  CHECK(feed(t, "PFFPFFFFFFFPP") == "firing@6 resolved@11");
  AlertTracker u(1, 0);
  CHECK(feed(u, "FFPFP") == "firing@0 resolved@2 firing@3 resolved@4");
}

TEST_CASE("alerts: the firing event names the episode's start, count and reasons") {
  AlertTracker t(2, 0);
  CHECK_FALSE(t.observe(kFail, 0, "t0"));
  const auto fired = t.observe(kFail, 1, "t1");
  REQUIRE(fired);
  CHECK(fired->state == "firing");
  CHECK(fired->since == "t0");
  CHECK(fired->at == "t1");
  CHECK(fired->failing_probes == 2);
  CHECK(fired->reasons == kFail);
  CHECK_FALSE(t.observe(kFail, 2, "t2"));
  const auto resolved = t.observe(kPass, 3, "t3");
  REQUIRE(resolved);
  CHECK(resolved->state == "resolved");
  CHECK(resolved->since == "t0");
  CHECK(resolved->failing_probes == 3);
}

TEST_CASE("alerts: --alert-min-interval holds back a new episode, never a recovery") {
  AlertTracker t(1, 100);  // at most one firing per 100 s
  // Fires at 0, resolves at 1; the episode at 2..3 is within 100 s: held back, ended unsaid
  // (no resolved either); the episode from 5 lasts until 100 s after the first alert: fires then.
  std::string pattern = "FPFFPF";
  pattern += std::string(100, 'F');
  pattern += "P";
  CHECK(feed(t, pattern) == "firing@0 resolved@1 firing@100 resolved@106");
  CHECK(t.suppressed() == 1);
}

TEST_CASE("alerts: a probe fails on errors, a breached threshold or a regression") {
  // The fixture: 3 failed connections, the e2e threshold breached, e2e regressed.
  const auto reasons = wslat::probe_failure_reasons(wslat::test::fixture_result());
  REQUIRE(reasons.size() == 3);
  CHECK(reasons[0] == "3 of 200 connections failed (2 close.1011, 1 http.502)");
  CHECK(reasons[1] == "threshold breached: e2e: p95 < 1s");
  CHECK(reasons[2].rfind("regression: e2e: ", 0) == 0);
  wslat::RunResult ok;
  ok.attempted = ok.opened = 2;
  CHECK(wslat::probe_failure_reasons(ok).empty());
  ok.comparison = wslat::Comparison{};
  ok.comparison->regressed = true;
  CHECK(wslat::probe_failure_reasons(ok) ==
        std::vector<std::string>{"regression against the baseline"});
  wslat::RunResult none;
  none.attempted = 2;
  CHECK(wslat::probe_failure_reasons(none) == std::vector<std::string>{"no connection opened"});
}

TEST_CASE("alerts: the payload and the command's environment") {
  const wslat::AlertEvent e{"firing", 3, "2026-11-30T06:00:00Z", "2026-11-30T06:01:00Z", kFail};
  const wslat::AlertSubject s{"chat", "ws://127.0.0.1:1/", "local", "box"};
  const auto p = wslat::alert_payload(e, s, wslat::test::fixture_result());
  CHECK(p["version"] == 1);
  CHECK(p["state"] == "firing");
  CHECK(p["scenario"] == "chat");
  CHECK(p["failing_probes"] == 3);
  CHECK(p["since"] == "2026-11-30T06:00:00Z");
  CHECK(p["reasons"][0] == kFail[0]);
  CHECK(p["last_probe"]["failed"] == 3);
  CHECK(p["last_probe"]["errors"]["close.1011"] == 2);
  const auto env = wslat::alert_environment(e, s, p);
  CHECK(env.at("WSLAT_ALERT_STATE") == "firing");
  CHECK(env.at("WSLAT_ALERT_FAILING_PROBES") == "3");
  CHECK(env.at("WSLAT_ALERT_TARGET") == "ws://127.0.0.1:1/");
  CHECK(nlohmann::json::parse(env.at("WSLAT_ALERT_JSON")) == p);
}
