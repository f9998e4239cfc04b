// Reconnects (README "Reconnects"): the reconnect step carries the connection's variables over
// to the new connection (against the embedded server and python websockets); "on_drop" survives
// an embedded server killed and restarted on the same port in the middle of a run, and reports
// how long the users were disconnected; a server that never comes back ends in
// reconnect.exhausted within a bounded time. No sleeps: the tests watch wslat's --trace.
#include <doctest/doctest.h>

#include <signal.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"
#include "third_party.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

std::string write_scenario(const std::string& name, const json& s) {
  return write_temp_file(name + ".json", s.dump(2));
}

// send "token-N", capture it, reconnect, send "resume ${var:token}", expect it echoed back.
json resume_steps(const std::string& how) {
  return json::array(
      {{{"send", {{"text", "token-${connection}"}}}},
       {{"expect", {{"regex", "^token-[0-9]+$"}, {"capture", {{"token", {{"text", true}}}}}}}},
       {{"reconnect", {{"close", how}}}},
       {{"send", {{"text", "resume ${var:token}"}}}},
       {{"expect", {{"text", "resume token-${connection}"}}}}});
}

json resume_scenario(const std::string& name) {
  json steps = resume_steps("clean");
  for (auto& step : resume_steps("drop")) steps.push_back(step);
  steps.push_back({{"close", {{"code", 1000}}}});
  return {
      {"name", name},
      {"load", {{"connections", 3}, {"concurrency", 3}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}}},
      {"thresholds", {{"errors", {"count == 0"}}, {"reconnect", {"p95 < 5s"}}}},
      {"steps", steps}};
}

json run_json(const std::string& file, const std::string& target) {
  const std::string out = temp_dir() + "/" + std::to_string(::getpid()) + "-result.json";
  const auto r = run_wslat({"run", file, "--target", target, "--env", "production", "--no-save",
                            "--quiet", "--format", "text", "--export-json", out},
                           std::chrono::seconds(60));
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("reconnect") != std::string::npos);  // the text report shows the metric
  return json::parse(read_file(out));
}

void check_resumed(const json& j, int connections) {
  INFO(j.dump(2).substr(0, 4000));
  CHECK(j["connections"]["opened"] == connections);
  CHECK(j["connections"]["failed"] == 0);
  CHECK(j["counters"]["reconnects"]["total"] == 2 * connections);
  CHECK(j["counters"]["reconnect_failures"]["total"] == 0);
  CHECK(j["metrics"]["reconnect"]["count"] == 2 * connections);
  CHECK(j["metrics"]["disconnected"]["count"] == 2 * connections);
  CHECK(j["metrics"]["reconnect"]["p50"].get<double>() > 0);
  // The first connection's handshake only; each clean reconnect's close is timed, as the last.
  CHECK(j["metrics"]["handshake"]["count"] == connections);
  CHECK(j["metrics"]["close"]["count"] == 2 * connections);
  CHECK(j["metrics"]["tcp"]["count"] == 3 * connections);
}

TEST_CASE("reconnect: the step connects again and a captured variable is sent after it") {
  auto server = start_serve();
  check_resumed(run_json(write_scenario("reconnect-resume", resume_scenario("reconnect-resume")),
                         server.url()),
                3);
}

TEST_CASE("reconnect: python websockets sees the resume token on the new connection" *
          doctest::test_suite("peer")) {
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_echo_server.py"});
  check_resumed(
      run_json(write_scenario("reconnect-py", resume_scenario("reconnect-py")), peer.url()), 3);
}

// `wslat serve` on a given port, retried while the port is still (or again) taken.
std::optional<BackgroundServer>& serve_on(std::optional<BackgroundServer>& server, int port) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    try {
      server.emplace(
          std::vector<std::string>{wslat_binary(), "serve", "--port", std::to_string(port)});
      return server;
    } catch (const std::runtime_error&) {  // exited before announcing: the port was taken
    }
  }
  FAIL("cannot start wslat serve on port " << port);
  return server;
}

