// The self-saturation rule (lib/saturation.hpp): loop_lag p50 >= 1 ms and > 10% of the smaller
// of the handshake and rtt p50s warns; anything less, or nothing to compare with, does not.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "saturation.hpp"
#include "test_support.hpp"

namespace {

using wslat::MetricResult;
using wslat::saturation_warning;
using wslat::test::hist_of;

// Every value `ms` (100 samples), so each percentile is `ms` within the histogram's precision.
MetricResult flat(double ms) {
  const wslat::Histogram h = hist_of(std::vector<double>(100, ms));
  return MetricResult{wslat::summarize(h), h};
}

std::map<std::string, MetricResult> run_of(double lag_ms, double handshake_ms, double rtt_ms) {
  std::map<std::string, MetricResult> m;
  if (lag_ms >= 0) m["loop_lag"] = flat(lag_ms);
  if (handshake_ms >= 0) m["handshake"] = flat(handshake_ms);
  if (rtt_ms >= 0) m["rtt"] = flat(rtt_ms);
  return m;
}

}  // namespace

TEST_CASE("saturation rule: lag above 10% of the smaller p50 and above 1 ms warns") {
  // rtt p50 20 ms is the smaller reference: 2.5 ms of lag is 12.5% of it.
  const auto w = saturation_warning(run_of(2.5, 50, 20));
  REQUIRE(w.has_value());
  CHECK(w->find("wslat itself was saturated") != std::string::npos);
  CHECK(w->find("2.5ms late (loop_lag p50; p99 2.5ms)") != std::string::npos);
  CHECK(w->find("12% of the rtt p50 (20ms)") != std::string::npos);
  CHECK(w->find("--threads") != std::string::npos);
  CHECK(w->find("--shard") != std::string::npos);
  CHECK(w->find("machines") != std::string::npos);
  // Handshake alone (a scenario without send/expect) is the reference then.
  const auto hs = saturation_warning(run_of(6, 50, -1));
  REQUIRE(hs.has_value());
  CHECK(hs->find("12% of the handshake p50 (50ms)") != std::string::npos);
  // A lag larger than the latencies themselves says so in its percentage.
  const auto over = saturation_warning(run_of(40, 30, 10));
  REQUIRE(over.has_value());
  CHECK(over->find("40ms late") != std::string::npos);
  CHECK(over->find("400% of the rtt p50 (10ms)") != std::string::npos);
}

TEST_CASE("saturation rule: below the fraction, below the floor or nothing to compare: quiet") {
  CHECK_FALSE(saturation_warning(run_of(1.5, 50, 20)));   // 7.5% of rtt p50
  CHECK_FALSE(saturation_warning(run_of(4.0, 100, -1)));  // 4% of handshake p50
  // Loopback: 0.5 ms of lag is 500% of a 0.1 ms rtt, but below the 1 ms floor.
  CHECK_FALSE(saturation_warning(run_of(0.5, 0.2, 0.1)));
  CHECK_FALSE(saturation_warning(run_of(0.99, 0.2, 0.1)));
  CHECK(saturation_warning(run_of(1.05, 0.2, 0.1)).has_value());
  // No loop_lag (a result written before it existed, or a run shorter than one tick).
  CHECK_FALSE(saturation_warning(run_of(-1, 0.2, 0.1)));
  // No handshake or rtt (every connection failed): nothing the lag could distort is measured.
  CHECK_FALSE(saturation_warning(run_of(50, -1, -1)));
}

TEST_CASE("saturation rule: a few late ticks (the scheduler's time slices) are not saturation") {
  // A loaded machine: 3 of 20 ticks 4 ms late, the rest on time; loopback latencies.
  std::vector<double> lag(17, 0.04);
  lag.insert(lag.end(), {4.0, 4.0, 4.0});
  std::map<std::string, MetricResult> m = run_of(-1, 0.2, 0.03);
  const wslat::Histogram h = hist_of(lag);
  m["loop_lag"] = MetricResult{wslat::summarize(h), h};
  CHECK(m["loop_lag"].summary.p99 >= 4.0);
  CHECK_FALSE(saturation_warning(m));
}
