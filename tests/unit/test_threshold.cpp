#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "error.hpp"
#include "histogram.hpp"
#include "profile.hpp"
#include "result.hpp"
#include "threshold.hpp"

using namespace std::chrono_literals;
using wslat::Threshold;

namespace {

Threshold parse(const std::string& metric, const std::string& expr) {
  return wslat::parse_threshold(metric, expr, "/thresholds/" + metric + "/0");
}

std::string usage_error(const std::string& metric, const std::string& expr) {
  try {
    wslat::parse_threshold(metric, expr, "/thresholds/x/0");
  } catch (const wslat::UsageError& e) {
    return e.what();
  }
  FAIL("accepted \"" << metric << ": " << expr << "\"");
  return "";
}

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

wslat::Histogram ms_samples(std::initializer_list<double> values) {
  wslat::Histogram h;
  for (double v : values) h.record_ns(static_cast<std::int64_t>(v * 1e6));
  return h;
}

}  // namespace

TEST_CASE("latency thresholds parse statistic, operator and duration") {
  const Threshold t = parse("handshake", "p95 < 3s");
  CHECK(t.kind == Threshold::Kind::kLatency);
  CHECK(t.metric == "handshake");
  CHECK(t.expr == "p95 < 3s");
  CHECK(t.stat == "p95");
  CHECK(t.op == Threshold::Op::kLess);
  CHECK(t.limit == 3s);

  CHECK(parse("e2e", "p(99.5) <= 250ms").stat == "p(99.5)");
  CHECK(parse("e2e", "p(99.5) <= 250ms").op == Threshold::Op::kLessEqual);
  CHECK(parse("e2e", "p(99.5) <= 250ms").limit == 250ms);
  CHECK(parse("rtt", "mean>=1s").op == Threshold::Op::kGreaterEqual);
  CHECK(parse("rtt", "mean>=1s").stat == "mean");
  CHECK(parse("rtt", "avg > 5ms").op == Threshold::Op::kGreater);
  CHECK(parse("rtt", "med == 5ms").op == Threshold::Op::kEqual);
  CHECK(parse("rtt", "min != 5ms").op == Threshold::Op::kNotEqual);
  CHECK(parse("perceived", "max < 2m").limit == 120s);
  CHECK(parse("tls", "p99.9 < 500us").stat == "p99.9");
  for (const char* stat : {"min", "mean", "avg", "med", "p50", "p90", "p95", "p99", "p99.9", "max",
                           "p(0)", "p(100)", "p(12.5)"}) {
    CAPTURE(stat);
    CHECK_NOTHROW(parse("session", std::string(stat) + " < 1s"));
  }
}

TEST_CASE("errors thresholds: rate as percent or fraction, count") {
  const Threshold pct = parse("errors", "rate < 1%");
  CHECK(pct.kind == Threshold::Kind::kErrorRate);
  CHECK(pct.limit_value == doctest::Approx(0.01));
  CHECK(parse("errors", "rate < 0.01").limit_value == doctest::Approx(0.01));
  CHECK(parse("errors", "rate <= 2.5%").limit_value == doctest::Approx(0.025));
  const Threshold count = parse("errors", "count == 0");
  CHECK(count.kind == Threshold::Kind::kErrorCount);
  CHECK(count.op == Threshold::Op::kEqual);
  CHECK(count.limit_value == 0);
}

TEST_CASE("threshold mistakes are usage errors naming the place and the accepted forms") {
  const std::string unknown_metric = usage_error("handshak", "p95 < 3s");
  CHECK(contains(unknown_metric, "/thresholds/x/0"));
  CHECK(contains(unknown_metric, "unknown metric \"handshak\""));
  CHECK(contains(unknown_metric, "handshake"));
  CHECK(contains(unknown_metric, "first_message"));
  const std::string counter = usage_error("bytes_sent", "p95 > 5");
  CHECK(contains(counter, "unknown counter statistic \"p95\""));
  CHECK(contains(counter, "\"total == 0\""));
  CHECK(contains(usage_error("delivery_missing", "total < 1.5"), "not a whole number"));

  const std::string bare = usage_error("handshake", "p95 < 3");
  CHECK(contains(bare, "/thresholds/x/0"));
  CHECK(contains(bare, "is not a duration"));
  CHECK(contains(bare, "e.g. \"p95 < 3s\""));

  CHECK(contains(usage_error("handshake", "p96.x < 3s"), "unknown statistic \"p96.x\""));
  CHECK(contains(usage_error("handshake", "p(101) < 3s"), "unknown statistic"));
  CHECK(contains(usage_error("handshake", "median < 3s"), "STAT: min mean avg med"));
  CHECK(contains(usage_error("handshake", "p95 3s"), "cannot read it"));
  CHECK(contains(usage_error("handshake", "p95 <"), "cannot read it"));
  CHECK(contains(usage_error("handshake", "< 3s"), "cannot read it"));
  CHECK(contains(usage_error("handshake", "p95 < 5%"), "is not a duration"));
  CHECK(contains(usage_error("handshake", "p95 =< 3s"), "cannot read it"));
  CHECK(contains(usage_error("errors", "rate < 5ms"), "not an error rate"));
  CHECK(contains(usage_error("errors", "rate < 150%"), "not an error rate"));
  CHECK(contains(usage_error("errors", "rate < 2"), "not an error rate"));
  CHECK(contains(usage_error("errors", "count < 1.5"), "whole number"));
  CHECK(contains(usage_error("errors", "p95 < 1s"), "rate < 1%"));
}

