// `wslat run --export-prometheus` / `--format prometheus` end to end (the textfile-collector
// format, docs/monitoring.md), and Prometheus' own `promtool check metrics` on it ("peer":
// skipped with a message when promtool is not installed; CI installs it).
#include <doctest/doctest.h>

#include "harness.hpp"
#include "prometheus_text.hpp"

namespace {

using wslat::test::echo_scenario_file;
using wslat::test::prom_sample;
using wslat::test::run_wslat;
using wslat::test::start_serve;

}  // namespace

TEST_CASE("run --export-prometheus writes histograms, counters and thresholds of the run") {
  auto server = start_serve();
  const std::string file = wslat::test::temp_dir() + "/run.prom";
  const auto r = run_wslat({"run", echo_scenario_file("prom-export", server.url(), 4), "--env",
                            "production", "--no-save", "-q", "--export-prometheus", file});
  REQUIRE(r.exit_code == 0);
  const std::string text = wslat::test::read_file(file);
  const std::string labels =
      R"({scenario="prom-export",target=")" + server.url() + R"(",profile="production")";
  CHECK(prom_sample(text,
                    "wslat_phase_duration_seconds_count" + labels + R"(,phase="handshake"})") == 4);
  CHECK(prom_sample(text, "wslat_phase_duration_seconds_bucket" + labels +
                              R"(,phase="handshake",le="+Inf"})") == 4);
  CHECK(prom_sample(text, "wslat_connections_opened_total" + labels) == 4);
  CHECK(prom_sample(text, "wslat_msgs_sent_total" + labels) == 4);
  CHECK(prom_sample(text, "wslat_bytes_received_total" + labels) == 20);
  CHECK(prom_sample(text, "wslat_threshold_pass" + labels + R"(,metric="handshake")") == 1);
  CHECK(prom_sample(text, "wslat_run_exit_code" + labels) == 0);
  // --format prometheus puts the same on stdout.
  const auto out = run_wslat({"run", echo_scenario_file("prom-stdout", server.url(), 1),
                              "--no-save", "-q", "--format", "prometheus"});
  CHECK(out.exit_code == 0);
  CHECK(out.out.rfind("# HELP wslat_phase_duration_seconds ", 0) == 0);
}

TEST_CASE("promtool check metrics accepts --export-prometheus" * doctest::test_suite("peer")) {
  if (!wslat::test::have_promtool()) {
    MESSAGE("skipped: " << wslat::test::kPromtool
                        << " is not installed (Debian package prometheus)");
    return;
  }
  auto server = start_serve({"--close-after-open", "1011"});
  const std::string file = wslat::test::temp_dir() + "/checked.prom";
  // Errors too: some connections are closed with 1011, a category with a dot in the label.
  const auto r = run_wslat({"run", echo_scenario_file("prom-check", server.url(), 3), "--no-save",
                            "-q", "--export-prometheus", file});
  CHECK(r.exit_code != 64);
  const std::string text = wslat::test::read_file(file);
  CHECK(text.find("wslat_errors_total{") != std::string::npos);
  CHECK(wslat::test::promtool_problems(text) == "");
}
