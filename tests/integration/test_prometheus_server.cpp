// A real Prometheus (Debian package prometheus, started here on a loopback port) scrapes
// `wslat monitor`, and PromQL's histogram_quantile(0.5, ...) over the scraped buckets agrees
// with wslat's own p50 of the same probes within the bucket resolution (docs/monitoring.md:
// buckets at most 10% wide). "peer": skipped with a message when prometheus is not installed.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"
#include "histogram.hpp"
#include "prometheus_text.hpp"
#include "result.hpp"
#include "third_party.hpp"

namespace {

using nlohmann::json;
using wslat::test::body_of;
using wslat::test::Child;
using wslat::test::http_get;

constexpr const char* kPrometheus = "/usr/bin/prometheus";

std::string url_encode(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The value of a one-series instant query at Unix time `at`; nullopt when the result is empty.
std::optional<double> query(int port, const std::string& promql, double at) {
  const std::string body = body_of(
      http_get(port, "/api/v1/query?query=" + url_encode(promql) + "&time=" + std::to_string(at)));
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return std::nullopt;
  const json& result = j["data"]["result"];
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// wslat's own p50 (seconds) of `metric` over the first `n` stored probes, oldest first.
double stored_p50(const std::string& runs_dir, std::size_t n, const std::string& metric) {
  std::vector<std::string> files = wslat::test::files_under(runs_dir);
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= n);
  wslat::Histogram all;
  for (std::size_t i = 0; i < n; ++i) {
    const auto r = wslat::result_from_json(json::parse(wslat::test::read_file(files[i])));
    all.add(r.metrics.at(metric).histogram);
  }
  return static_cast<double>(all.value_at_percentile(50)) / 1e9;
}

}  // namespace

TEST_CASE("prometheus scrapes wslat monitor: histogram_quantile(0.5) agrees with wslat's p50" *
          doctest::test_suite("peer")) {
  if (::access(kPrometheus, X_OK) != 0) {
    MESSAGE("skipped: " << kPrometheus << " is not installed (Debian package prometheus)");
    return;
  }
  // Echoes after 20 to 40 ms: e2e spreads over several buckets.
  auto server = wslat::test::start_serve({"--echo-delay", "20ms", "--jitter", "20ms"});
  const std::string dir = wslat::test::temp_dir() + "/promserver";
  std::filesystem::create_directories(dir);
  Child monitor({"monitor", wslat::test::echo_scenario_file("promql", server.url(), 4), "--every",
                 "100ms", "--listen", "127.0.0.1:0", "--save", "--results-dir", dir + "/results",
                 "-q", "--for", "120s"});
  monitor.pump_until([&] { return monitor.out().find("/metrics") != std::string::npos; }, 20000);
  const auto at = monitor.out().find("127.0.0.1:");
  REQUIRE(at != std::string::npos);
  const std::string monitor_address = monitor.out().substr(at, monitor.out().find('/', at) - at);

  const int port = wslat::test::pick_free_port("127.0.0.1");
  const std::string config =
      wslat::test::write_temp_file("prometheus.yml",
                                   "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n"
                                   "scrape_configs:\n  - job_name: wslat\n    static_configs:\n"
                                   "      - targets: ['" +
                                       monitor_address + "']\n");
  wslat::test::Daemon prometheus(
      {kPrometheus, "--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
      dir + "/prometheus.log");

  // Wait (bounded, about 90 s) until Prometheus has scraped at least 10 probes.
  const std::string p50_query =
      R"(histogram_quantile(0.5, sum by (le) (wslat_phase_duration_seconds_bucket{phase="e2e"})))";
  double when = 0, probes = 0;
  for (int i = 0; i < 900 && probes < 10; ++i) {
    monitor.pump(100);
    when = unix_now() - 0.5;  // a moment ago: both queries see the same scrape
    probes = query(port, "wslat_probes_total", when).value_or(0);
  }
  INFO("prometheus log: " << wslat::test::read_file(dir + "/prometheus.log"));
  REQUIRE(probes >= 10);
  const auto promql_p50 = query(port, p50_query, when);
  REQUIRE(promql_p50.has_value());
  monitor.signal(SIGTERM);
  CHECK(monitor.wait(20000) == 0);

  const double wslat_p50 =
      stored_p50(dir + "/results/runs/promql", static_cast<std::size_t>(probes), "e2e");
  MESSAGE("e2e p50 over " << probes << " probes: PromQL " << *promql_p50 * 1e3 << " ms, wslat "
                          << wslat_p50 * 1e3 << " ms");
  CHECK(wslat_p50 > 0.019);
  // Linear interpolation inside a bucket at most 10% wide, plus the 0.4% of re-bucketing.
  CHECK(std::fabs(*promql_p50 - wslat_p50) <= 0.105 * wslat_p50);
}
