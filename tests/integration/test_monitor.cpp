// `wslat monitor` end to end: /metrics while it probes `wslat serve` (counts grow), a dead
// target (errors counted, still running), how it stops (SIGTERM/SIGINT/--for: exit 0), --save,
// and the usage errors. The "peer" test checks /metrics with `promtool check metrics`.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "child.hpp"
#include "harness.hpp"
#include "prometheus_text.hpp"

namespace {

using wslat::test::body_of;
using wslat::test::Child;
using wslat::test::echo_scenario_file;
using wslat::test::http_get;
using wslat::test::metrics_port;
using wslat::test::prom_sample;
using wslat::test::RefusingPort;
using wslat::test::run_wslat;
using wslat::test::start_serve;

// Scrapes until `pred(body)` or about 30 s of tries; the last body.
template <typename Pred>
std::string scrape_until(Child& c, int port, Pred pred) {
  std::string body;
  for (int i = 0; i < 300; ++i) {
    body = body_of(http_get(port));
    if (pred(body)) break;
    c.pump(100);  // also the pause between scrapes: the monitor's output is read meanwhile
  }
  return body;
}

}  // namespace

TEST_CASE("promtool check metrics accepts the monitor's /metrics" * doctest::test_suite("peer")) {
  if (!wslat::test::have_promtool()) {
    MESSAGE("skipped: " << wslat::test::kPromtool
                        << " is not installed (Debian package prometheus)");
    return;
  }
  auto server = start_serve();
  Child c({"monitor", echo_scenario_file("prom-check-monitor", server.url(), 2), "--every", "200ms",
           "--for", "60s", "--listen", "127.0.0.1:0", "-q"});
  const int port = metrics_port(c);
  REQUIRE(port > 0);
  const std::string body = scrape_until(
      c, port, [](const std::string& b) { return prom_sample(b, "wslat_probes_total") >= 1; });
  CHECK(wslat::test::promtool_problems(body) == "");
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
}

TEST_CASE("monitor probes again and again: the counts on /metrics grow, no run files") {
  auto server = start_serve();
  const std::string results = wslat::test::temp_dir() + "/monitor-results";
  Child c({"monitor", echo_scenario_file("monitor-grow", server.url(), 2), "--every", "200ms",
           "--jitter", "10%", "--for", "60s", "--listen", "127.0.0.1:0", "--results-dir", results});
  const int port = metrics_port(c);
  REQUIRE_MESSAGE(port > 0, "no address announced: " << c.out() << c.err());
  const std::string hs = R"(wslat_phase_duration_seconds_count{scenario="monitor-grow")";
  const std::string first = scrape_until(
      c, port, [](const std::string& b) { return prom_sample(b, "wslat_probes_total") >= 1; });
  const double probes = prom_sample(first, "wslat_probes_total");
  REQUIRE(probes >= 1);
  const std::string later = scrape_until(c, port, [&](const std::string& b) {
    return prom_sample(b, "wslat_probes_total") >= probes + 2;
  });
  CHECK(prom_sample(later, "wslat_probes_total") >= probes + 2);
  CHECK(prom_sample(later, hs) > prom_sample(first, hs));
  CHECK(prom_sample(later, "wslat_connections_opened_total") ==
        2 * prom_sample(later, "wslat_probes_total"));
  CHECK(prom_sample(later, "wslat_probe_success") == 1);
  CHECK(prom_sample(later, "wslat_probes_failed_total") == 0);
  CHECK(prom_sample(later, "wslat_last_probe_timestamp_seconds") > 1.7e9);
  CHECK(http_get(port, "/nothing").find(" 404 ") != std::string::npos);
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
  CHECK(c.err().find("wslat: probe 1: 2 of 2 connections opened") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(results));
}

TEST_CASE(
    "monitor survives a dead target: every probe counts its errors, SIGINT ends it (exit 0)") {
  const RefusingPort dead;
  const std::string url = dead.url();
  Child c({"monitor", echo_scenario_file("monitor-dead", url, 2), "--every", "100ms", "--for",
           "60s", "--listen", "127.0.0.1:0", "-q"});
  const int port = metrics_port(c);
  REQUIRE(port > 0);
  const std::string body = scrape_until(
      c, port, [](const std::string& b) { return prom_sample(b, "wslat_probes_total") >= 3; });
  const double probes = prom_sample(body, "wslat_probes_total");
  CHECK(probes >= 3);
  CHECK(prom_sample(body, R"(wslat_errors_total{scenario="monitor-dead")") == 2 * probes);
  CHECK(body.find(R"(category="connect.refused"} )") != std::string::npos);
  CHECK(prom_sample(body, "wslat_probes_failed_total") == probes);
  CHECK(prom_sample(body, "wslat_probe_success") == 0);
  CHECK_FALSE(c.exited());
  c.signal(SIGINT);
  CHECK(c.wait(20000) == 0);
}

TEST_CASE("monitor --for stops by itself and --save stores every probe") {
  auto server = start_serve();
  const std::string results = wslat::test::temp_dir() + "/monitor-saved";
  const auto r = run_wslat(
      {"monitor", echo_scenario_file("monitor-save", server.url(), 1), "--every", "200ms", "--for",
       "1s", "--listen", "127.0.0.1:0", "--save", "--results-dir", results, "-q"},
      std::chrono::seconds(60));
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("http://127.0.0.1:") != std::string::npos);
  const auto files = wslat::test::files_under(results + "/runs/monitor-save");
  CHECK(files.size() >= 2);
  CHECK(r.wall_ms < 30000);
}

TEST_CASE("monitor refuses a non-loopback listen address and bad intervals (exit 64)") {
  const std::string s = echo_scenario_file("monitor-usage", "ws://127.0.0.1:9/", 1);
  const auto remote = run_wslat({"monitor", s, "--listen", "0.0.0.0:0"});
  CHECK(remote.exit_code == 64);
  CHECK(remote.err.find("not a loopback address") != std::string::npos);
  CHECK(remote.err.find("--allow-remote") != std::string::npos);
  const auto every = run_wslat({"monitor", s, "--every", "0s", "--listen", "127.0.0.1:0"});
  CHECK(every.exit_code == 64);
  CHECK(every.err.find("--every") != std::string::npos);
  const auto jitter = run_wslat({"monitor", s, "--jitter", "150%", "--listen", "127.0.0.1:0"});
  CHECK(jitter.exit_code == 64);
  const auto port = run_wslat({"monitor", s, "--listen", "127.0.0.1:99999"});
  CHECK(port.exit_code == 64);
  CHECK(port.err.find("0 to 65535") != std::string::npos);
}