json drop_scenario(const std::string& name, int attempts) {
  return {
      {"name", name},
      {"load", {{"connections", 2}, {"concurrency", 2}}},
      {"timeouts", {{"connect", "2s"}, {"handshake", "2s"}, {"message", "5s"}, {"close", "2s"}}},
      {"on_drop",
       {{"reconnect",
         {{"attempts", attempts},
          {"backoff", {{"initial", "20ms"}, {"max", "100ms"}, {"factor", 2}}}}}}},
      {"thresholds", {{"errors", {"count == 0"}}, {"disconnected", {"max < 30s"}}}},
      {"steps", json::array({{{"repeat",
                               {{"times", 40},
                                {"steps", json::array({{{"send", {{"text", "m${iteration}"}}}},
                                                       {{"expect", {{"text", "m${iteration}"}}}},
                                                       {{"sleep", "20ms"}}})}}}},
                             {{"close", {{"code", 1000}}}}})}};
}

// Runs the scenario with --trace and kills the server once both connections are open.
struct KilledMidRun {
  int port = pick_free_port("127.0.0.1");
  std::optional<BackgroundServer> server;
  std::string out_file = temp_dir() + "/" + std::to_string(port) + "-drop.json";
  std::optional<Child> wslat;

  explicit KilledMidRun(const std::string& scenario_file) {
    serve_on(server, port);
    wslat.emplace(std::vector<std::string>{
        "run", scenario_file, "--target", "ws://127.0.0.1:" + std::to_string(port) + "/", "--env",
        "production", "--no-save", "--format", "text", "--export-json", out_file, "--trace", "2"});
    const bool both_open = wslat->pump_until(
        [this] {
          return wslat->err().find("trace c0 ") != std::string::npos &&
                 wslat->err().find("<- upgrade 101") != std::string::npos &&
                 wslat->err().find("trace c1 ") != std::string::npos &&
                 count("<- upgrade 101") >= 2;
        },
        30'000);
    INFO("stderr: " << wslat->err());
    REQUIRE(both_open);
    ::kill(server->pid(), SIGKILL);
    server.reset();
  }
  std::size_t count(const std::string& what) const {
    std::size_t n = 0;
    for (std::size_t at = wslat->err().find(what); at != std::string::npos;
         at = wslat->err().find(what, at + 1)) {
      ++n;
    }
    return n;
  }
};

TEST_CASE("reconnect: on_drop survives the server's restart mid-run and reports the outage") {
  const auto file = write_scenario("reconnect-restart", drop_scenario("reconnect-restart", 100));
  KilledMidRun run(file);
  serve_on(run.server, run.port);  // the same port: the users come back to the same address
  const int code = run.wslat->wait(60'000);
  INFO("stdout: " << run.wslat->out() << "\nstderr: " << run.wslat->err().substr(0, 6000));
  CHECK(code == 0);
  CHECK(run.wslat->err().find("<- drop") != std::string::npos);
  // The text report shows how long the users were disconnected.
  CHECK(run.wslat->out().find("disconnected") != std::string::npos);
  const json j = json::parse(read_file(run.out_file));
  INFO(j.dump(2).substr(0, 4000));
  CHECK(j["connections"]["opened"] == 2);
  CHECK(j["connections"]["failed"] == 0);
  CHECK(j["counters"]["reconnects"]["total"] == 2);  // each user once
  CHECK(j["metrics"]["disconnected"]["count"] == 2);
  CHECK(j["metrics"]["disconnected"]["max"].get<double>() > 0);
  CHECK(j["metrics"]["reconnect"]["count"] == 2);
  CHECK(j["metrics"]["reconnect"]["max"].get<double>() <=
        j["metrics"]["disconnected"]["max"].get<double>());
  CHECK(j["counters"]["msgs_received"]["total"] == 80);  // every echo, none lost to the drop
}

TEST_CASE("reconnect: a server that never comes back ends in reconnect.exhausted, bounded") {
  const auto file = write_scenario("reconnect-gone", drop_scenario("reconnect-gone", 4));
  KilledMidRun run(file);
  const auto killed = Clock::now();
  const int code = run.wslat->wait(60'000);
  const double took_ms = ms_since(killed);
  INFO("stdout: " << run.wslat->out() << "\nstderr: " << run.wslat->err().substr(0, 6000));
  CHECK(code == 1);  // the errors threshold failed
  // 4 refused tries with waits of 20, 40 and 80 ms: well under the 30 s slack for a busy host.
  CHECK(took_ms < 30'000);
  const json j = json::parse(read_file(run.out_file));
  INFO(j.dump(2).substr(0, 4000));
  CHECK(j["errors"]["reconnect.exhausted"] == 2);
  CHECK(j["counters"]["reconnect_failures"]["total"] == 8);
  const std::string example = j["error_examples"]["reconnect.exhausted"];
  CHECK(example.find("the connection was lost") != std::string::npos);
  CHECK(example.find("4 tries") != std::string::npos);
  CHECK(example.find("connect.refused") != std::string::npos);
}

json echo_once(const std::string& name) {
  return {
      {"name", name},
      {"load", {{"connections", 1}, {"concurrency", 1}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}}},
      {"on_drop", {{"reconnect", {{"attempts", 3}, {"backoff", {{"initial", "1ms"}}}}}}},
      {"steps", json::array({{{"send", {{"text", "hi"}}}}, {{"expect", {{"text", "hi"}}}}})}};
}

// The server's close frame is in, its TCP close not yet (the client waits for it): a send then
// is refused. That is the server's close, and with on_drop the session connects again; it
// failed with close.1001 before (py_raw_upgrade_server.py: "x" and a close 1001 on the first
// connection only, which it keeps open; an echo server after that).
TEST_CASE("reconnect: on_drop connects again when the server's close refuses a send") {
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_raw_upgrade_server.py",
                         "--then", "810178880203e9", "--then-once", "--linger"});
  json s = echo_once("reconnect-refused-send");
  s["steps"] = json::array({{{"expect", {{"text", "x"}}}},
                            {{"sleep", "50ms"}},  // the close frame is read meanwhile
                            {{"send", {{"text", "hi"}}}},
                            {{"expect", {{"text", "hi"}}}},
                            {{"close", {{"code", 1000}}}}});
  const auto file = write_scenario("reconnect-refused-send", s);
  const std::string out = temp_dir() + "/reconnect-refused-send-result.json";
  const auto r = run_wslat({"run", file, "--target", peer.url(), "--env", "production", "--no-save",
                            "--quiet", "--trace", "1", "--export-json", out},
                           std::chrono::seconds(60));
  REQUIRE_FALSE(r.timed_out);
  const json j = json::parse(read_file(out));
  INFO(j.dump(2).substr(0, 3000) << "\nstderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(j["errors"].empty());
  CHECK(j["counters"]["reconnects"]["total"] == 1);
  CHECK(r.err.find("<- drop close.1001") != std::string::npos);
}

TEST_CASE("reconnect: on_drop does not retry a protocol violation") {
  auto server = start_serve({"--mode", "invalid-utf8"});
  const auto file = write_scenario("reconnect-protocol", echo_once("reconnect-protocol"));
  const std::string out = temp_dir() + "/reconnect-protocol-result.json";
  const auto r = run_wslat({"run", file, "--target", server.url(), "--env", "production",
                            "--no-save", "--quiet", "--export-json", out},
                           std::chrono::seconds(60));
  REQUIRE_FALSE(r.timed_out);
  const json j = json::parse(read_file(out));
  INFO(j.dump(2).substr(0, 3000));
  CHECK(j["errors"]["protocol"] == 1);
  CHECK(j["counters"]["reconnects"]["total"] == 0);
  CHECK(j["counters"]["reconnect_failures"]["total"] == 0);
}

TEST_CASE("reconnect: a server that accepts and drops every time ends the session, bounded") {
  auto server = start_serve({"--mode", "reset-after-open"});  // RST at the first message
  const auto file = write_scenario("reconnect-flapping", echo_once("reconnect-flapping"));
  const std::string out = temp_dir() + "/reconnect-flapping-result.json";
  const auto r = run_wslat({"run", file, "--target", server.url(), "--env", "production",
                            "--no-save", "--quiet", "--export-json", out},
                           std::chrono::seconds(120));
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.wall_ms < 60'000);
  const json j = json::parse(read_file(out));
  INFO(j.dump(2).substr(0, 3000));
  CHECK(j["errors"]["reconnect.exhausted"] == 1);
  CHECK(j["counters"]["reconnects"]["total"] == 1000);
  const std::string example = j["error_examples"]["reconnect.exhausted"];
  CHECK(example.find("dropped the connection 1000 times") != std::string::npos);
}

}  // namespace
}  // namespace wslat::test
