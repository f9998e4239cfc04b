// Bounds: what a server or a command line can make wslat hold is bounded, and every bound hit
// is a named, counted error or a usage error (exit 64) — never unbounded memory, a silently
// ignored option or a misleading message. Loopback only; every run has a deadline.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

constexpr int kConnections = 3;

json scenario(const std::string& name, const std::string& url, json steps, json load = nullptr) {
  if (load.is_null()) load = {{"connections", kConnections}, {"concurrency", kConnections}};
  json s = {{"name", name},
            {"load", std::move(load)},
            {"timeouts",
             {{"connect", "2s"}, {"handshake", "2s"}, {"message", "2s"}, {"close", "1s"}}},
            {"steps", std::move(steps)}};
  if (!url.empty()) s["target"] = url;
  return s;
}

struct Run {
  ProcessResult process;
  json result;  // from --export-json ({} when the run wrote none)
};

Run run(const json& s, std::vector<std::string> extra = {},
        std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  const std::string name = s.at("name");
  const auto file = write_temp_file("bounds-" + name + ".json", s.dump(2));
  const auto exported = temp_dir() + "/bounds-" + name + ".result.json";
  std::vector<std::string> args{"run", file, "--env", "production", "--no-save", "--quiet",
                                "--export-json", exported};
  args.insert(args.end(), extra.begin(), extra.end());
  Run r;
  r.process = run_wslat(args, deadline);
  INFO("stderr: " << r.process.err);
  REQUIRE_FALSE(r.process.timed_out);
  const std::string text = read_file(exported);
  r.result = text.empty() ? json::object() : json::parse(text);
  return r;
}

// Every connection failed with `category` alone, after opening.
void check_all_failed_with(const Run& r, const std::string& category) {
  INFO("stderr: " << r.process.err);
  INFO("errors: " << r.result["errors"].dump());
  INFO("examples: " << r.result["error_examples"].dump());
  CHECK(r.result["connections"]["opened"] == kConnections);
  CHECK(r.result["errors"].value(category, 0) == kConnections);
  CHECK(r.result["errors"].size() == 1);
  CHECK(r.process.out.find(category) != std::string::npos);
  CHECK(r.process.exit_code == 1);
}

json sleep_then_close(const std::string& sleep) {
  return json::array({{{"connect", json::object()}},
                      {{"sleep", sleep}},
                      {{"close", {{"code", 1000}}}}});
}

// --- item 6: queues a server can fill ---------------------------------------------------------

TEST_CASE("bounds: a server ping flood fails the connection with ping.flood") {
  // Unbounded, websocketpp queued a pong per ping: 1.19 GB in 4.8 s on one connection.
  auto server = start_serve({"--mode", "ping-flood"});
  const auto r = run(scenario("ping-flood", server.url(), sleep_then_close("1s")));
  check_all_failed_with(r, "ping.flood");
  CHECK(r.result["error_examples"]["ping.flood"].get<std::string>().find("1024 pongs") !=
        std::string::npos);
}

TEST_CASE("bounds: unmatched messages piling up while no expect waits fail with message.flood") {
  auto server = start_serve({"--mode", "message-flood"});
  json steps = json::array({{{"connect", json::object()}},
                            {{"sleep", "1s"}},  // the flood arrives here, kept for the expect
                            {{"expect", {{"text", "never"}, {"within", "500ms"}}}},
                            {{"close", {{"code", 1000}}}}});
  const auto r = run(scenario("message-flood", server.url(), steps));
  check_all_failed_with(r, "message.flood");
}

TEST_CASE("bounds: sends to a server that stops reading fail with send.backlog") {
  auto server = start_serve({"--mode", "stall-reads"});
  // 40 MiB for a server that reads nothing: the bound is 16 MiB of queued sends.
  json steps = json::array(
      {{{"connect", json::object()}},
       {{"repeat", {{"times", 40}, {"steps", json::array({{{"send", {{"size", "1MiB"}}}}})}}}},
       {{"expect", {{"any", true}, {"within", "2s"}}}},
       {{"close", {{"code", 1000}}}}});
  const auto r = run(scenario("send-backlog", server.url(), steps));
  check_all_failed_with(r, "send.backlog");
  // Detected at the send, not after the expect's 2 s.
  CHECK(r.result["duration_ms"].get<double>() < 2000);
}

}  // namespace
}  // namespace wslat::test