TEST_CASE("--threshold flags are METRIC: EXPR") {
  const wslat::ThresholdSpec spec = wslat::parse_threshold_flag("handshake: p95 < 500ms");
  CHECK(spec.metric == "handshake");
  CHECK(spec.expr == "p95 < 500ms");
  CHECK(spec.pointer == "--threshold");
  CHECK(wslat::parse_threshold_flag("errors:rate<1%").expr == "rate<1%");
  CHECK_THROWS_WITH_AS(wslat::parse_threshold_flag("p95 < 500ms"),
                       doctest::Contains("expected METRIC: EXPR"), wslat::UsageError);
  CHECK_THROWS_WITH_AS(wslat::parse_threshold_flag("handshake: p95 < 500"),
                       doctest::Contains("--threshold"), wslat::UsageError);
}

TEST_CASE("known_metrics lists the README's metrics and errors") {
  const auto& m = wslat::known_metrics();
  CHECK(m.size() == 38);  // 21 latencies + rtt.<step>, errors, 14 counters + proxy
  CHECK(std::find(m.begin(), m.end(), "rtt.<step>") != m.end());
  CHECK(std::find(m.begin(), m.end(), "perceived") != m.end());
  CHECK(std::find(m.begin(), m.end(), "login") != m.end());
  CHECK(std::find(m.begin(), m.end(), "errors") != m.end());
}

TEST_CASE("evaluation scales latency limits by the profile multiplier") {
  const std::map<std::string, wslat::Histogram> metrics{
      {"handshake", ms_samples({400, 500, 600, 700, 800})}};
  const std::vector<Threshold> thresholds{parse("handshake", "p95 < 1s"),
                                          parse("handshake", "max < 3s")};
  const auto production =
      wslat::evaluate_thresholds(thresholds, wslat::builtin_profile("production"), metrics, {});
  REQUIRE(production.size() == 2);
  CHECK(production[0].pass);
  CHECK(production[0].unit == "ms");
  CHECK(production[0].limit == doctest::Approx(1000));
  CHECK(*production[0].actual == doctest::Approx(800));

  // local: 1s x 0.3 = 300ms, and 800ms breaks it; 3s x 0.3 = 900ms still holds.
  const auto local =
      wslat::evaluate_thresholds(thresholds, wslat::builtin_profile("local"), metrics, {});
  CHECK(local[0].limit == doctest::Approx(300));
  CHECK_FALSE(local[0].pass);
  CHECK(local[1].limit == doctest::Approx(900));
  CHECK(local[1].pass);
  CHECK(contains(local[0].detail, "local"));
}

TEST_CASE("a latency threshold on a metric without samples fails") {
  const std::map<std::string, wslat::Histogram> metrics{{"e2e", wslat::Histogram()}};
  const auto out =
      wslat::evaluate_thresholds({parse("e2e", "p95 < 1s"), parse("perceived", "p95 < 2s")},
                                 wslat::builtin_profile("production"), metrics, {});
  for (const auto& o : out) {
    CHECK_FALSE(o.pass);
    CHECK_FALSE(o.actual.has_value());
    CHECK(contains(o.detail, "no samples"));
  }
}

TEST_CASE("errors thresholds use failed connections over attempted") {
  const wslat::Profile p = wslat::builtin_profile("local");
  const std::vector<Threshold> t{parse("errors", "rate < 1%"), parse("errors", "count == 0")};
  const auto clean = wslat::evaluate_thresholds(t, p, {}, {200, 0, 0});
  CHECK(clean[0].pass);
  CHECK(clean[0].unit == "ratio");
  CHECK(clean[1].pass);
  CHECK(clean[1].unit == "count");

  const auto some = wslat::evaluate_thresholds(t, p, {}, {200, 2, 5});
  CHECK(*some[0].actual == doctest::Approx(0.01));
  CHECK_FALSE(some[0].pass);  // 1% is not < 1%
  CHECK(*some[1].actual == 2);
  CHECK_FALSE(some[1].pass);

  const auto nothing = wslat::evaluate_thresholds(t, p, {}, {0, 0, 0});
  CHECK(*nothing[0].actual == 0);
  CHECK(nothing[0].pass);
}

