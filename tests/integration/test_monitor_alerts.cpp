// `wslat monitor` alerts end to end: a target that is healthy, then slow (a threshold
// breached), then dead, then healthy again is one failing episode: exactly one firing and one
// resolved notification arrive at a webhook receiver in the test and at --alert-command.
// Plus the usage errors of the alert options.
#include <doctest/doctest.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"
#include "http_receiver.hpp"
#include "prometheus_text.hpp"

namespace {

using wslat::test::BackgroundServer;
using wslat::test::body_of;
using wslat::test::Child;
using wslat::test::echo_scenario_file;
using wslat::test::http_get;
using wslat::test::HttpReceiver;
using wslat::test::metrics_port;
using wslat::test::prom_sample;
using wslat::test::run_wslat;

std::string serve_on(std::optional<BackgroundServer>& server, int port,
                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{wslat::test::wslat_binary(), "serve", "--port",
                                std::to_string(port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  server.emplace(argv);
  return server->url();
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("monitor alerts once for a slow then dead target and once when it recovers") {
  HttpReceiver hook;
  std::optional<BackgroundServer> server;
  const std::string url = serve_on(server, 0);
  const int target_port = server->port();
  const std::string log = wslat::test::temp_dir() + "/alert-command.log";
  Child c({"monitor", echo_scenario_file("monitor-alerts", url, 2), "--every", "100ms", "--jitter",
           "0%", "--for", "100s", "--listen", "127.0.0.1:0", "-q", "--threshold",
           "handshake: p95 < 150ms", "--alert-after", "2", "--webhook", hook.url(),
           "--alert-command",
           R"(printf '%s %s %s\n' "$WSLAT_ALERT_STATE" "$WSLAT_ALERT_FAILING_PROBES" )"
           R"("$WSLAT_ALERT_SCENARIO" >> ')" +
               log + "'"});
  const int port = metrics_port(c);
  REQUIRE(port > 0);
  const auto metric = [&](const char* name) { return prom_sample(body_of(http_get(port)), name); };
  const auto wait_for = [&](auto pred) { return c.pump_until(pred, 40000); };

  // Healthy: probes pass, nothing is sent.
  REQUIRE(wait_for([&] { return metric("wslat_probes_total") >= 3; }));
  CHECK(metric("wslat_probe_success") == 1);
  CHECK(hook.requests().empty());
  // Slow: every handshake takes 400 ms, past the threshold: the alert fires at the 2nd probe.
  server.reset();
  serve_on(server, target_port, {"--handshake-delay", "400ms"});
  REQUIRE(wait_for([&] { return hook.requests().size() >= 1; }));
  // Dead: still the same episode; no second alert.
  server.reset();
  const double failed = metric("wslat_probes_failed_total");
  REQUIRE(wait_for([&] { return metric("wslat_probes_failed_total") >= failed + 3; }));
  CHECK(hook.requests().size() == 1);
  // Healthy again: one recovery notification; then quiet.
  serve_on(server, target_port);
  REQUIRE(wait_for([&] { return hook.requests().size() >= 2; }));
  const double probes = metric("wslat_probes_total");
  REQUIRE(wait_for([&] { return metric("wslat_probes_total") >= probes + 3; }));
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);

  const auto requests = hook.requests();
  REQUIRE(requests.size() == 2);
  for (const auto& r : requests) {
    CHECK(r.method == "POST");
    CHECK(r.path == "/hook");
    CHECK(r.head.find("Content-Type: application/json") != std::string::npos);
  }
  const auto firing = nlohmann::json::parse(requests[0].body);
  const auto resolved = nlohmann::json::parse(requests[1].body);
  CHECK(firing["version"] == 1);
  CHECK(firing["state"] == "firing");
  CHECK(firing["scenario"] == "monitor-alerts");
  CHECK(firing["target"] == url);
  CHECK(firing["failing_probes"] == 2);
  CHECK(firing["reasons"].dump().find("threshold breached: handshake: p95 < 150ms") !=
        std::string::npos);
  CHECK(resolved["state"] == "resolved");
  CHECK(resolved["since"] == firing["since"]);
  CHECK(resolved["failing_probes"].get<int>() >= 2 + 3);
  CHECK(resolved["last_probe"]["failed"] == 0);
  CHECK(wslat::test::read_file(log) == "firing 2 monitor-alerts\nresolved " +
                                           std::to_string(resolved["failing_probes"].get<int>()) +
                                           " monitor-alerts\n");
  CHECK(count_of(c.err(), "wslat: FIRING: monitor-alerts") == 1);
  CHECK(count_of(c.err(), "wslat: RESOLVED: monitor-alerts") == 1);
}

TEST_CASE("monitor alert options: usage errors exit 64 before anything runs") {
  const std::string scenario = echo_scenario_file("monitor-alert-usage", "ws://127.0.0.1:1/", 1);
  const auto bad = [&](std::vector<std::string> extra, const std::string& says) {
    std::vector<std::string> args{"monitor", scenario, "--listen", "127.0.0.1:0", "--for", "1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_wslat(args);
    CHECK_MESSAGE(r.exit_code == 64, says << ": " << r.err);
    CHECK_MESSAGE(r.err.find(says) != std::string::npos, r.err);
    CHECK(r.out.find("/metrics") == std::string::npos);  // nothing started
  };
  bad({"--alert-after", "2"}, "alerts need somewhere to go");
  bad({"--webhook", "ftp://x/"}, "--webhook: expected an http:// or https:// URL");
  bad({"--webhook", "http://h/", "--alert-after", "0"}, "--alert-after 0");
  bad({"--alert-command", "true", "--alert-min-interval", "soon"}, "--alert-min-interval");
  // "0" (no rate limit) needs no unit.
  CHECK(run_wslat({"monitor", scenario, "--listen", "127.0.0.1:0", "--for", "100ms", "-q",
                   "--alert-command", "true", "--alert-min-interval", "0"})
            .exit_code == 0);
  bad({"--baseline", "/nonexistent/base.json"}, "/nonexistent/base.json");
}

TEST_CASE("monitor --baseline compares every probe and exposes wslat_regression") {
  auto server = wslat::test::start_serve();
  const std::string scenario = echo_scenario_file("monitor-baseline", server.url(), 2);
  const std::string base = wslat::test::temp_dir() + "/monitor-baseline.base.json";
  REQUIRE(run_wslat({"run", scenario, "--no-save", "-q", "--save-baseline", base}).exit_code == 0);
  Child c({"monitor", scenario, "--every", "100ms", "--for", "60s", "--listen", "127.0.0.1:0", "-q",
           "--baseline", base});
  const int port = metrics_port(c);
  REQUIRE(port > 0);
  std::string body;
  REQUIRE(c.pump_until(
      [&] {
        body = body_of(http_get(port));
        return prom_sample(body, "wslat_probes_total") >= 1;
      },
      40000));
  CHECK(prom_sample(body, "wslat_regression") == 0);
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
}
