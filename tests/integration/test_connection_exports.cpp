// `wslat run --export-csv FILE --export-ndjson FILE`: one record per connection with its
// phases and outcome, read back with Python's csv module and a JSON parser per line; files the
// run cannot write fail it before it connects and leave nothing behind.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kConnections = 20;

// Roles "ok" (3 of 4: echo answered) and "bad" (1 of 4: waits 300 ms for a message that never
// comes, so it fails with message.timeout@bad).
std::string roles_scenario(const std::string& url) {
  const json ok = json::array({{{"send", {{"text", "hi, \"there\""}}}},
                               {{"expect", {{"text", "hi, \"there\""}}}},
                               {{"close", {{"code", 1000}}}}});
  const json bad = json::array(
      {{{"send", {{"text", "hi"}}}}, {{"expect", {{"text", "never"}, {"within", "300ms"}}}}});
  const json s = {
      {"name", "exports"},
      {"target", url},
      {"load", {{"connections", kConnections}, {"concurrency", 4}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}}},
      {"roles", {{"ok", {{"count", 3}, {"steps", ok}}}, {"bad", {{"count", 1}, {"steps", bad}}}}}};
  return write_temp_file("exports.json", s.dump(2));
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = temp_dir() + "/" + name;
  fs::create_directories(dir);
  return dir;
}

// The CSV as Python's csv.DictReader reads it, as a JSON array of objects.
json read_csv(const std::string& path) {
  const auto p = run_process({"/usr/bin/python3", "-c",
                              "import csv, json, sys\n"
                              "with open(sys.argv[1], newline='') as f:\n"
                              "    print(json.dumps(list(csv.DictReader(f))))\n",
                              path});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  return json::parse(p.out);
}

TEST_CASE(
    "--export-csv and --export-ndjson: one record per connection with its phases and role "
    "and failure category" *
    doctest::test_suite("timing")) {
  auto server = start_serve({"--handshake-delay", "40ms"});
  const std::string dir = fresh_dir("exports-both");
  const std::string csv = dir + "/c.csv", ndjson = dir + "/c.ndjson";
  const auto p =
      run_wslat({"run", roles_scenario(server.url()), "--env", "production", "--format", "json",
                 "--no-save", "--quiet", "--export-csv", csv, "--export-ndjson", ndjson});
  INFO("stderr: " << p.err);
  REQUIRE_FALSE(p.timed_out);
  const json result = json::parse(p.out);
  CHECK(result["errors"] == json{{"message.timeout@bad", kConnections / 4}});

  const json rows = read_csv(csv);
  REQUIRE(rows.size() == kConnections);
  std::set<std::string> indexes;
  std::set<int> bad_slots;
  int bad_rows = 0;
  for (const json& row : rows) {
    INFO(row.dump());
    indexes.insert(row["index"].get<std::string>());
    CHECK(std::stod(row["handshake_ms"].get<std::string>()) >= 40 * 0.99 - 0.5);
    CHECK(std::stod(row["tcp_ms"].get<std::string>()) >= 0);
    CHECK(row["login_ms"] == "");                              // no login step
    CHECK(row["start_time"].get<std::string>().size() == 24);  // 2026-11-30T10:31:37.123Z
    const int index = std::stoi(row["index"].get<std::string>());
    if (row["role"] == "bad") {  // one index in four (roles take i mod 4 in their order)
      bad_slots.insert(index % 4);
      ++bad_rows;
      CHECK(row["outcome"] == "error");
      CHECK(row["category"] == "message.timeout@bad");
      CHECK(row["message"] != "");
      CHECK(row["session_ms"] == "");
      CHECK(row["rtt_count"] == "0");
    } else {
      CHECK(row["role"] == "ok");
      CHECK(row["outcome"] == "ok");
      CHECK(row["category"] == "");
      CHECK(row["rtt_count"] == "1");
      CHECK(std::stod(row["session_ms"].get<std::string>()) >=
            std::stod(row["handshake_ms"].get<std::string>()));
      CHECK(row["rtt_min_ms"] == row["rtt_max_ms"]);
    }
  }
  CHECK(indexes.size() == kConnections);
  CHECK(bad_rows == kConnections / 4);
  CHECK(bad_slots.size() == 1);

  std::ifstream in(ndjson);
  std::string line;
  int lines = 0, failed = 0;
  while (std::getline(in, line)) {
    INFO(line);
    const json j = json::parse(line);  // each line on its own
    ++lines;
    CHECK(j["phases_ms"]["handshake"].get<double>() >= 40 * 0.99 - 0.5);
    CHECK(j["start_ms"].get<double>() >= 0);
    if (j["outcome"] == "error") {
      ++failed;
      CHECK(j["category"] == "message.timeout@bad");
      CHECK(j["role"] == "bad");
      CHECK_FALSE(j.contains("rtt_ms"));
    } else {
      CHECK(j["rtt_ms"]["count"] == 1);
      CHECK(j["phases_ms"].contains("session"));
    }
  }
  CHECK(lines == kConnections);
  CHECK(failed == kConnections / 4);
  CHECK(files_under(dir).size() == 2);  // no temp file left
}

TEST_CASE(
    "an --export-csv path that cannot be written fails the run before it connects and "
    "leaves the other export untouched") {
  auto server = start_serve();
  const std::string dir = fresh_dir("exports-unwritable");
  const std::string ndjson = dir + "/keep.ndjson";
  { std::ofstream(ndjson) << "old\n"; }
  for (const std::string& bad : {dir + "/missing/c.csv", dir}) {
    INFO(bad);
    const auto p = run_wslat({"run", roles_scenario(server.url()), "--no-save", "--quiet",
                              "--export-ndjson", ndjson, "--export-csv", bad});
    INFO("stderr: " << p.err);
    CHECK(p.exit_code == 3);
    CHECK(p.err.find(bad) != std::string::npos);
    CHECK(p.out.empty());  // no report: nothing ran
    CHECK(read_file(ndjson) == "old\n");
    CHECK(files_under(dir) == std::vector<std::string>{ndjson});
  }
}

}  // namespace
}  // namespace wslat::test
