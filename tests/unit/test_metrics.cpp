// The metric registry (lib/metrics.hpp) is the one list of metrics: every stage of the pipeline
// must accept each registered metric, so that adding one there is enough for the result file,
// thresholds (flags and scenario files) and the gate to take it.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "baseline.hpp"
#include "metrics.hpp"
#include "report/common.hpp"
#include "report_fixture.hpp"
#include "result.hpp"
#include "scenario.hpp"
#include "test_support.hpp"
#include "threshold.hpp"

using namespace wslat;

namespace {

using wslat::test::hist_of;

// 200 samples spread evenly from lo to hi milliseconds.
Histogram samples(double lo, double hi) {
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) ms.push_back(lo + (hi - lo) * i / 199.0);
  return hist_of(ms);
}

RunResult result_with(const std::string& metric, const Histogram& h) {
  RunResult r = wslat::test::fixture_result();
  r.metrics.clear();
  r.thresholds.clear();
  r.comparison.reset();
  r.metrics[metric].histogram = h;
  refresh_summaries(r);
  return r;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

TEST_CASE("metric registry: every latency metric round-trips through the result JSON") {
  for (const MetricDef& def : kMetricRegistry) {
    if (def.kind != MetricKind::kLatency || def.family()) continue;
    const std::string name(def.name);
    INFO(name);
    CHECK(contains(metric_order(), name));
    const RunResult r = result_with(name, samples(1, 20));
    const RunResult back = result_from_json(nlohmann::json::parse(to_json(r).dump()));
    REQUIRE(back.metrics.count(name) == 1);
    CHECK(back.metrics.at(name).histogram == r.metrics.at(name).histogram);
    CHECK(report::ordered_metrics(back) == std::vector<std::string>{name});
  }
}

TEST_CASE("metric registry: a threshold on every metric parses, in flags and files, and holds") {
  for (const MetricDef& def : kMetricRegistry) {
    if (def.kind == MetricKind::kCounter) continue;
    CHECK(contains(known_metrics(), std::string(def.name)));
    // A family by a member: rtt.<step> as rtt.reply, the expect step named "reply".
    const std::string name =
        def.family() ? std::string(def.prefix()) + "reply" : std::string(def.name);
    INFO(name);
    const bool errors = def.kind == MetricKind::kErrors;
    const std::string pass = errors ? "rate < 1%" : "p95 < 1s";
    const std::string fail = errors ? "count < 1" : "p95 < 1ms";
    const ThresholdSpec flag = parse_threshold_flag(name + ": " + pass);
    CHECK(flag.metric == name);
    const std::string file = R"({"name": "t", "steps": [{"send": {"text": "x"}}, {"expect": )"
                             R"({"any": true, "name": "reply"}}], "thresholds": {")" +
                             name + "\": [\"" + fail + "\"]}}";
    const Scenario s =
        parse_scenario(file, "t.json", [](const std::string&) { return std::nullopt; });
    REQUIRE(s.thresholds.size() == 1);
    std::vector<Threshold> thresholds = merge_thresholds(s.thresholds, {});
    thresholds.push_back(merge_thresholds({}, {flag}).at(0));
    const std::map<std::string, Histogram> hists{{name, samples(5, 20)}};
    const ErrorTotals totals{1000, 1, 1};  // 0.1% failed: rate < 1% holds, count < 1 does not
    const auto outcomes =
        evaluate_thresholds(thresholds, builtin_profile("production"), hists, totals);
    REQUIRE(outcomes.size() == 2);
    for (const auto& o : outcomes) {
      INFO(o.expr);
      CHECK(o.metric == name);
      CHECK(o.actual.has_value());
      CHECK(o.pass == (o.expr == pass));
    }
  }
}

TEST_CASE("metric registry: the gate can watch every latency metric") {
  for (const MetricDef& def : kMetricRegistry) {
    if (def.kind != MetricKind::kLatency || def.family()) continue;
    const std::string name(def.name);
    INFO(name);
    const RunResult base = result_with(name, samples(10, 12));
    const RunResult slower = result_with(name, samples(20, 24));
    CompareOptions opts;
    opts.gate = {name};
    const Comparison c = compare_results(slower, base, opts, "base.json");
    REQUIRE(c.metrics.size() == 1);
    CHECK(c.metrics[0].gated);
    CHECK(c.metrics[0].verdict == "regressed");
    CHECK(c.regressed);
    // Without --gate, the registry's gated metrics are watched.
    const Comparison by_default = compare_results(slower, base, {}, "base.json");
    CHECK(by_default.metrics[0].gated == def.gated);
  }
  CompareOptions errors;
  errors.gate = {"errors"};
  const RunResult r = result_with("e2e", samples(1, 2));
  CHECK_THROWS_AS(compare_results(r, r, errors, "base.json"), UsageError);
}

TEST_CASE("metric registry: the lists each stage reads are the ones it replaced") {
  CHECK(metric_order() ==
        std::vector<std::string>{
            "login",     "dns",           "tcp",          "proxy",   "tls",       "upgrade",
            "handshake", "first_message", "e2e",          "rtt",     "perceived", "ping",
            "close",     "reconnect",     "disconnected", "session", "loop_lag",  "delivery",
            "fanout",    "fanout_50",     "fanout_90",    "presence"});
  // + rtt.<step>, errors, then the counters
  CHECK(known_metrics().size() == metric_order().size() + 2 + counter_order().size());
  CHECK(contains(known_metrics(), "rtt.<step>"));
  CHECK(known_metrics()[metric_order().size() + 1] == "errors");
  CHECK(known_metrics().back() == "reconnect_failures");
  const std::vector<std::string> main{"handshake", "e2e", "perceived"};
  CHECK(default_gate_metrics() == main);
  CHECK(timeline_metrics() == main);
  CHECK(TimelinePoint{}.ms.size() == main.size());
  CHECK(timeline_slot("e2e") == 1);
  CHECK(latency_slot("handshake") == 6);
  const auto defaults = default_thresholds();
  REQUIRE(defaults.size() == 4);
  CHECK(defaults[0].metric == "handshake");
  CHECK(defaults[0].expr == "p95 < 3s");
  CHECK(defaults[1].expr == "p95 < 1s");
  CHECK(defaults[2].expr == "p95 < 2s");
  CHECK(defaults[3].metric == "errors");
  CHECK(defaults[3].expr == "rate < 1%");
}

TEST_CASE("metric registry: a family names its members - report order puts unknown names last") {
  constexpr MetricDef family{"rtt.<step>", MetricKind::kLatency, false, false,
                             "",           MetricReach::kConnect};
  static_assert(family.family());
  static_assert(family.prefix() == "rtt.");
  CHECK(family.names("rtt.login"));
  CHECK_FALSE(family.names("rtt."));
  CHECK_FALSE(family.names("rtt"));
  CHECK_FALSE(family.names("e2e"));
  CHECK(find_metric("rtt") != nullptr);
  CHECK(find_metric("rtt")->name == "rtt");
  REQUIRE(find_metric("rtt.login") != nullptr);  // a named step's rtt (scenario "name")
  CHECK(find_metric("rtt.login")->name == "rtt.<step>");
  CHECK(find_metric("nope.login") == nullptr);
  CHECK_FALSE(takes_thresholds("nope"));

  std::vector<std::string> names{"zeta", "session", "alpha", "e2e", "dns"};
  sort_in_report_order(names);
  CHECK(names == std::vector<std::string>{"dns", "e2e", "session", "alpha", "zeta"});
}
