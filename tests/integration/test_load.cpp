// Load models, shards and baselines through the real binary against `wslat serve`.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

std::string echo_scenario(const std::string& name, const std::string& url, const json& load) {
  json s = {
      {"name", name},
      {"target", url},
      {"load", load},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}}},
      {"steps", json::array({{{"connect", json::object()}},
                             {{"send", {{"text", "x"}}}},
                             {{"expect", {{"text", "x"}}}},
                             {{"close", json::object()}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

json run_json(const std::vector<std::string>& args, int* exit_code = nullptr) {
  std::vector<std::string> all{"run"};
  all.insert(all.end(), args.begin(), args.end());
  for (const char* a : {"--env", "production", "--format", "json", "--quiet"}) all.emplace_back(a);
  const auto r = run_wslat(all, std::chrono::seconds(90));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  if (exit_code != nullptr) *exit_code = r.exit_code;
  return json::parse(r.out);
}

TEST_CASE("open model at a sustainable rate recovers the injected handshake delay" *
          doctest::test_suite("timing")) {
  auto server = start_serve({"--handshake-delay", "50ms"});
  const auto file = echo_scenario("open-rate", server.url(),
                                  {{"rate", "40/s"}, {"duration", "1s"}, {"max_concurrency", 100}});
  int rc = -1;
  const json r = run_json({file, "--no-save"}, &rc);
  CHECK(rc == 0);
  CHECK(r["load"]["model"] == "open");
  CHECK(r["connections"]["attempted"] == 40);
  CHECK(r["load"]["dropped"] == 0);
  const double p50 = r["metrics"]["handshake"]["p50"];
  CHECK(p50 >= 49.5);
  CHECK(p50 <= 50 * 1.01 + 0.5 + 10);
}

TEST_CASE("open model with max_concurrency far too low reports late and dropped starts") {
  auto server = start_serve({"--echo-delay", "200ms"});
  const auto file = echo_scenario("open-starved", server.url(),
                                  {{"rate", "50/s"}, {"duration", "1s"}, {"max_concurrency", 2}});
  const json r = run_json({file, "--no-save"});
  const std::int64_t late = r["load"]["late_starts"];
  const std::int64_t dropped = r["load"]["dropped"];
  CHECK(late + dropped > 0);
  CHECK(dropped > 0);
  CHECK(r["load"]["achieved_rate"].get<double>() < 25.0);
  // A dropped arrival is an attempted connection that failed ("dropped"): the errors threshold
  // sees the load that was not applied (docs/design.md, "Design decisions").
  CHECK(r["connections"]["attempted"] == 50);
  CHECK(r["errors"].value("dropped", 0) == dropped);
  CHECK(r["connections"]["failed"].get<std::int64_t>() >= dropped);
  bool warned = false;
  for (const auto& w : r["warnings"]) {
    warned = warned ||
             w.get<std::string>().find("could not keep the intended schedule") != std::string::npos;
  }
  CHECK(warned);
  // The wait for a slot is charged: latency from the intended start, not the actual one.
  CHECK(r["metrics"]["e2e"]["max"].get<double>() > 300.0);
}

TEST_CASE("four shards merged equal one unsharded run") {
  auto server = start_serve();
  const auto file =
      echo_scenario("sharded", server.url(), {{"connections", 41}, {"concurrency", 4}});
  std::vector<std::string> merge_args{"merge"};
  std::int64_t total = 0;
  for (int i = 1; i <= 4; ++i) {
    const std::string out = temp_dir() + "/shard-" + std::to_string(i) + ".json";
    const json r =
        run_json({file, "--no-save", "--shard", std::to_string(i) + "/4", "--export-json", out});
    CHECK(r["connections"]["attempted"] == (i == 1 ? 11 : 10));
    total += r["connections"]["attempted"].get<std::int64_t>();
    merge_args.push_back(out);
  }
  CHECK(total == 41);
  const std::string merged_path = temp_dir() + "/merged.json";
  merge_args.insert(merge_args.end(), {"-o", merged_path, "--format", "json"});
  const auto m = run_wslat(merge_args);
  INFO(m.err);
  CHECK(m.exit_code == 0);
  const json merged = json::parse(m.out);
  CHECK(merged["connections"]["attempted"] == 41);
  CHECK(merged["metrics"]["handshake"]["count"] == 41);
  CHECK(merged["shards"] == 4);
  const json whole = run_json({file, "--no-save"});
  CHECK(whole["metrics"]["handshake"]["count"] == merged["metrics"]["handshake"]["count"]);
}

// The default worker count follows the CPUs wslat may run on (taskset, a container's cpuset),
// not the machine's: two event loops on one allowed core only take turns, and a lone worker
// keeps the process single-threaded (bench/README.md, "One thread"). --threads still wins.
TEST_CASE("the default worker count is the CPUs the process may run on") {
  if (run_process({"taskset", "-V"}).exit_code != 0) {
    MESSAGE("taskset not installed: skipped (apt-get install util-linux)");
    return;
  }
  auto server = start_serve({"--threads", "1"});
  const auto file =
      echo_scenario("affinity", server.url(), {{"connections", 8}, {"concurrency", 4}});
  const auto threads = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> cmd = {"taskset", "-c",         "0",         wslat_binary(),
                                    "run",     file,         "--no-save", "--quiet",
                                    "--env",   "production", "--format",  "json"};
    cmd.insert(cmd.end(), extra.begin(), extra.end());
    const auto r = run_process(cmd, std::chrono::seconds(60));
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["connections"]["opened"] == 8);
    return j["load"]["threads"].get<int>();
  };
  CHECK(threads({}) == 1);
  CHECK(threads({"--threads", "2"}) == 2);
}

// `wslat serve` too: pinned to one core it starts one worker thread by default, not one per core
// of the machine (the bench pins the embedded server to CPU 0).
TEST_CASE("serve starts a worker per CPU it may run on by default") {
  if (run_process({"taskset", "-V"}).exit_code != 0) {
    MESSAGE("taskset not installed: skipped (apt-get install util-linux)");
    return;
  }
  // The process's threads once it announced its URL (its workers are running by then).
  const auto threads = [](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"taskset", "-c", "0", wslat_binary(), "serve", "--port", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    BackgroundServer server(argv);
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(server.pid()) + "/task")) {
      ++n;
    }
    return n;
  };
  const std::size_t pinned = threads({});
  const std::size_t two = threads({"--threads", "2"});
  INFO("threads by default: " << pinned << ", with --threads 2: " << two);
  CHECK(pinned + 1 == two);
}

