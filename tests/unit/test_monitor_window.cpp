// `wslat monitor --window`: each phase's p50/p95 over the probes of the last D (lib/
// monitor_window.hpp), and a monitor's several targets rendered as one exposition.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "monitor_window.hpp"
#include "prometheus.hpp"

namespace {

// A probe whose handshakes took `ms` each, `n` connections.
wslat::RunResult probe_of(double ms, int n, bool ok = true) {
  wslat::RunResult r;
  r.scenario_name = "w";
  r.attempted = n;
  r.opened = ok ? n : 0;
  r.failed = ok ? 0 : n;
  for (int i = 0; i < n && ok; ++i) {
    r.metrics["handshake"].histogram.record(
        std::chrono::nanoseconds(static_cast<std::int64_t>(ms * 1e6)));
  }
  return r;
}

}  // namespace

TEST_CASE("rolling window quantiles cover only the probes of the last D") {
  wslat::RollingWindow w(/*window_s=*/60);
  // 60 s of fast probes (10 ms), then 30 s of slow ones (100 ms), one a second.
  for (int i = 0; i < 60; ++i) w.add(probe_of(10, 2), 1000.0 + i);
  auto p = w.phases();
  REQUIRE(p.count("handshake") == 1);
  CHECK(p["handshake"].count == 120);
  CHECK(p["handshake"].p50_s == doctest::Approx(0.010).epsilon(0.01));
  CHECK(p["handshake"].p95_s == doctest::Approx(0.010).epsilon(0.01));
  for (int i = 60; i < 90; ++i) w.add(probe_of(100, 2), 1000.0 + i);
  // The window (60 s back from the newest, t=1089) holds t=1030..1089: 30 fast, 30 slow.
  CHECK(w.probes() == 60);
  p = w.phases();
  CHECK(p["handshake"].count == 120);
  CHECK(p["handshake"].p50_s == doctest::Approx(0.010).epsilon(0.01));  // rank 60 of 120
  CHECK(p["handshake"].p95_s == doctest::Approx(0.100).epsilon(0.01));
  // A failed probe counts as a probe, with no phases; the window moves past the fast ones.
  for (int i = 90; i < 130; ++i) w.add(probe_of(0, 2, false), 1000.0 + i);
  CHECK(w.failed_probes() == 40);
  p = w.phases();
  CHECK(p["handshake"].count == 2 * 20);  // t=1070..1089
  CHECK(p["handshake"].p50_s == doctest::Approx(0.100).epsilon(0.01));
  // Bounded by max_probes as well.
  wslat::RollingWindow small(/*window_s=*/3600, /*max_probes=*/5);
  for (int i = 0; i < 50; ++i) small.add(probe_of(1, 1), 1000.0 + i);
  CHECK(small.probes() == 5);
}

TEST_CASE(
    "a monitor's targets render as one exposition: each family once, every target's samples") {
  wslat::RollingWindow w(60);
  w.add(probe_of(10, 2), 1000);
  wslat::ProbeStats stats;
  stats.probes = 1;
  auto a = probe_of(10, 2);
  a.target = "ws://a/";
  auto b = probe_of(20, 2);
  b.target = "ws://b/";
  const std::string merged = wslat::merge_prometheus_expositions(
      {wslat::render_prometheus(a, stats, &w), wslat::render_prometheus(b, stats, &w)});
  const auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = merged.find(what); at != std::string::npos; at = merged.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count("# TYPE wslat_phase_duration_seconds histogram\n") == 1);
  CHECK(count("# HELP wslat_probes_total ") == 1);
  CHECK(count("wslat_probes_total{scenario=\"w\",target=\"ws://a/\"") == 1);
  CHECK(count("wslat_probes_total{scenario=\"w\",target=\"ws://b/\"") == 1);
  // The samples of a family follow its TYPE line, both targets' before the next family.
  const auto type = merged.find("# TYPE wslat_probes_total counter\n");
  const auto next = merged.find("# HELP", type);
  CHECK(merged.find("wslat_probes_total{scenario=\"w\",target=\"ws://b/\"", type) < next);
  const std::string line =
      "wslat_window_phase_p95_seconds{scenario=\"w\",target=\"ws://a/\",profile=\"\","
      "phase=\"handshake\"} ";
  const auto at = merged.find(line);
  REQUIRE(at != std::string::npos);
  CHECK(std::strtod(merged.c_str() + at + line.size(), nullptr) ==
        doctest::Approx(0.010).epsilon(0.01));  // 10 ms, within wslat's bucket precision
  CHECK(count("wslat_window_probes{") == 2);
}
