// `wslat monitor --scenarios DIR` serves /probe?target=URL&scenario=NAME in the style of
// blackbox_exporter: one probe per request, its exposition as the answer; scenarios named
// from the folder only (no paths from a URL), targets ws:// or wss:// only.
#include <doctest/doctest.h>

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
using wslat::test::port_of;
using wslat::test::prom_sample;
using wslat::test::RefusingPort;
using wslat::test::run_wslat;
using wslat::test::start_serve;

// A folder with one scenario, "echo.json" (named "probe-echo"); a secret next to it.
std::string scenarios_folder() {
  const std::string dir = wslat::test::temp_dir() + "/probe-scenarios";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(echo_scenario_file("probe-echo", "ws://127.0.0.1:1/", 2),
                             dir + "/echo.json", std::filesystem::copy_options::overwrite_existing);
  wslat::test::write_temp_file("probe-secret.json", "{}");
  return dir;
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string query(const std::string& s) {  // percent-encodes what a query value cannot hold
  std::string out;
  for (const char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    static const char* hex = "0123456789ABCDEF";
    const auto u = static_cast<unsigned char>(c);
    out += plain ? std::string(1, c) : std::string{'%', hex[u >> 4], hex[u & 15]};
  }
  return out;
}

}  // namespace

TEST_CASE("monitor /probe runs one probe of a named scenario against the target in the query") {
  auto server = start_serve();
  const std::string dir = scenarios_folder();
  const RefusingPort refusing;
  const std::string dead = refusing.url();
  Child c({"monitor", dir + "/echo.json", "--target", server.url(), "--every", "60s", "--for",
           "60s", "--listen", "127.0.0.1:0", "-q", "--scenarios", dir});
  const int port = metrics_port(c);
  REQUIRE(port > 0);
  const auto probe = [&](const std::string& q) { return http_get(port, "/probe?" + q); };

  // A healthy target: 200 and the exposition of that one probe, labelled with the target asked.
  const std::string ok = probe("target=" + query(server.url()) + "&scenario=echo");
  CHECK(status_line(ok) == "HTTP/1.1 200 OK");
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  const std::string labels =
      R"({scenario="probe-echo",target=")" + server.url() + R"(",profile="local"})";
  CHECK(prom_sample(body_of(ok), "wslat_probe_success" + labels) == 1);
  CHECK(prom_sample(body_of(ok), "wslat_connections_opened_total" + labels) == 2);
  CHECK(prom_sample(body_of(ok), "wslat_probes_total" + labels) == 1);
  // "echo.json" names the same file.
  CHECK(status_line(probe("target=" + query(server.url()) + "&scenario=echo.json")) ==
        "HTTP/1.1 200 OK");
  // A dead target is a failed probe, not an HTTP error (as blackbox_exporter does).
  const std::string down = probe("target=" + query(dead) + "&scenario=echo");
  CHECK(status_line(down) == "HTTP/1.1 200 OK");
  CHECK(prom_sample(body_of(down), "wslat_probe_success") == 0);
  CHECK(body_of(down).find(R"(category="connect.refused"} 2)") != std::string::npos);

  // Names from the folder only: no path, no .., no other file.
  const auto refused = [&](const std::string& q, const char* status, const std::string& says) {
    const std::string r = probe(q);
    CHECK_MESSAGE(status_line(r) == status, q << " -> " << r);
    CHECK_MESSAGE(body_of(r).find(says) != std::string::npos, q << " -> " << body_of(r));
    CHECK(body_of(r).find("wslat_") == std::string::npos);
  };
  const std::string t = "target=" + query(server.url());
  refused(t + "&scenario=" + query("../probe-secret.json"), "HTTP/1.1 400 Bad Request",
          "contains a path separator");
  refused(t + "&scenario=" + query(dir + "/echo.json"), "HTTP/1.1 400 Bad Request",
          "contains a path separator");
  refused(t + "&scenario=..", "HTTP/1.1 400 Bad Request", "starts with '.'");
  refused(t + "&scenario=" + query("echo json"), "HTTP/1.1 400 Bad Request",
          "other than letters, digits");
  refused(t, "HTTP/1.1 400 Bad Request", "missing scenario=NAME");
  refused(t + "&scenario=missing", "HTTP/1.1 404 Not Found", "no scenario \"missing\"");
  refused("scenario=echo", "HTTP/1.1 400 Bad Request", "missing target=URL");
  refused("scenario=echo&target=" + query("http://127.0.0.1/"), "HTTP/1.1 400 Bad Request",
          "not a WebSocket URL");
  refused("scenario=echo&target=embedded", "HTTP/1.1 400 Bad Request", "not a WebSocket URL");
  // /metrics goes on with the monitor's own probes.
  CHECK(status_line(http_get(port)) == "HTTP/1.1 200 OK");
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
}

TEST_CASE("monitor without --scenarios has no /probe, and --scenarios must be a folder") {
  auto server = start_serve();
  const std::string scenario = echo_scenario_file("probe-off", server.url(), 1);
  Child c({"monitor", scenario, "--every", "60s", "--for", "60s", "--listen", "127.0.0.1:0", "-q"});
  REQUIRE(c.pump_until([&] { return c.out().find("/metrics") != std::string::npos; }, 20000));
  const std::string r =
      http_get(port_of(c.out()), "/probe?target=" + query(server.url()) + "&scenario=probe-off");
  CHECK(status_line(r) == "HTTP/1.1 404 Not Found");
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
  const auto bad = run_wslat(
      {"monitor", scenario, "--listen", "127.0.0.1:0", "--for", "1s", "--scenarios", scenario});
  CHECK(bad.exit_code == 64);
  CHECK(bad.err.find("--scenarios " + scenario + ": not a folder") != std::string::npos);
}

TEST_CASE("promtool check metrics accepts a /probe answer" * doctest::test_suite("peer")) {
  if (!wslat::test::have_promtool()) {
    MESSAGE("skipped: " << wslat::test::kPromtool
                        << " is not installed (Debian package prometheus)");
    return;
  }
  auto server = start_serve({"--close-after-open", "1011"});
  const std::string dir = scenarios_folder();
  Child c({"monitor", dir + "/echo.json", "--target", server.url(), "--every", "60s", "--for",
           "60s", "--listen", "127.0.0.1:0", "-q", "--scenarios", dir});
  REQUIRE(c.pump_until([&] { return c.out().find("/metrics") != std::string::npos; }, 20000));
  const std::string body = body_of(
      http_get(port_of(c.out()), "/probe?target=" + query(server.url()) + "&scenario=echo"));
  CHECK(body.find("wslat_probe_success") != std::string::npos);
  CHECK(body.find("wslat_errors_total{") != std::string::npos);  // close.1011: a dot in a label
  CHECK(wslat::test::promtool_problems(body) == "");
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
}