TEST_CASE("2000 concurrent connections from one process") {
  auto server = start_serve({"--threads", "2"});
  json s = {{"name", "c2000"},
            {"target", server.url()},
            {"load", {{"connections", 2000}, {"concurrency", 2000}}},
            {"timeouts", {{"connect", "20s"}, {"handshake", "20s"}, {"close", "10s"}}},
            {"steps", json::array({{{"connect", json::object()}},
                                   {{"sleep", "500ms"}},
                                   {{"close", json::object()}}})}};
  const auto file = write_temp_file("c2000.json", s.dump());
  int rc = -1;
  const json r = run_json({file, "--no-save"}, &rc);
  CHECK(r["connections"]["opened"] == 2000);
  CHECK(r["connections"]["failed"] == 0);
  CHECK(rc == 0);
}

TEST_CASE("baseline: the same server is not a regression but +20 ms handshake is" *
          doctest::test_suite("timing")) {
  const std::string dir = temp_dir() + "/baseline-results";
  ::mkdir(dir.c_str(), 0755);  // wslat creates no directories for files the user names
  const std::string baseline = dir + "/base.json";
  // One scenario file for both servers (same sha256); the target comes from --target.
  json s = json::parse(read_file(
      echo_scenario("gate", "ws://127.0.0.1:1/", {{"connections", 120}, {"concurrency", 2}})));
  s.erase("target");
  const auto file = write_temp_file("gate-no-target.json", s.dump(2));
  {
    auto server = start_serve();
    int rc = -1;
    run_json({file, "--target", server.url(), "--results-dir", dir, "--save-baseline", baseline},
             &rc);
    CHECK(rc == 0);
    const json same = run_json(
        {file, "--target", server.url(), "--results-dir", dir, "--baseline", baseline}, &rc);
    CHECK(rc == 0);
    CHECK(same["comparison"]["regressed"] == false);
  }
  auto slow = start_serve({"--handshake-delay", "20ms"});
  int rc = -1;
  const std::string junit = dir + "/junit.xml";
  const json r = run_json({file, "--target", slow.url(), "--results-dir", dir, "--baseline",
                           baseline, "--export-junit", junit},
                          &rc);
  CHECK(rc == 2);
  // What a CI consumer sees, through a real XML parser: a testcase per threshold and per
  // compared metric, the regressed handshake among the failures, counts that add up.
  const auto parsed =
      run_process({"/usr/bin/python3", source_dir() + "/tests/peers/junit_summary.py", junit});
  REQUIRE(parsed.exit_code == 0);
  const json xml = json::parse(parsed.out);
  int failures = 0;
  bool handshake_failed = false;
  for (const auto& c : xml["cases"]) {
    failures += c["outcome"] == "failure" ? 1 : 0;
    const std::string name = c["name"];
    if (c["outcome"] == "failure" && name.find("handshake") != std::string::npos &&
        c["classname"].get<std::string>().find("regression") != std::string::npos) {
      handshake_failed = true;
    }
  }
  CHECK(handshake_failed);
  CHECK(xml["declared"]["tests"] == xml["cases"].size());
  CHECK(xml["declared"]["failures"] == failures);
  CHECK(xml["cases"].size() >= r["thresholds"].size() + r["comparison"]["metrics"].size());
  CHECK(r["verdict"] == "regression");
  bool handshake_regressed = false;
  for (const auto& m : r["comparison"]["metrics"]) {
    if (m["metric"] == "handshake") handshake_regressed = m["verdict"] == "regressed";
  }
  CHECK(handshake_regressed);
}

}  // namespace
}  // namespace wslat::test

namespace wslat::test {
namespace {

TEST_CASE("connections spread over several loopback source addresses") {
  auto server = start_serve();
  const auto file =
      echo_scenario("sources", server.url(), {{"connections", 40}, {"concurrency", 8}});
  int rc = -1;
  const json r = run_json({file, "--no-save", "--source-addresses", "4"}, &rc);
  CHECK(rc == 0);
  CHECK(r["connections"]["opened"] == 40);
  const auto bad = run_wslat({"run", file, "--no-save", "--source-addresses", "4", "--target",
                              "ws://localhost:" + std::to_string(server.port()) + "/"});
  CHECK(bad.exit_code == 64);
  CHECK(bad.err.find("loopback IPv4") != std::string::npos);
}

}  // namespace
}  // namespace wslat::test
