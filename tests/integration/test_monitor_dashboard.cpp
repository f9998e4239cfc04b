// The live dashboard of `wslat monitor`: /api/samples (the last hour of probes) and the page
// at / that draws it, rendered by headless Chromium ("peer": skipped when Chromium is not
// installed): phases over time with the threshold lines, the verdict and the latest errors
// of a target that went down, kept up to date by the events the monitor pushes.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "cdp_pipe.hpp"
#include "child.hpp"
#include "harness.hpp"
#include "prometheus_text.hpp"

namespace {

using wslat::test::BackgroundServer;
using wslat::test::body_of;
using wslat::test::Child;
using wslat::test::echo_scenario_file;
using wslat::test::http_get;
using wslat::test::metrics_port;
using wslat::test::prom_sample;

// A monitor that saw a healthy target (4 probes or more) and then its outage (2 failed
// probes or more); the monitor's /metrics port.
int monitor_through_an_outage(Child& c, std::optional<BackgroundServer>& server) {
  const int port = metrics_port(c);
  REQUIRE(port > 0);
  const auto metric = [&](const char* name) { return prom_sample(body_of(http_get(port)), name); };
  REQUIRE(c.pump_until([&] { return metric("wslat_probes_total") >= 4; }, 40000));
  server.reset();
  REQUIRE(c.pump_until([&] { return metric("wslat_probes_failed_total") >= 2; }, 40000));
  return port;
}

}  // namespace

TEST_CASE("monitor /api/samples has the probes, phases, thresholds and errors for the page") {
  std::optional<BackgroundServer> server;
  server.emplace(std::vector<std::string>{wslat::test::wslat_binary(), "serve", "--port", "0"});
  const std::string url = server->url();
  Child c({"monitor", echo_scenario_file("dashboard-api", url, 2), "--every", "150ms", "--for",
           "60s", "--listen", "127.0.0.1:0", "-q", "--threshold", "e2e: p95 < 2s"});
  const int port = monitor_through_an_outage(c, server);
  const std::string response = http_get(port, "/api/samples");
  CHECK(response.find("Content-Type: application/json") != std::string::npos);
  const auto j = nlohmann::json::parse(body_of(response));
  CHECK(j["scenario"] == "dashboard-api");
  CHECK(j["target"] == url);
  CHECK(j["window_s"] == 3600);
  CHECK(j["every_s"] == doctest::Approx(0.15));
  REQUIRE(j["samples"].size() >= 6);
  CHECK(j["samples"][0]["ok"] == true);
  CHECK(j["samples"][0]["phases"]["handshake"].size() == 2);
  CHECK(j["samples"].back()["ok"] == false);
  CHECK(j["samples"].back()["verdict"] == "error");
  CHECK(j["errors"][0]["category"] == "connect.refused");
  CHECK(j["thresholds"].dump().find(R"("threshold":"p95 < 2s")") != std::string::npos);
  // The page has the same data inlined (first paint without a request) and nothing external.
  const std::string page = http_get(port, "/");
  CHECK(page.find("Content-Type: text/html") != std::string::npos);
  CHECK(page.find("\"dashboard-api\"") != std::string::npos);
  CHECK(page.find("src=\"http") == std::string::npos);
  CHECK(page.find("href=\"http") == std::string::npos);
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
}

TEST_CASE("monitor dashboard renders in headless Chromium: phases - thresholds - verdict - errors" *
          doctest::test_suite("peer")) {
  const std::string chromium = "/usr/bin/chromium";
  if (::access(chromium.c_str(), X_OK) != 0) {
    MESSAGE("skipped: " << chromium << " is not installed");
    return;
  }
  std::optional<BackgroundServer> server;
  server.emplace(std::vector<std::string>{wslat::test::wslat_binary(), "serve", "--port", "0",
                                          "--echo-delay", "5ms", "--jitter", "5ms"});
  Child c({"monitor", echo_scenario_file("dashboard-page", server->url(), 2), "--every", "150ms",
           "--for", "120s", "--listen", "127.0.0.1:0", "-q", "--threshold", "e2e: p95 < 30ms"});
  const int port = monitor_through_an_outage(c, server);
  const std::string page = "http://127.0.0.1:" + std::to_string(port) + "/";
  // Driven over the DevTools protocol: the page keeps its event stream open, which --dump-dom
  // (at the load event) is too early for and --virtual-time-budget waits on forever.
  wslat::test::CdpBrowser browser(chromium, wslat::test::fresh_temp_dir("chromium-cdp"));
  const std::string tab = browser.open(page);
  REQUIRE_MESSAGE(!tab.empty(), "chromium: " << browser.last_error());
  const auto pushed = [&] {
    const auto v = browser.eval(tab, "Number(document.body.getAttribute('data-pushed')||0)");
    return v.is_number() ? v.get<int>() : -1;
  };
  const auto probes_shown = [&] {  // "N probes, every ..." in the header
    const auto v = browser.eval(tab, "parseInt(document.getElementById('status').textContent)");
    return v.is_number() ? v.get<int>() : -1;
  };
  // The page was served with the data inlined; what follows comes only from pushed events
  // (the monitor goes on probing the dead target every 150 ms).
  REQUIRE(c.pump_until([&] { return pushed() >= 1; }, 30000));
  const int probes_before = probes_shown();
  const int pushed_before = pushed();
  REQUIRE(c.pump_until([&] { return pushed() >= pushed_before + 2; }, 30000));
  CHECK(probes_shown() >= probes_before + 2);  // redrawn from the events
  CHECK(browser.eval(tab, "typeof EventSource").get<std::string>() == "function");

  // The DOM after the page's script ran: what it drew.
  const auto dom_value = browser.eval(tab, "document.documentElement.outerHTML");
  REQUIRE(dom_value.is_string());
  const std::string dom = dom_value.get<std::string>();
  CHECK(dom.find(R"(<svg viewBox="0 0 500 170" width="100%" data-phase="handshake">)") !=
        std::string::npos);
  CHECK(dom.find(R"(class="p50")") != std::string::npos);
  CHECK(dom.find(R"(class="p95")") != std::string::npos);
  CHECK(dom.find(R"(class="threshold")") != std::string::npos);
  CHECK(dom.find(">p95 &lt; 30ms") != std::string::npos);     // the threshold's label
  CHECK(dom.find(R"(class="failed")") != std::string::npos);  // the outage's probes
  CHECK(dom.find(R"(<span id="verdict" class="error">ERROR)") != std::string::npos);
  CHECK(dom.find(">connect.refused</td>") != std::string::npos);
  CHECK(dom.find(R"(<h3 id="window-title">Last 5 min)") != std::string::npos);

  // And a screenshot: a page full of charts, not a blank or error page.
  const auto shot = browser.call("Page.captureScreenshot", {{"format", "png"}}, tab);
  REQUIRE_MESSAGE(shot.has_value(), "chromium: " << browser.last_error());
  const std::string image = wslat::test::base64_decode((*shot)["data"].get<std::string>());
  REQUIRE(image.size() > 33);
  CHECK(image.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  // Measured: a blank 1200x1000 page is ~6 KB of PNG; this dashboard ~100 KB.
  CHECK(image.size() > 40 * 1024);
  const std::string png = wslat::test::write_temp_file("dashboard.png", image);
  MESSAGE("dashboard screenshot: " << png << " (" << image.size() << " bytes)");
  browser.call("Browser.close", {}, "", 5000);
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
}
