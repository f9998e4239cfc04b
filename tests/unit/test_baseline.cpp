// The regression gate: tolerance, noise floor and significance must all agree before a run is
// called a regression; too few samples is said, never passed silently.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "baseline.hpp"
#include "error.hpp"
#include "test_support.hpp"

using namespace wslat;

namespace {

using wslat::test::hist_of;

// n evenly spread values from lo to hi (inclusive).
std::vector<double> spread(int n, double lo, double hi) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * i / (n > 1 ? n - 1 : 1));
  return v;
}

std::vector<double> scaled(std::vector<double> v, double factor, double plus_ms = 0) {
  for (double& x : v) x = x * factor + plus_ms;
  return v;
}

std::vector<double> repeated(int n, double ms) { return std::vector<double>(n, ms); }

std::vector<double> concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

RunResult result_of(const std::map<std::string, std::vector<double>>& samples) {
  RunResult r;
  r.tool_version = "0.1.0";
  r.scenario_name = "chat";
  r.scenario_sha256 = std::string(64, 'a');
  r.target = "ws://127.0.0.1:8080/ws";
  r.profile_name = "local";
  r.profile_multiplier = 0.3;
  r.started_at = "2026-11-27T14:00:00Z";
  for (const auto& [name, ms] : samples) r.metrics[name].histogram = hist_of(ms);
  refresh_summaries(r);
  return r;
}

const MetricComparison& metric(const Comparison& c, const std::string& name) {
  for (const auto& m : c.metrics) {
    if (m.metric == name) return m;
  }
  FAIL("metric not compared: " << name);
  throw std::logic_error("unreachable");
}

Comparison compare(const std::vector<double>& current, const std::vector<double>& baseline,
                   const CompareOptions& opts = {}) {
  return compare_results(result_of({{"handshake", current}}), result_of({{"handshake", baseline}}),
                         opts, "base.json");
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool has_warning(const Comparison& c, const std::string& part) {
  for (const auto& w : c.warnings) {
    if (w.find(part) != std::string::npos) return true;
  }
  return false;
}

const std::vector<double> kBase = spread(40, 100, 110);

}  // namespace

TEST_CASE("the same samples are unchanged, never a regression") {
  const Comparison c = compare(kBase, kBase);
  CHECK(metric(c, "handshake").verdict == "unchanged");
  CHECK(metric(c, "handshake").gated);
  CHECK_FALSE(c.regressed);
  CHECK(c.baseline_file == "base.json");
}

TEST_CASE("tolerance: a clear, significant 8% slow-down passes, 12% regresses") {
  const Comparison within = compare(scaled(kBase, 1.08), kBase);
  CHECK(metric(within, "handshake").verdict == "unchanged");
  CHECK(metric(within, "handshake").reason.find("within the 10% tolerance") != std::string::npos);
  CHECK(metric(within, "handshake").p_value < 0.01);  // significant, yet too small to matter
  CHECK_FALSE(within.regressed);

  const Comparison beyond = compare(scaled(kBase, 1.12), kBase);
  const MetricComparison& m = metric(beyond, "handshake");
  CHECK(m.verdict == "regressed");
  CHECK(beyond.regressed);
  CHECK(m.delta_p50_pct == doctest::Approx(12).epsilon(0.1));
  CHECK(m.reason.find("p50 rose from") != std::string::npos);

  CompareOptions loose;
  loose.tolerance = 0.15;
  CHECK(metric(compare(scaled(kBase, 1.12), kBase, loose), "handshake").verdict == "unchanged");
}

TEST_CASE("noise floor: a big relative shift of a tiny latency needs an absolute one too") {
  const std::vector<double> base = spread(40, 2.0, 2.2);
  const Comparison small = compare(scaled(base, 1, 0.4), base);  // +20% but +0.4 ms
  CHECK(metric(small, "handshake").verdict == "unchanged");
  CHECK(metric(small, "handshake").reason.find("noise floor") != std::string::npos);

  CHECK(metric(compare(scaled(base, 1, 0.7), base), "handshake").verdict == "regressed");

  CompareOptions wide;
  wide.noise_floor_ms = 1.0;
  CHECK(metric(compare(scaled(base, 1, 0.7), base, wide), "handshake").verdict == "unchanged");
}

