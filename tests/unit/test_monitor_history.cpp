// The dashboard's data (lib/monitor_history.hpp): the last hour of probes, bounded, with each
// phase's p50/p95, the verdict, the latest errors and the last thresholds.
#include <doctest/doctest.h>

#include "monitor_history.hpp"
#include "report_fixture.hpp"

TEST_CASE("probe history keeps the window, the phases' p50/p95 and the latest errors") {
  wslat::ProbeHistory h(/*window_s=*/100, /*max_samples=*/50, /*max_errors=*/3);
  const auto probe = wslat::test::fixture_result();  // errors: close.1011, http.502
  for (int i = 0; i < 80; ++i) h.add(probe, 1000.0 + i);
  const auto j = h.to_json(1.0);
  CHECK(j["samples"].size() == 50);  // max_samples
  CHECK(j["samples"][0]["t"] == 1030.0);
  CHECK(j["probes"] == 80);
  CHECK(j["scenario"] == probe.scenario_name);
  const auto& hs = j["samples"][49]["phases"]["handshake"];
  CHECK(hs[0].get<double>() ==
        doctest::Approx(
            static_cast<double>(probe.metrics.at("handshake").histogram.value_at_percentile(50)) /
            1e6));
  CHECK(hs[1].get<double>() >= hs[0].get<double>());
  CHECK(j["samples"][49]["ok"] == false);  // 3 failed connections
  CHECK(j["phases"][0] != "");
  // The same errors probe after probe are one entry per category for the whole run of probes.
  REQUIRE(j["errors"].size() == 2);
  CHECK(j["errors"][0]["t"] == 1000.0);
  CHECK(j["errors"][0]["t_last"] == 1079.0);
  CHECK(j["errors"][0]["probes"] == 80);
  CHECK(j["errors"][0]["category"] == probe.errors.rbegin()->first);
  CHECK(j["errors"][0]["count"] == 80 * probe.errors.rbegin()->second);
  CHECK(j["thresholds"].size() == probe.thresholds.size());
  CHECK(j["thresholds"][0]["unit"] == "ms");
  // The time window: a probe 200 s later leaves only itself.
  h.add(probe, 1300.0);
  CHECK(h.size() == 1);
  // A passing probe ends the run: the errors after it are new entries; at most max_errors.
  wslat::RunResult ok;
  ok.attempted = ok.opened = 1;
  h.add(ok, 1301.0);
  h.add(probe, 1302.0);
  const auto k = h.to_json(1.0);
  REQUIRE(k["errors"].size() == 3);
  CHECK(k["errors"][0]["t"] == 1302.0);
  CHECK(k["errors"][0]["probes"] == 1);
  CHECK(k["errors"][2]["t_last"] == 1300.0);
}