TEST_CASE("evaluate_thresholds on a result reads its histograms and its connection counts") {
  // The one way a result becomes threshold inputs: a run's assembly and a merge of shards.
  wslat::RunResult r;
  r.metrics["handshake"].histogram = ms_samples({400, 500, 600, 700, 800});
  r.attempted = 200;
  r.failed = 2;
  r.errors = {{"reset", 3}, {"close.1011", 2}};
  const std::vector<Threshold> t{parse("handshake", "p95 < 1s"), parse("errors", "rate < 1%"),
                                 parse("errors", "count == 2")};
  const wslat::Profile p = wslat::builtin_profile("production");
  const auto from_result = wslat::evaluate_thresholds(t, p, r);
  const std::map<std::string, wslat::Histogram> hists{
      {"handshake", r.metrics["handshake"].histogram}};
  const auto from_parts = wslat::evaluate_thresholds(t, p, hists, {200, 2, 5});
  REQUIRE(from_result.size() == 3);
  for (std::size_t i = 0; i < from_result.size(); ++i) {
    CHECK(from_result[i].actual == from_parts[i].actual);
    CHECK(from_result[i].pass == from_parts[i].pass);
    CHECK(from_result[i].detail == from_parts[i].detail);
  }
  CHECK(*from_result[0].actual == doctest::Approx(800));
  CHECK(*from_result[1].actual == doctest::Approx(0.01));  // failed / attempted
  CHECK(from_result[2].pass);                              // count is failed connections
}

TEST_CASE("merge_thresholds: flags add, or replace the same metric and statistic") {
  const std::vector<wslat::ThresholdSpec> scenario{
      {"handshake", "p95 < 3s", "/thresholds/handshake/0"},
      {"handshake", "mean < 1s", "/thresholds/handshake/1"},
      {"errors", "rate < 1%", "/thresholds/errors/0"}};
  const std::vector<wslat::ThresholdSpec> flags{
      wslat::parse_threshold_flag("handshake: p(95) < 500ms"),
      wslat::parse_threshold_flag("handshake: avg < 200ms"),
      wslat::parse_threshold_flag("errors: rate < 5%"),
      wslat::parse_threshold_flag("errors: count == 0"),
      wslat::parse_threshold_flag("e2e: p99 < 1s")};
  const auto merged = wslat::merge_thresholds(scenario, flags);
  REQUIRE(merged.size() == 5);
  CHECK(merged[0].expr == "p(95) < 500ms");
  CHECK(merged[1].expr == "avg < 200ms");
  CHECK(merged[2].limit_value == doctest::Approx(0.05));
  CHECK(merged[3].kind == Threshold::Kind::kErrorCount);
  CHECK(merged[4].metric == "e2e");
}

TEST_CASE("merge_thresholds reports a bad scenario threshold with its pointer") {
  CHECK_THROWS_WITH_AS(
      wslat::merge_thresholds({{"handshake", "p95 < 3", "/thresholds/handshake/0"}}, {}),
      doctest::Contains("/thresholds/handshake/0"), wslat::UsageError);
}

TEST_CASE("op_text writes each operator as the parser reads it") {
  for (const char* op : {"<", "<=", ">", ">=", "==", "!="}) {
    const Threshold t = wslat::parse_threshold("handshake", std::string("p95 ") + op + " 1s", "x");
    CHECK(std::string(wslat::op_text(t.op)) == op);
  }
}

TEST_CASE("a counter's threshold judges its run total - delivery_missing count == 0") {
  const Threshold t = parse("delivery_missing", "count == 0");
  CHECK(t.kind == Threshold::Kind::kCounterTotal);
  CHECK(parse("msgs_sent", "total >= 10").limit_value == 10);
  std::map<std::string, wslat::Counter> counters;
  counters["delivery_missing"].total = 3;
  const auto out = wslat::evaluate_thresholds({t, parse("msgs_sent", "total >= 10")},
                                              wslat::builtin_profile("local"), {}, {}, counters);
  REQUIRE(out.size() == 2);
  CHECK_FALSE(out[0].pass);
  CHECK(out[0].actual == 3);
  CHECK(out[0].limit == 0);  // a count is not scaled by the profile
  CHECK(out[0].unit == "count");
  CHECK_FALSE(out[1].pass);  // msgs_sent was not counted: no pass
  counters["delivery_missing"].total = 0;
  counters["msgs_sent"].total = 12;
  const auto ok = wslat::evaluate_thresholds({t, parse("msgs_sent", "total >= 10")},
                                             wslat::builtin_profile("local"), {}, {}, counters);
  CHECK(ok[0].pass);
  CHECK(ok[1].pass);
}
