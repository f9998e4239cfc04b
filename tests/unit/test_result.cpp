// The result JSON (schema wslat.result/1): exact round trip, stable field names, strict
// validation with messages that name the JSON path; and the verdict precedence.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "error.hpp"
#include "report_fixture.hpp"
#include "result.hpp"

namespace {

using nlohmann::json;
using wslat::test::fixture_result;

std::string rejection(const json& j) {
  try {
    wslat::result_from_json(j);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("result JSON round trip is exact, histograms included") {
  const wslat::RunResult r = fixture_result();
  const json j = wslat::to_json(r);
  // Through text, as a stored file goes.
  const wslat::RunResult back = wslat::result_from_json(json::parse(j.dump()));
  CHECK(wslat::to_json(back) == j);
  REQUIRE(back.metrics.size() == r.metrics.size());
  for (const auto& [name, m] : r.metrics) {
    INFO(name);
    CHECK(back.metrics.at(name).histogram == m.histogram);
    CHECK(back.metrics.at(name).summary.p95 == m.summary.p95);
    CHECK(back.metrics.at(name).summary.p999 == m.summary.p999);
  }
  CHECK(back.timeline.size() == r.timeline.size());
  CHECK(back.timeline[66].ok == false);
  CHECK(back.timeline[66].ms[wslat::timeline_slot("handshake")] < 0);
  CHECK(back.timeline[1].ms == r.timeline[1].ms);
  REQUIRE(back.comparison.has_value());
  CHECK(back.comparison->metrics[1].p_value == r.comparison->metrics[1].p_value);
  CHECK(back.exit_reasons == r.exit_reasons);
  CHECK(back.thresholds[1].actual == r.thresholds[1].actual);
}

TEST_CASE("result JSON carries every stable field of docs/result-schema.md under its name") {
  const json j = wslat::to_json(fixture_result());
  for (const char* key : {"schema", "tool", "scenario", "target", "profile", "started_at",
                          "duration_ms", "connections", "errors", "metrics", "thresholds",
                          "comparison", "verdict", "exit_code", "interrupted"}) {
    CHECK_MESSAGE(j.contains(key), key);
  }
  CHECK(j["schema"] == "wslat.result/1");
  CHECK(j["tool"]["name"] == "wslat");
  CHECK(j["tool"]["version"] == "0.1.0");
  CHECK(j["scenario"].contains("sha256"));
  CHECK(j["scenario"]["file"] == "scenarios/chat.json");
  for (const char* key : {"name", "multiplier", "margin", "conservative"}) {
    CHECK_MESSAGE(j["profile"].contains(key), key);
  }
  CHECK(j["connections"] == json({{"attempted", 200}, {"opened", 197}, {"failed", 3}}));
  CHECK(j["errors"]["close.1011"] == 2);
  for (const char* key : {"count", "min", "mean", "stddev", "p50", "p90", "p95", "p99", "p99.9",
                          "max", "histogram"}) {
    CHECK_MESSAGE(j["metrics"]["handshake"].contains(key), key);
  }
  const json& t = j["thresholds"][1];
  CHECK(t["metric"] == "e2e");
  CHECK(t["expr"] == "p95 < 1s");
  CHECK(t["limit_ms"] == 300.0);
  CHECK(t["actual_ms"].is_number());
  CHECK(t["pass"] == false);
  CHECK(j["comparison"]["regressed"] == true);
  CHECK(j["verdict"] == "fail");
  CHECK(j["exit_code"] == 1);
  CHECK(j["interrupted"] == false);
}

TEST_CASE("result JSON omits metrics without samples and nulls non-latency threshold figures") {
  wslat::RunResult r = fixture_result();
  r.metrics["ping"];  // no samples
  wslat::ThresholdOutcome errors_rate;
  errors_rate.metric = "errors";
  errors_rate.expr = "rate < 1%";
  errors_rate.unit = "ratio";
  errors_rate.limit = 0.01;
  errors_rate.actual = 0.015;
  r.thresholds.push_back(errors_rate);
  wslat::ThresholdOutcome unreached;
  unreached.metric = "first_message";
  unreached.expr = "p95 < 1s";
  unreached.unit = "ms";
  unreached.limit = 300;
  unreached.detail = "no samples";
  r.thresholds.push_back(unreached);
  const json j = wslat::to_json(r);
  CHECK_FALSE(j["metrics"].contains("ping"));
  CHECK(j["thresholds"][2]["limit_ms"].is_null());
  CHECK(j["thresholds"][2]["actual_ms"].is_null());
  CHECK(j["thresholds"][2]["limit"] == 0.01);
  CHECK(j["thresholds"][3]["limit_ms"] == 300.0);
  CHECK(j["thresholds"][3]["actual_ms"].is_null());
  const wslat::RunResult back = wslat::result_from_json(j);
  CHECK(back.thresholds[2].unit == "ratio");
  CHECK(back.thresholds[2].actual == 0.015);
  CHECK_FALSE(back.thresholds[3].actual.has_value());
  CHECK(wslat::to_json(back) == j);
}

TEST_CASE("result_from_json rejects a foreign or newer schema") {
  json j = wslat::to_json(fixture_result());
  j["schema"] = "wslat.result/2";
  CHECK(rejection(j).find("/schema: expected \"wslat.result/1\", found \"wslat.result/2\"") == 0);
  j.erase("schema");
  CHECK(rejection(j) == "/: missing required field \"schema\"");
  CHECK(rejection(json::array({1, 2})).find("expected a JSON object") != std::string::npos);
  CHECK(rejection(json("text")).find("found a string") != std::string::npos);
}

TEST_CASE("result_from_json names the path of a missing field") {
  const json full = wslat::to_json(fixture_result());
  json j = full;
  j["connections"].erase("opened");
  CHECK(rejection(j) == "/connections: missing required field \"opened\"");
  j = full;
  j["metrics"]["handshake"].erase("p99.9");
  CHECK(rejection(j) == "/metrics/handshake: missing required field \"p99.9\"");
  j = full;
  j.erase("comparison");
  CHECK(rejection(j) == "/: missing required field \"comparison\"");
  j = full;
  j["comparison"]["metrics"][1].erase("verdict");
  CHECK(rejection(j) == "/comparison/metrics/1: missing required field \"verdict\"");
}

TEST_CASE("result_from_json rejects wrong types with the path and what was expected") {
  const json full = wslat::to_json(fixture_result());
  json j = full;
  j["connections"]["failed"] = "3";
  CHECK(rejection(j) == "/connections/failed: expected a non-negative integer, found a string");
  j = full;
  j["connections"]["attempted"] = 1.5;
  CHECK(rejection(j) ==
        "/connections/attempted: expected a non-negative integer, found a number with a "
        "fraction");
  j = full;
  j["errors"]["http.502"] = -1;
  CHECK(rejection(j) == "/errors/http.502: expected a non-negative integer, found -1");
  j = full;
  j["thresholds"][0]["pass"] = 1;
  CHECK(rejection(j) == "/thresholds/0/pass: expected a boolean, found an integer");
  j = full;
  j["metrics"]["e2e"]["p95"] = nullptr;
  CHECK(rejection(j) == "/metrics/e2e/p95: expected a number, found null");
  j = full;
  j["verdict"] = "ok";
  CHECK(rejection(j).find("/verdict: expected one of pass, fail") == 0);
  j = full;
  j["timeline"][3] = json::array({1, 2});
  CHECK(rejection(j).find("/timeline/3: expected an array [t_ms") == 0);
  j = full;
  j["metrics"]["tcp"]["count"] = 5;
  CHECK(rejection(j) == "/metrics/tcp/count: is 5 but the histogram holds 197 samples");
  j = full;
  j["metrics"]["tcp"]["histogram"] = "x";
  CHECK(rejection(j).find("/metrics/tcp/histogram: ") == 0);
  j = full;
  j["metrics"] = json::array();
  CHECK(rejection(j) == "/metrics: expected an object, found an array");
}

TEST_CASE("result_from_json rejects a result missing any stable field, naming it") {
  const json full = wslat::to_json(fixture_result());
  for (const char* key : {"schema", "tool", "scenario", "target", "profile", "started_at",
                          "duration_ms", "connections", "errors", "metrics", "thresholds",
                          "comparison", "verdict", "exit_code", "interrupted"}) {
    json j = full;
    j.erase(key);
    CHECK(rejection(j) == std::string("/: missing required field \"") + key + "\"");
  }
  // A file cut short is not JSON at all: the parser, not the validator, refuses it.
  const std::string text = full.dump();
  CHECK(json::parse(text.substr(0, text.size() / 2), nullptr, false).is_discarded());
}

TEST_CASE("result_from_json accepts a minimal result of the stable core only") {
  json j = wslat::to_json(fixture_result());
  for (const char* extra : {"host", "error_examples", "exit_reasons", "load", "timeouts_ms",
                            "request_headers", "timeline", "shards", "shard", "warnings"}) {
    j.erase(extra);
  }
  const wslat::RunResult r = wslat::result_from_json(j);
  CHECK(r.scenario_name == "chat-golden-path");
  CHECK(r.timeline.empty());
  CHECK(r.shards == 1);
}

TEST_CASE("metric_order lists the README's metrics in report order") {
  CHECK(wslat::metric_order() ==
        std::vector<std::string>{
            "login",     "dns",           "tcp",          "proxy",   "tls",       "upgrade",
            "handshake", "first_message", "e2e",          "rtt",     "perceived", "ping",
            "close",     "reconnect",     "disconnected", "session", "loop_lag",  "delivery",
            "fanout",    "fanout_50",     "fanout_90",    "presence"});
}

namespace {

wslat::RunResult verdict_case(bool threshold_fails, bool regressed) {
  wslat::RunResult r;
  r.attempted = 10;
  r.opened = 10;
  wslat::ThresholdOutcome t;
  t.metric = "handshake";
  t.pass = !threshold_fails;
  r.thresholds.push_back(t);
  if (regressed) {
    wslat::Comparison c;
    c.regressed = true;
    r.comparison = c;
  }
  wslat::decide_verdict(r);
  return r;
}

}  // namespace

TEST_CASE("decide_verdict applies the README's exit-code precedence and lists every reason") {
  using V = std::vector<int>;
  wslat::RunResult r = verdict_case(false, false);
  CHECK(r.verdict == "pass");
  CHECK(r.exit_code == 0);
  CHECK(r.exit_reasons.empty());

  r = verdict_case(true, false);
  CHECK(r.verdict == "fail");
  CHECK(r.exit_code == 1);
  CHECK(r.exit_reasons == V{1});

  r = verdict_case(false, true);
  CHECK(r.verdict == "regression");
  CHECK(r.exit_code == 2);
  CHECK(r.exit_reasons == V{2});

  r = verdict_case(true, true);
  CHECK(r.verdict == "fail");
  CHECK(r.exit_code == 1);
  CHECK(r.exit_reasons == V{1, 2});

  r = verdict_case(true, false);
  r.opened = 0;  // every attempted connection failed before open
  wslat::decide_verdict(r);
  CHECK(r.verdict == "error");
  CHECK(r.exit_code == 3);
  CHECK(r.exit_reasons == V{3, 1});

  r = verdict_case(true, true);
  r.interrupted = true;
  wslat::decide_verdict(r);
  CHECK(r.verdict == "interrupted");
  CHECK(r.exit_code == 130);
  CHECK(r.exit_reasons == V{1, 2});

  wslat::RunResult nothing;  // no connection attempted: nothing failed
  wslat::decide_verdict(nothing);
  CHECK(nothing.exit_code == 0);
}

TEST_CASE("decide_verdict recomputes from the data, dropping stale reasons") {
  wslat::RunResult r = verdict_case(true, false);
  r.thresholds[0].pass = true;
  wslat::decide_verdict(r);
  CHECK(r.verdict == "pass");
  CHECK(r.exit_reasons.empty());
}

TEST_CASE("refresh_summaries recomputes each summary from its histogram") {
  wslat::RunResult r = fixture_result();
  const wslat::Summary before = r.metrics.at("e2e").summary;
  r.metrics.at("e2e").histogram.add(r.metrics.at("e2e").histogram);
  r.metrics.at("e2e").summary = {};
  wslat::refresh_summaries(r);
  const wslat::Summary& after = r.metrics.at("e2e").summary;
  CHECK(after.count == 2 * before.count);
  CHECK(after.p50 == before.p50);
  CHECK(after.max == before.max);
}

TEST_CASE("thin_timeline sorts by time and keeps at most kMaxTimelinePoints, evenly spaced") {
  std::vector<wslat::TimelinePoint> few;
  for (int k = 3; k > 0; --k) few.push_back({k * 1.0, wslat::TimelinePoint::absent(), true});
  wslat::thin_timeline(few);
  REQUIRE(few.size() == 3);  // under the cap: all kept, in time order
  CHECK(few.front().t_ms == 1.0);
  CHECK(few.back().t_ms == 3.0);

  std::vector<wslat::TimelinePoint> many;
  const std::size_t n = 3 * wslat::kMaxTimelinePoints;
  for (std::size_t k = n; k > 0; --k) {
    many.push_back({static_cast<double>(k - 1), wslat::TimelinePoint::absent(), true});
  }
  wslat::thin_timeline(many);
  REQUIRE(many.size() == wslat::kMaxTimelinePoints);
  for (std::size_t i = 0; i < many.size(); ++i) CHECK(many[i].t_ms == static_cast<double>(3 * i));
}

TEST_CASE("all_warnings lists the run's warnings, then the comparison's") {
  wslat::RunResult r;
  r.warnings = {"late starts"};
  CHECK(wslat::all_warnings(r) == std::vector<std::string>{"late starts"});
  r.comparison.emplace();
  r.comparison->warnings = {"other profile"};
  CHECK(wslat::all_warnings(r) == std::vector<std::string>{"late starts", "other profile"});
}