TEST_CASE("alpha: a shift beyond tolerance and floor must also be significant") {
  // Overlapping distributions: the median moves ~12% but the U test is not sure.
  const std::vector<double> base = spread(12, 100, 160);
  const std::vector<double> cur = scaled(base, 1, 15);
  const Comparison c = compare(cur, base);
  const MetricComparison& m = metric(c, "handshake");
  REQUIRE(m.p_value > 0.01);
  REQUIRE(m.p_value < 0.5);
  CHECK(m.verdict == "unchanged");
  CHECK(m.reason.find("not statistically significant") != std::string::npos);

  CompareOptions just_above;
  just_above.alpha = m.p_value * 1.01;
  CHECK(metric(compare(cur, base, just_above), "handshake").verdict == "regressed");
  CompareOptions just_below;
  just_below.alpha = m.p_value * 0.99;
  CHECK(metric(compare(cur, base, just_below), "handshake").verdict == "unchanged");
}

TEST_CASE("too few samples for the U test is inconclusive, said plainly, never a pass") {
  const Comparison c = compare({150, 151, 152}, kBase);
  const MetricComparison& m = metric(c, "handshake");
  CHECK(m.verdict == "inconclusive");
  CHECK(m.reason.find("only 3 samples on the current side; need ≥ 8 to decide") !=
        std::string::npos);
  CHECK_FALSE(c.regressed);
  CHECK(has_warning(c, "handshake: inconclusive"));

  // No shift worth testing: few samples do not matter then.
  CHECK(metric(compare({105, 105, 105}, kBase), "handshake").verdict == "unchanged");
}

TEST_CASE("improvements are reported") {
  const Comparison c = compare(scaled(kBase, 0.7), kBase);
  const MetricComparison& m = metric(c, "handshake");
  CHECK(m.verdict == "improved");
  CHECK(m.reason.find("p50 fell from") != std::string::npos);
  CHECK(m.delta_p50_ms < 0);
  CHECK_FALSE(c.regressed);
}

TEST_CASE("the p95 rule applies only once both sides hold at least 100 samples") {
  // Same median, much slower tail.
  CompareOptions lenient;
  lenient.alpha = 0.99;  // isolate the sample-count rule from significance
  const auto base99 = concat(repeated(80, 10), repeated(19, 12));
  const auto cur99 = concat(repeated(80, 10), repeated(19, 50));
  const MetricComparison small = metric(compare(cur99, base99, lenient), "handshake");
  CHECK(small.verdict == "unchanged");
  CHECK(small.current_p95 > 40);

  const auto base100 = concat(repeated(80, 10), repeated(20, 12));
  const auto cur100 = concat(repeated(80, 10), repeated(20, 50));
  const MetricComparison big = metric(compare(cur100, base100, lenient), "handshake");
  CHECK(big.verdict == "regressed");
  CHECK(big.reason.find("p95 rose from") != std::string::npos);

  // With enough samples the tail shift is significant at the default alpha too.
  const auto base_many = concat(repeated(4000, 10), repeated(1000, 12));
  const auto cur_many = concat(repeated(4000, 10), repeated(1000, 50));
  CHECK(metric(compare(cur_many, base_many), "handshake").verdict == "regressed");
}

TEST_CASE("gate: handshake, e2e, perceived and thresholded metrics - others inform only") {
  const auto slow = scaled(kBase, 1.5);
  RunResult cur = result_of({{"handshake", kBase}, {"tcp", slow}, {"rtt", slow}});
  const RunResult base = result_of({{"handshake", kBase}, {"tcp", kBase}, {"rtt", kBase}});
  ThresholdOutcome rtt;
  rtt.metric = "rtt";
  rtt.expr = "p95 < 1s";
  ThresholdOutcome errors;
  errors.metric = "errors";
  errors.expr = "rate < 1%";
  cur.thresholds = {rtt, errors};

  const Comparison c = compare_results(cur, base, {}, "base.json");
  CHECK(metric(c, "handshake").gated);
  CHECK(metric(c, "rtt").gated);
  CHECK(metric(c, "rtt").verdict == "regressed");
  CHECK_FALSE(metric(c, "tcp").gated);
  CHECK(metric(c, "tcp").verdict == "slower");  // reported, for information: never "regressed"
  CHECK(c.regressed);                           // because of rtt

  cur.thresholds.clear();
  CHECK_FALSE(compare_results(cur, base, {}, "base.json").regressed);  // tcp alone does not gate

  CompareOptions only_tcp;
  only_tcp.gate = {"tcp"};
  const Comparison chosen = compare_results(cur, base, only_tcp, "base.json");
  CHECK(metric(chosen, "tcp").gated);
  CHECK_FALSE(metric(chosen, "handshake").gated);
  CHECK(chosen.regressed);

  CompareOptions unknown;
  unknown.gate = {"latency"};
  CHECK(error_of([&] { compare_results(cur, base, unknown, "b.json"); }).find("'latency'") !=
        std::string::npos);
}

