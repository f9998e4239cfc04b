// The shipped alerting rules (docs/prometheus/wslat-rules.yml) evaluated by a real Prometheus
// that scrapes `wslat monitor`, routed by a real Alertmanager (Debian packages prometheus and
// prometheus-alertmanager, started here on loopback ports) to a webhook receiver in this test:
// the target goes down, WslatProbeFailing fires and arrives; the target comes back, and the
// resolved notification arrives. The rules' `for:` and range durations are shortened (minutes
// to seconds) so that the episode takes seconds; the expressions are the shipped ones.
// "peer": skipped with a message when either program is not installed.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <optional>
#include <regex>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"
#include "http_receiver.hpp"
#include "prometheus_text.hpp"
#include "third_party.hpp"

namespace {

using nlohmann::json;
using wslat::test::Child;
using wslat::test::Daemon;

constexpr const char* kPrometheusBin = "/usr/bin/prometheus";
constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

// The webhook notifications of `alertname` received so far: each one's "status".
std::vector<std::string> notifications(const wslat::test::HttpReceiver& r,
                                       const std::string& alertname) {
  std::vector<std::string> out;
  for (const auto& req : r.requests()) {
    const json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.contains("alerts")) continue;
    for (const auto& a : j["alerts"]) {
      if (a["labels"].value("alertname", "") == alertname) out.push_back(a.value("status", ""));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("alertmanager delivers the shipped rule's alert and its resolution to a webhook" *
          doctest::test_suite("peer")) {
  for (const char* program : {kPrometheusBin, kAlertmanager}) {
    if (::access(program, X_OK) != 0) {
      MESSAGE("skipped: " << program << " is not installed (scripts/install-deps.sh)");
      return;
    }
  }
  const std::string dir = wslat::test::temp_dir() + "/alertmanager";
  std::filesystem::create_directories(dir);
  std::optional<wslat::test::BackgroundServer> target;
  target.emplace(std::vector<std::string>{wslat::test::wslat_binary(), "serve", "--port", "0"});
  const std::string url = target->url();
  const std::string target_port = url.substr(url.rfind(':') + 1, url.size() - url.rfind(':') - 2);
  Child monitor({"monitor", wslat::test::echo_scenario_file("alerting", url, 1), "--every", "100ms",
                 "--listen", "127.0.0.1:0", "-q", "--for", "120s"});
  REQUIRE(monitor.pump_until([&] { return monitor.out().find("/metrics") != std::string::npos; },
                             20000));
  const auto at = monitor.out().find("127.0.0.1:");
  const std::string monitor_address = monitor.out().substr(at, monitor.out().find('/', at) - at);

  // The shipped rules with minutes made seconds: `for: 2m` -> `for: 2s`, `[5m]` -> `[5s]`.
  std::string rules =
      wslat::test::read_file(std::string(WSLAT_SOURCE_DIR) + "/docs/prometheus/wslat-rules.yml");
  REQUIRE(rules.find("alert: WslatProbeFailing") != std::string::npos);
  rules = std::regex_replace(rules, std::regex(R"(for: (\d+)m)"), "for: $1s");
  rules = std::regex_replace(rules, std::regex(R"(\[(\d+)m\])"), "[$1s]");
  const std::string rules_file = wslat::test::write_temp_file("wslat-rules.yml", rules);

  wslat::test::HttpReceiver receiver;
  const int am_port = wslat::test::pick_free_port("127.0.0.1");
  const std::string am_config = wslat::test::write_temp_file(
      "alertmanager.yml",
      "route:\n  receiver: hook\n  group_by: [alertname, target]\n  group_wait: 0s\n"
      "  group_interval: 1s\n  repeat_interval: 1h\n"
      "receivers:\n  - name: hook\n    webhook_configs:\n      - url: '" +
          receiver.url() + "'\n        send_resolved: true\n");
  Daemon alertmanager(
      {kAlertmanager, "--config.file=" + am_config, "--storage.path=" + dir + "/am-data",
       "--web.listen-address=127.0.0.1:" + std::to_string(am_port),
       "--cluster.listen-address=", "--log.level=warn"},
      dir + "/alertmanager.log");

  const int prom_port = wslat::test::pick_free_port("127.0.0.1");
  const std::string prom_config = wslat::test::write_temp_file(
      "prometheus.yml",
      "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\n  evaluation_interval: 250ms\n"
      "rule_files: ['" +
          rules_file +
          "']\n"
          "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:" +
          std::to_string(am_port) +
          "']\n"
          "scrape_configs:\n  - job_name: wslat\n    static_configs:\n      - targets: ['" +
          monitor_address + "']\n");
  Daemon prometheus(
      {kPrometheusBin, "--config.file=" + prom_config, "--storage.tsdb.path=" + dir + "/prom-data",
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"},
      dir + "/prometheus.log");
  INFO("prometheus log: " << wslat::test::read_file(dir + "/prometheus.log"));
  INFO("alertmanager log: " << wslat::test::read_file(dir + "/alertmanager.log"));

  // Healthy for a while (Prometheus scraping): nothing fires.
  const auto scraped = [&] {
    const std::string body = wslat::test::body_of(
        wslat::test::http_get(prom_port, "/api/v1/query?query=wslat_probe_success"));
    return body.find(R"("value":[)") != std::string::npos &&
           body.find(R"(,"1"]})") != std::string::npos;
  };
  REQUIRE(monitor.pump_until(scraped, 40000));
  monitor.pump(3000);
  CHECK(notifications(receiver, "WslatProbeFailing").empty());

  // Down: after 2 s of failing probes the rule fires and Alertmanager delivers it.
  target.reset();
  REQUIRE(monitor.pump_until([&] { return !notifications(receiver, "WslatProbeFailing").empty(); },
                             45000));
  CHECK(notifications(receiver, "WslatProbeFailing").front() == "firing");
  const auto firing = receiver.requests();
  bool labelled = false;
  for (const auto& req : firing) {
    if (req.body.find(R"("target":")" + url + "\"") != std::string::npos) labelled = true;
  }
  CHECK(labelled);  // the alert carries the monitor's target label

  // Back on the same port: the resolved notification follows.
  target.emplace(
      std::vector<std::string>{wslat::test::wslat_binary(), "serve", "--port", target_port});
  REQUIRE(monitor.pump_until(
      [&] {
        const auto n = notifications(receiver, "WslatProbeFailing");
        return !n.empty() && n.back() == "resolved";
      },
      45000));
  const auto all = notifications(receiver, "WslatProbeFailing");
  MESSAGE("WslatProbeFailing notifications: " << json(all).dump());
  monitor.signal(SIGTERM);
  CHECK(monitor.wait(20000) == 0);
}
