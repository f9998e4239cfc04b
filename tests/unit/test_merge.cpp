// Shard results merge exactly: the merged result equals one run over the union of samples.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "assemble.hpp"
#include "baseline.hpp"
#include "error.hpp"
#include "test_support.hpp"

using namespace wslat;

namespace {

// Deterministic pseudo-random latencies (ms), log-spread between ~0.3 and ~300 ms.
std::vector<double> samples(int n, unsigned seed) {
  std::vector<double> v;
  std::uint64_t x = seed * 2654435761u + 1;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(x >> 11) / 9007199254740992.0;
    v.push_back(0.3 * std::pow(1000.0, u));
  }
  return v;
}

using wslat::test::hist_of;

double exact_percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(rank, 1) - 1];
}

ThresholdOutcome outcome(const std::string& metric, const std::string& expr) {
  ThresholdOutcome t;
  t.metric = metric;
  t.expr = expr;
  t.pass = true;
  return t;
}

RunResult shard(int i, const std::vector<double>& handshake) {
  RunResult r;
  r.tool_version = "0.1.0";
  r.scenario_name = "chat";
  r.scenario_sha256 = std::string(64, 'a');
  r.target = "ws://127.0.0.1:8080/ws";
  r.profile_name = "production";
  r.profile_multiplier = 1.0;
  r.started_at = "2026-11-27T14:00:0" + std::to_string(4 - i) + "Z";
  r.duration_ms = 1000.0 + i;
  r.host = "node-" + std::to_string(i);
  r.attempted = static_cast<std::int64_t>(handshake.size()) + 2;
  r.opened = static_cast<std::int64_t>(handshake.size());
  r.failed = 2;
  r.errors = {{"close.1011", 2}};
  r.metrics["handshake"].histogram = hist_of(handshake);
  r.thresholds = {outcome("handshake", "p95 < 3s"), outcome("errors", "count < 5")};
  r.load.achieved_rate = 10;
  r.load.concurrency = 5;
  r.shard = std::to_string(i + 1) + "/4";
  for (int k = 0; k < 1500; ++k) r.timeline.push_back({k * 4.0 + i, {1, 2, 3}, true});
  refresh_summaries(r);
  return r;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("merging 4 shards equals one run over the union of their samples") {
  std::vector<RunResult> parts;
  std::vector<double> all;
  for (int i = 0; i < 4; ++i) {
    const auto s = samples(1000 + 37 * i, static_cast<unsigned>(i + 1));
    all.insert(all.end(), s.begin(), s.end());
    parts.push_back(shard(i, s));
  }
  const RunResult m = merge_results(parts);
  const MetricResult& h = m.metrics.at("handshake");
  CHECK(h.histogram == hist_of(all));
  CHECK(h.summary.count == static_cast<std::int64_t>(all.size()));
  for (double p : {50.0, 95.0, 99.0}) {
    CAPTURE(p);
    CHECK(static_cast<double>(h.histogram.value_at_percentile(p)) / 1e6 ==
          doctest::Approx(exact_percentile(all, p)).epsilon(0.01));
  }
  CHECK(h.summary.p95 == doctest::Approx(exact_percentile(all, 95)).epsilon(0.01));
  CHECK(m.attempted == static_cast<std::int64_t>(all.size()) + 8);
  CHECK(m.failed == 8);
  CHECK(m.errors.at("close.1011") == 8);
  CHECK(m.started_at == "2026-11-27T14:00:01Z");  // the earliest
  // The wall span: shard 1/4 starts 3 s after the earliest (4/4) and runs 1000 ms.
  CHECK(m.duration_ms == 4000.0);
  CHECK(m.shards == 4);
  CHECK(m.load.achieved_rate == 40);
  CHECK(m.load.concurrency == 20);
  CHECK(m.host == "node-0,node-1,node-2,node-3");
}

TEST_CASE("start times are read in 1970-2261 with every field in range, and round-trip") {
  const auto t = parse_utc_timestamp("2026-11-27T14:00:01.250Z");
  REQUIRE(t);
  CHECK(utc_timestamp(*t) == "2026-11-27T14:00:01.250Z");
  CHECK(parse_utc_timestamp("2261-12-31T23:59:59Z"));
  CHECK(parse_utc_timestamp("1970-01-01T00:00:00Z"));
  // Found by fuzz_result: year 4052 overflowed system_clock's 64-bit nanoseconds (UBSan).
  for (const char* bad : {"4052-11-27T14:00:01Z", "2262-04-12T00:00:00Z", "1969-12-31T23:59:59Z",
                          "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z",
                          "2026-11-32T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T14:60:00Z",
                          "2026-11-27T14:00:61Z", "2026-11-27T-1:00:00Z", "2026-11-27T14:00:00",
                          "2026-11-27T14:00:00.12Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_utc_timestamp(bad));
  }
}

TEST_CASE("a shard whose start is not a readable time leaves the timelines unshifted") {
  std::vector<RunResult> parts{shard(0, samples(10, 1)), shard(1, samples(10, 2))};
  parts[1].started_at = "9999-01-01T00:00:00Z";
  const RunResult m = merge_results(parts);
  CHECK(m.duration_ms == 1001.0);  // the longest shard, no offset
  CHECK(m.started_at == "2026-11-27T14:00:04Z");
}

TEST_CASE("merged thresholds are re-evaluated on the merged data") {
  std::vector<RunResult> parts;
  for (int i = 0; i < 4; ++i) parts.push_back(shard(i, samples(200, static_cast<unsigned>(i))));
  const RunResult m = merge_results(parts);
  REQUIRE(m.thresholds.size() == 2);
  const auto& hs = m.thresholds[0].metric == "handshake" ? m.thresholds[0] : m.thresholds[1];
  const auto& errs = m.thresholds[0].metric == "errors" ? m.thresholds[0] : m.thresholds[1];
  REQUIRE(hs.actual.has_value());
  CHECK(*hs.actual == doctest::Approx(m.metrics.at("handshake").summary.p95));
  CHECK(hs.pass);
  // Each shard had 2 failed connections (count < 5 held); together they have 8.
  CHECK(*errs.actual == 8);
  CHECK_FALSE(errs.pass);
  CHECK(m.verdict == "fail");
  CHECK(m.exit_code == 1);
}

TEST_CASE("the merged timeline is in time order and at most 5000 points") {
  std::vector<RunResult> parts;
  for (int i = 0; i < 4; ++i) parts.push_back(shard(i, samples(10, 1)));
  const RunResult m = merge_results(parts);
  CHECK(m.timeline.size() == 5000);
  CHECK(std::is_sorted(
      m.timeline.begin(), m.timeline.end(),
      [](const TimelinePoint& a, const TimelinePoint& b) { return a.t_ms < b.t_ms; }));
  CHECK(m.timeline.back().t_ms > 5900);  // decimated evenly, not truncated
  // Each shard's points moved by its start's offset: shard 1/4 started 3 s after 4/4, so
  // its last point (5996 ms into its own run) sits near 8996 ms of the merged run.
  CHECK(m.timeline.back().t_ms > 8900);
  CHECK(m.timeline.front().t_ms < 10);
}

TEST_CASE("merge refuses results of different scenarios and a shard given twice") {
  const RunResult a = shard(0, samples(10, 1));
  RunResult other = shard(1, samples(10, 2));
  other.scenario_name = "smoke";
  std::string msg = error_of([&] { merge_results({a, other}, {"a.json", "b.json"}); });
  CHECK(msg.find("cannot merge b.json (scenario smoke") != std::string::npos);
  CHECK(msg.find("a.json (scenario chat") != std::string::npos);

  RunResult edited = shard(1, samples(10, 2));
  edited.scenario_sha256 = std::string(64, 'c');
  CHECK_THROWS_AS(merge_results({a, edited}), UsageError);

  const RunResult again = shard(0, samples(10, 3));
  msg = error_of([&] { merge_results({a, again}, {"a.json", "a-copy.json"}); });
  CHECK(msg.find("a.json and a-copy.json are both shard 1/4") != std::string::npos);

  CHECK_THROWS_AS(merge_results({}), UsageError);
}

namespace {
Counter counter_of(const std::vector<std::int64_t>& per_connection) {
  Counter c;
  for (std::int64_t n : per_connection) {
    c.total += n;
    c.add_connection(n);
  }
  return c;
}
}  // namespace

TEST_CASE("counters round-trip through result JSON and add up when shards merge") {
  const std::vector<std::vector<std::int64_t>> sent = {{10, 10, 3}, {7}, {}, {12, 1}};
  std::vector<RunResult> parts;
  for (int i = 0; i < 4; ++i) {
    RunResult r = shard(i, samples(100, static_cast<unsigned>(i + 1)));
    r.counters["msgs_sent"] = counter_of(sent[static_cast<std::size_t>(i)]);
    r.counters["bytes_sent"] = counter_of({100 * i + 1});
    const RunResult back = result_from_json(nlohmann::json::parse(to_json(r).dump()));
    CHECK(back.counters == r.counters);
    parts.push_back(back);
  }
  const RunResult m = merge_results(parts);
  const Counter& msgs = m.counters.at("msgs_sent");
  CHECK(msgs.total == 43);
  CHECK(msgs.connections == 6);
  CHECK(msgs.min == 1);  // the shard with no connection does not make it 0
  CHECK(msgs.max == 12);
  CHECK(msgs.mean() == doctest::Approx(43.0 / 6));
  CHECK(m.counters.at("bytes_sent").total == 1 + 101 + 201 + 301);
  const nlohmann::json j = to_json(m)["counters"]["msgs_sent"];
  CHECK(j["total"] == 43);
  CHECK(j["per_connection"]["connections"] == 6);
  CHECK(j["per_connection"]["min"] == 1);
  CHECK(j["per_connection"]["max"] == 12);

  // A result older than counters loads (no counters) and merges with one that has them.
  nlohmann::json old = to_json(parts[0]);
  old.erase("counters");
  const RunResult old_result = result_from_json(old);
  CHECK(old_result.counters.empty());
  const RunResult mixed = merge_results({old_result, parts[1]});
  CHECK(mixed.counters.at("msgs_sent") == parts[1].counters.at("msgs_sent"));
}

TEST_CASE("result_from_json rejects a counter whose mean is outside min and max") {
  RunResult r = shard(0, samples(10, 1));
  r.counters["msgs_sent"] = counter_of({2, 4});
  nlohmann::json j = to_json(r);
  j["counters"]["msgs_sent"]["per_connection"]["mean"] = 9.0;
  CHECK_THROWS_WITH_AS(result_from_json(j),
                       doctest::Contains("/counters/msgs_sent/per_connection/mean"),
                       std::invalid_argument);
  j["counters"]["msgs_sent"]["per_connection"].erase("min");
  CHECK_THROWS_WITH_AS(result_from_json(j), doctest::Contains("min"), std::invalid_argument);
}

TEST_CASE("negotiated subprotocols survive the JSON round trip and add up in a merge") {
  std::vector<RunResult> parts;
  for (int i = 0; i < 2; ++i) {
    RunResult p = shard(i, samples(10, static_cast<unsigned>(i + 1)));
    p.negotiated.offered = {"chat.v1", "chat.v2"};
    p.negotiated.subprotocols = {{"chat.v1", 3}, {"", 1 + i}};
    p.negotiated.extensions = {{"", 4 + i}};
    parts.push_back(result_from_json(to_json(p)));
  }
  CHECK(parts[1].negotiated.subprotocols.at("") == 2);
  const RunResult m = merge_results(parts);
  CHECK(m.negotiated.offered == std::vector<std::string>{"chat.v1", "chat.v2"});
  CHECK(m.negotiated.subprotocols.at("chat.v1") == 6);
  CHECK(m.negotiated.subprotocols.at("") == 3);
  CHECK(m.negotiated.extensions.at("") == 9);
  const auto warnings = subprotocol_warnings(m.negotiated);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("on 3 of 9 upgrades") != std::string::npos);
}

TEST_CASE("the permessage-deflate offer survives the JSON round trip - declines are a warning") {
  RunResult p = shard(0, samples(10, 1));
  CHECK(to_json(p)["negotiated"].is_null());  // nothing offered, nothing answered: absent
  p.negotiated.extensions = {{"permessage-deflate; client_max_window_bits=12", 3}, {"", 2}};
  CHECK_FALSE(to_json(p)["negotiated"].contains("offered_extensions"));  // not offered
  CHECK(extension_warnings(p.negotiated).empty());
  p.negotiated.offered_extensions = "permessage-deflate; client_max_window_bits";
  const RunResult back = result_from_json(to_json(p));
  CHECK(back.negotiated.offered_extensions == p.negotiated.offered_extensions);
  const auto warnings = extension_warnings(back.negotiated);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("declined permessage-deflate on 2 of 5 upgrades") != std::string::npos);
  p.negotiated.extensions.erase("");
  CHECK(extension_warnings(p.negotiated).empty());  // every upgrade accepted it
}