TEST_CASE("a different scenario version is an error unless forced") {
  const RunResult cur = result_of({{"handshake", kBase}});
  RunResult base = cur;
  base.scenario_sha256 = std::string(64, 'b');
  const std::string msg = error_of([&] { compare_results(cur, base, {}, "old.json"); });
  CHECK(msg.find("baseline old.json was recorded for a different version of scenario chat") !=
        std::string::npos);
  CHECK(msg.find("--save-baseline") != std::string::npos);
  CHECK(msg.find("--force") != std::string::npos);
  CHECK_THROWS_AS(compare_results(cur, base, {}, "old.json"), UsageError);

  CompareOptions force;
  force.force = true;
  const Comparison c = compare_results(cur, base, force, "old.json");
  CHECK(has_warning(c, "different version of scenario chat"));
  CHECK(metric(c, "handshake").verdict == "unchanged");
}

TEST_CASE("profile, target and tool version mismatches are warnings") {
  const RunResult cur = result_of({{"handshake", kBase}});
  CHECK(compare_results(cur, cur, {}, "b.json").warnings.empty());
  RunResult base = cur;
  base.profile_name = "staging";
  base.profile_multiplier = 0.7;
  base.target = "ws://10.0.0.1/ws";
  base.tool_version = "0.0.9";
  const Comparison c = compare_results(cur, base, {}, "b.json");
  CHECK(has_warning(c, "profile staging"));
  CHECK(has_warning(c, "ws://10.0.0.1/ws"));
  CHECK(has_warning(c, "wslat 0.0.9"));
  CHECK(c.baseline_tool_version == "0.0.9");
}

TEST_CASE("a watched metric on one side only is a warning, not a silent pass") {
  const RunResult cur = result_of({{"handshake", kBase}});
  const RunResult base = result_of({{"handshake", kBase}, {"e2e", kBase}});
  CHECK(has_warning(compare_results(cur, base, {}, "b.json"), "e2e: samples only in the baseline"));
}

TEST_CASE("repeated runs of an unchanged target are not flagged") {
  // Two independent draws from the same log-normal-ish distribution, for many seed pairs.
  auto draw = [](int n, std::uint64_t seed) {
    std::vector<double> v;
    std::uint64_t x = seed;
    for (int i = 0; i < n; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const double u = static_cast<double>(x >> 11) / 9007199254740992.0;
      v.push_back(5.0 * std::exp(0.5 * u) + (u > 0.97 ? 20.0 : 0.0));
    }
    return v;
  };
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    const Comparison c = compare(draw(500, seed), draw(500, seed + 1000));
    CHECK(metric(c, "handshake").verdict == "unchanged");
    CHECK_FALSE(c.regressed);
  }
}

TEST_CASE("p95: a few slow tail samples on a busy machine do not trip the gate") {
  // 200 samples; the current run has 12 (6%) stragglers at 2-3 ms: its point p95 jumps by
  // > 1.5 ms, but the p95's confidence bounds still overlap the baseline's.
  const std::vector<double> base = spread(200, 0.3, 0.5);
  const std::vector<double> cur = concat(spread(188, 0.3, 0.5), spread(12, 2.0, 3.0));
  const Comparison c = compare(cur, base);
  const MetricComparison& m = metric(c, "handshake");
  REQUIRE(m.current_p95 - m.baseline_p95 > 1.0);
  CHECK(m.verdict == "unchanged");
  CHECK(m.reason.find("confidence") != std::string::npos);
}

TEST_CASE("p95: a whole-distribution shift of +5 ms is a regression") {
  const std::vector<double> base = spread(200, 0.3, 0.5);
  const Comparison c = compare(scaled(base, 1, 5.0), base);
  CHECK(metric(c, "handshake").verdict == "regressed");
}
