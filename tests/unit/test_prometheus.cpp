// The Prometheus exposition (lib/prometheus.hpp): the classic bucket layout docs/monitoring.md
// promises, the re-bucketing of wslat's histograms, and the rendered families and labels.
#include <doctest/doctest.h>

#include <sstream>

#include "prometheus.hpp"
#include "report.hpp"
#include "report_fixture.hpp"

namespace {

using wslat::test::fixture_result;

std::int64_t ms_ns(double ms) { return static_cast<std::int64_t>(ms * 1e6); }

// The value of the one line starting with `prefix` (a metric name and its labels).
std::string value_of(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line, found;
  int matches = 0;
  while (std::getline(in, line)) {
    if (line.rfind(prefix + " ", 0) == 0) {
      found = line.substr(prefix.size() + 1);
      ++matches;
    }
  }
  return matches == 1 ? found : "<" + std::to_string(matches) + " matches>";
}

}  // namespace

TEST_CASE("prometheus buckets run from 10us to 60s and are at most 10% wide") {
  const auto& b = wslat::prometheus_bucket_bounds_ns();
  REQUIRE(b.size() == 224);  // 33 a decade: 6 decades from 10 us, then 10 s .. 60 s
  CHECK(b.front() == 10'000);
  CHECK(b.back() == 60'000'000'000);
  for (std::size_t i = 1; i < b.size(); ++i) {
    CHECK(b[i] > b[i - 1]);
    CHECK(static_cast<double>(b[i]) <= 1.1 * static_cast<double>(b[i - 1]) + 1e-9);
  }
}

TEST_CASE("prometheus seconds are exact decimals without an exponent") {
  CHECK(wslat::prometheus_seconds(10'000) == "0.00001");
  CHECK(wslat::prometheus_seconds(110'000) == "0.00011");
  CHECK(wslat::prometheus_seconds(1'500'000'000) == "1.5");
  CHECK(wslat::prometheus_seconds(60'000'000'000) == "60");
  CHECK(wslat::prometheus_seconds(0) == "0");
}

TEST_CASE("prometheus cumulative buckets place each sample under its first bound") {
  wslat::Histogram h;
  h.record_ns(ms_ns(1.05));  // between 1 ms and 1.1 ms
  h.record_ns(ms_ns(1.05));
  h.record_ns(ms_ns(47));       // between 44 ms and 48 ms
  h.record_ns(ms_ns(0.005));    // 5 us: below the first bound
  h.record_ns(ms_ns(120'000));  // 2 min: only in +Inf
  h.record_ns(5);               // 5 ns: the lowest wslat bucket
  const auto& b = wslat::prometheus_bucket_bounds_ns();
  const auto c = wslat::prometheus_cumulative_buckets(h);
  REQUIRE(c.size() == b.size());
  const auto at = [&](std::int64_t bound) {
    for (std::size_t i = 0; i < b.size(); ++i) {
      if (b[i] == bound) return c[i];
    }
    FAIL("no bound " << bound);
    return std::int64_t{-1};
  };
  CHECK(at(10'000) == 2);  // 5 us and 5 ns
  CHECK(at(1'000'000) == 2);
  CHECK(at(1'100'000) == 4);
  CHECK(at(44'000'000) == 4);
  CHECK(at(48'000'000) == 5);
  CHECK(c.back() == 5);
  CHECK(h.count() == 6);
}

TEST_CASE("prometheus exposition of a result: histograms, counters, thresholds, labels") {
  auto r = fixture_result();
  r.scenario_name = "chat \"golden\"\\path\nx";
  const std::string text = wslat::render(r, wslat::ReportFormat::kPrometheus);
  const std::string labels =
      R"(scenario="chat \"golden\"\\path\nx",target="ws://127.0.0.1:8080/ws",profile="local")";
  CHECK(text.find("# TYPE wslat_phase_duration_seconds histogram\n") != std::string::npos);
  const auto& hs = r.metrics.at("handshake").histogram;
  CHECK(value_of(text, "wslat_phase_duration_seconds_count{" + labels + ",phase=\"handshake\"}") ==
        std::to_string(hs.count()));
  CHECK(value_of(text, "wslat_phase_duration_seconds_bucket{" + labels +
                           ",phase=\"handshake\",le=\"+Inf\"}") == std::to_string(hs.count()));
  // The fixture's handshakes are 0.42 .. 1.67 ms: none under 0.4 ms, all under 2 ms.
  CHECK(value_of(text, "wslat_phase_duration_seconds_bucket{" + labels +
                           ",phase=\"handshake\",le=\"0.0004\"}") == "0");
  CHECK(value_of(text, "wslat_phase_duration_seconds_bucket{" + labels +
                           ",phase=\"handshake\",le=\"0.002\"}") == std::to_string(hs.count()));
  CHECK(value_of(text, "wslat_connections_attempted_total{" + labels + "}") == "200");
  CHECK(value_of(text, "wslat_connections_failed_total{" + labels + "}") == "3");
  CHECK(value_of(text, "wslat_errors_total{" + labels + ",category=\"close.1011\"}") == "2");
  CHECK(value_of(text, "wslat_errors_total{" + labels + ",category=\"http.502\"}") == "1");
  CHECK(value_of(text, "wslat_msgs_sent_total{" + labels + "}") == "1970");
  CHECK(value_of(text, "wslat_bytes_received_total{" + labels + "}") == "124800");
  CHECK(value_of(text, "wslat_threshold_pass{" + labels +
                           R"(,metric="handshake",threshold="p95 < 3s"})") == "1");
  CHECK(value_of(text, "wslat_threshold_pass{" + labels +
                           R"(,metric="e2e",threshold="p95 < 1s"})") == "0");
  CHECK(value_of(text, "wslat_run_start_timestamp_seconds{" + labels + "}") == "1795788000");
  CHECK(value_of(text, "wslat_run_exit_code{" + labels + "}") == std::to_string(r.exit_code));
  CHECK(text.find("wslat_probe") == std::string::npos);
}

TEST_CASE("prometheus exposition of a monitor adds the probe metrics instead of the run's") {
  wslat::ProbeStats p;
  p.probes = 7;
  p.failed_probes = 2;
  p.last_success = true;
  p.last_probe_unix_s = 1795788000.5;
  p.last_probe_duration_s = 0.25;
  const std::string text = wslat::render_prometheus(fixture_result(), p);
  const std::string labels =
      R"(scenario="chat-golden-path",target="ws://127.0.0.1:8080/ws",profile="local")";
  CHECK(value_of(text, "wslat_probes_total{" + labels + "}") == "7");
  CHECK(value_of(text, "wslat_probes_failed_total{" + labels + "}") == "2");
  CHECK(value_of(text, "wslat_probe_success{" + labels + "}") == "1");
  CHECK(value_of(text, "wslat_last_probe_timestamp_seconds{" + labels + "}") == "1795788000.5");
  CHECK(value_of(text, "wslat_probe_duration_seconds{" + labels + "}") == "0.25");
  CHECK(text.find("wslat_run_exit_code") == std::string::npos);
}

TEST_CASE("prometheus exposition renders step metrics with a dot and counters it does not know") {
  auto r = fixture_result();
  r.metrics["rtt.chat_reply"] = r.metrics.at("handshake");
  r.counters["rule_matches"] = r.counters.at("msgs_sent");
  r.counters["ws.frames-in"] = r.counters.at("msgs_sent");
  r.counters["new\ncounter\\"] = r.counters.at("msgs_sent");
  const std::string text = wslat::render(r, wslat::ReportFormat::kPrometheus);
  const std::string labels =
      R"(scenario="chat-golden-path",target="ws://127.0.0.1:8080/ws",profile="local")";
  // A named expect's metric is a phase label, like every other metric.
  CHECK(value_of(text,
                 "wslat_phase_duration_seconds_count{" + labels + ",phase=\"rtt.chat_reply\"}") ==
        std::to_string(r.metrics.at("handshake").histogram.count()));
  // Every counter of the result, its name made a valid metric name.
  const std::string sent = std::to_string(r.counters.at("msgs_sent").total);
  CHECK(value_of(text, "wslat_rule_matches_total{" + labels + "}") == sent);
  CHECK(value_of(text, "wslat_ws_frames_in_total{" + labels + "}") == sent);
  CHECK(value_of(text, "wslat_new_counter__total{" + labels + "}") == sent);
  CHECK(text.find("# HELP wslat_new_counter__total The new\\ncounter\\\\ counter") !=
        std::string::npos);
  // No line of the exposition is broken by a line feed in a name.
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    CHECK_MESSAGE((line.rfind("wslat_", 0) == 0 || line.rfind("# ", 0) == 0), line);
  }
}
