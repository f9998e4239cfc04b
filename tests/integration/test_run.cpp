// `wslat run` against `wslat serve` with injected delays and faults, and against a
// third-party server (Debian's python3-websockets): the real binary, loopback only.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

// A scenario file for `url`: connect, optionally expect a welcome (marked ready), one echo.
std::string scenario_file(const std::string& name, const std::string& url, int connections,
                          bool welcome, const std::string& extra = "") {
  json steps = json::array({{{"connect", json::object()}}});
  if (welcome) {
    steps.push_back({{"expect", {{"text", "welcome"}, {"within", "5s"}, {"mark", "ready"}}}});
  }
  steps.push_back({{"send", {{"text", "hello ${connection}"}}}});
  steps.push_back({{"expect", {{"regex", "^hello \\d+$"}, {"within", "5s"}}}});
  steps.push_back({{"close", {{"code", 1000}}}});
  json s = {
      {"name", name},
      {"target", url},
      {"load", {{"connections", connections}, {"concurrency", 2}}},
      {"timeouts", {{"connect", "2s"}, {"handshake", "2s"}, {"message", "5s"}, {"close", "2s"}}},
      {"steps", steps}};
  if (!extra.empty()) s.merge_patch(json::parse(extra));
  return write_temp_file(name + ".json", s.dump(2));
}

struct Measured {
  ProcessResult process;
  json result;
};

// Runs with the production profile (x1.0) so written timeouts are the effective ones.
Measured run_json(const std::string& scenario, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run",      scenario, "--env",     "production",
                                "--format", "json",   "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  Measured m;
  m.process = run_wslat(args, std::chrono::seconds(60));
  INFO("stderr: " << m.process.err);
  REQUIRE_FALSE(m.process.timed_out);
  REQUIRE_FALSE(m.process.out.empty());
  m.result = json::parse(m.process.out);
  return m;
}

double p50(const json& r, const char* metric) { return r.at("metrics").at(metric).at("p50"); }

// Within 1% + 0.5 ms of the injected delay plus what the phase costs without it, with slack
// above for a busy machine. Below, only the 1% + 0.5 ms: the server may start its timer a
// little before the client sees the phase begin (e.g. the welcome timer starts at the
// server's open, before the 101 reaches the client).
void check_recovers(double measured_ms, double injected_ms, double slack_ms) {
  INFO("measured " << measured_ms << " ms for an injected " << injected_ms << " ms");
  CHECK(measured_ms >= injected_ms * 0.99 - 0.5);
  CHECK(measured_ms <= injected_ms * 1.01 + 0.5 + slack_ms);
}

TEST_CASE("an injected handshake delay is recovered in upgrade and handshake" *
          doctest::test_suite("timing")) {
  auto server = start_serve({"--handshake-delay", "40ms"});
  const auto m = run_json(scenario_file("handshake-delay", server.url(), 10, false));
  CHECK(m.process.exit_code == 0);
  CHECK(m.result["connections"]["opened"] == 10);
  check_recovers(p50(m.result, "upgrade"), 40, 5);
  check_recovers(p50(m.result, "handshake"), 40, 5);
  CHECK(p50(m.result, "rtt") < 20);
}

TEST_CASE(
    "injected welcome and echo delays are recovered in first_message and rtt and e2e and "
    "perceived" *
    doctest::test_suite("timing")) {
  auto server =
      start_serve({"--welcome", "welcome", "--welcome-delay", "30ms", "--echo-delay", "20ms"});
  const auto m = run_json(scenario_file("welcome-echo", server.url(), 10, true));
  CHECK(m.process.exit_code == 0);
  const double handshake = p50(m.result, "handshake");
  check_recovers(p50(m.result, "first_message"), 30, 5);
  check_recovers(p50(m.result, "rtt"), 20, 5);
  check_recovers(p50(m.result, "perceived") - handshake, 30, 6);
  check_recovers(p50(m.result, "e2e") - handshake, 50, 8);
}

TEST_CASE("a server closing with 1011 right after open is counted as close.1011") {
  auto server = start_serve({"--close-after-open", "1011"});
  const auto m = run_json(scenario_file("close-1011", server.url(), 6, false));
  CHECK(m.result["errors"].value("close.1011", 0) == 6);
  CHECK(m.result["connections"]["failed"] == 6);
  CHECK(m.process.exit_code == 1);  // errors rate < 1% breached
  CHECK(m.result["verdict"] == "fail");
}

TEST_CASE("an upgrade rejected with 403 is counted as http.403 and nothing could run") {
  auto server = start_serve({"--reject", "403"});
  const auto m = run_json(scenario_file("reject-403", server.url(), 4, false));
  CHECK(m.result["errors"].value("http.403", 0) == 4);
  CHECK(m.result["connections"]["opened"] == 0);
  CHECK(m.process.exit_code == 3);
  CHECK(m.result["verdict"] == "error");
}

TEST_CASE("a server that accepts TCP and never answers gives upgrade.timeout in time") {
  auto server = start_serve({"--mode", "silent"});
  const auto file =
      scenario_file("silent", server.url(), 2, false, R"({"timeouts": {"handshake": "300ms"}})");
  const auto m = run_json(file);
  CHECK(m.result["errors"].value("upgrade.timeout", 0) == 2);
  // Production profile: 300 ms x 1.2 margin = 360 ms, plus process start and slack.
  CHECK(m.process.wall_ms < 360 + 2000);
  CHECK(m.process.exit_code == 3);
}

TEST_CASE("a connection refused is counted as connect.refused") {
  int port = 0;
  {
    auto server = start_serve();
    port = server.port();
  }  // the port is free again: nobody listens there now
  const auto m =
      run_json(scenario_file("refused", "ws://127.0.0.1:" + std::to_string(port) + "/", 2, false));
  CHECK(m.result["errors"].value("connect.refused", 0) == 2);
  CHECK(m.process.exit_code == 3);
}

TEST_CASE("a breached threshold exits 1 and the report names it") {
  auto server = start_serve({"--echo-delay", "5ms"});
  const auto file = scenario_file("breach", server.url(), 3, false);
  const auto m = run_json(file, {"--threshold", "rtt: p95 < 1ms"});
  CHECK(m.process.exit_code == 1);
  bool found = false;
  for (const auto& t : m.result["thresholds"]) {
    if (t["metric"] == "rtt") {
      found = true;
      CHECK(t["pass"] == false);
      CHECK(t["limit_ms"].get<double>() == doctest::Approx(1.0));
    }
  }
  CHECK(found);
  const auto text = run_wslat({"run", file, "--env", "production", "--no-save", "--quiet",
                               "--threshold", "rtt: p95 < 1ms"});
  CHECK(text.exit_code == 1);
  CHECK(text.out.find("rtt p95 < 1ms") != std::string::npos);
}

TEST_CASE("a bad scenario exits 64 with a located message before connecting") {
  const auto file = write_temp_file("bad.json",
                                    "{\n  \"name\": \"bad\",\n  \"steps\": [\n"
                                    "    {\"sleep\": \"5\"}\n  ]\n}\n");
  const auto r = run_wslat({"run", file, "--no-save"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("bad.json:4:") != std::string::npos);
  CHECK(r.err.find("/steps/0") != std::string::npos);
}

TEST_CASE("the shipped scenarios pass against the embedded server") {
  for (const char* name : {"smoke", "chat", "race-1011"}) {
    INFO(name);
    const auto r = run_wslat({"run", source_dir() + "/scenarios/" + std::string(name) + ".json",
                              "--no-save", "--quiet", "--env", "production"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("PASS") != std::string::npos);
  }
}

TEST_CASE("third-party server (python websockets): echo delay recovered in rtt" *
          doctest::test_suite("peer")) {
  BackgroundServer server({"/usr/bin/python3", source_dir() + "/tests/peers/py_echo_server.py",
                           "--echo-delay-ms", "25", "--welcome", "welcome", "--welcome-delay-ms",
                           "15"});
  const auto m = run_json(scenario_file("python-peer", server.url(), 8, true));
  CHECK(m.process.exit_code == 0);
  CHECK(m.result["connections"]["opened"] == 8);
  check_recovers(p50(m.result, "rtt"), 25, 8);
  check_recovers(p50(m.result, "first_message"), 15, 8);
}

TEST_CASE("the embedded server is used when the scenario has no target" *
          doctest::test_suite("timing")) {
  const auto file = write_temp_file("embedded.json",
                                    R"({"name": "embedded", "embedded": {"echo_delay": "10ms"},
          "load": {"connections": 5, "concurrency": 1},
          "steps": [{"send": {"text": "x"}}, {"expect": {"text": "x"}}]})");
  // Five sequential connections: the median is not one sample that a busy machine delayed.
  const auto m = run_json(file);
  CHECK(m.process.exit_code == 0);
  CHECK(m.result["target"].get<std::string>().rfind("ws://127.0.0.1:", 0) == 0);
  check_recovers(p50(m.result, "rtt"), 10, 5);
}

}  // namespace
}  // namespace wslat::test

namespace wslat::test {
namespace {

TEST_CASE("a huge message under a recursive regex expectation neither crashes nor hangs") {
  // libstdc++'s std::regex recursed per character: a hostile 200 KiB message once overflowed
  // the stack, and the fix (a 16 KiB window, 256 MiB worker stacks) could not run under TSan.
  // RE2 matches the whole message without recursion, in every build.
  auto server = start_serve();
  const auto file = write_temp_file("huge-regex.json",
                                    R"({"name": "huge-regex", "target": ")" + server.url() + R"(",
          "steps": [{"send": {"size": "200KiB"}}, {"expect": {"regex": "^(x|y)*$"}}]})");
  const auto r = run_wslat({"run", file, "--env", "production", "--no-save", "--quiet"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

}  // namespace
}  // namespace wslat::test

namespace wslat::test {
namespace {

TEST_CASE(
    "wslat run against wslat serve: the result's counters hold exact message and byte counts") {
  // 4 connections x 3 echoes of 1000 bytes: an echo sends back what it got, so sent = received.
  auto server = start_serve();
  const auto file =
      write_temp_file("counted.json", R"({"name": "counted", "target": ")" + server.url() + R"(",
      "load": {"connections": 4, "concurrency": 2},
      "steps": [{"repeat": {"times": 3, "steps": [{"send": {"size": 1000}},
                                                  {"expect": {"any": true}}]}}]})");
  const auto m = run_json(file);
  CHECK(m.process.exit_code == 0);
  const json& c = m.result.at("counters");
  for (const char* name : {"msgs_sent", "msgs_received"}) {
    CAPTURE(name);
    CHECK(c.at(name).at("total") == 12);
    CHECK(c.at(name).at("per_connection") ==
          json{{"connections", 4}, {"min", 3}, {"mean", 3.0}, {"max", 3}});
  }
  for (const char* name : {"bytes_sent", "bytes_received"}) {
    CAPTURE(name);
    CHECK(c.at(name).at("total") == 12000);
    CHECK(c.at(name).at("per_connection").at("max") == 3000);
  }
  CHECK(m.result.at("metrics").count("msgs_sent") == 0);  // metrics stay latency histograms
}

}  // namespace
}  // namespace wslat::test
