// Data feeding through the real binary: each connection sends its own row of a CSV file and
// the embedded (echo) server's reply is matched by a templated expect; "unique" with too few
// rows for the planned connections fails before any connection.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

// A scenario next to users.csv (3 rows): each connection sends {"user": its row's user} and
// expects the echo of exactly that.
std::string data_scenario(const std::string& name, const std::string& order, int connections) {
  write_temp_file("users.csv", "user,token\nalice,t1\n\"bob, jr\",t2\ncarol,t3\n");
  const json s = {
      {"name", name},
      {"data", {{"file", "users.csv"}, {"order", order}}},
      {"load", {{"connections", connections}, {"concurrency", connections}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "5s"}}},
      {"headers", {{"X-Token", "${data:token}"}}},
      {"steps", json::array({{{"send", {{"json", {{"user", "${data:user}"}}}}}},
                             {{"expect", {{"json", {{"user", "${data:user}"}}}}}},
                             {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

}  // namespace

TEST_CASE("data: 3 connections each send their CSV row and match its echo") {
  const std::string file = data_scenario("data-rows", "unique", 3);
  const auto p = run_wslat({"run", file, "--env", "production", "--format", "json", "--no-save",
                            "--quiet", "--trace", "3", "--threads", "1"},
                           std::chrono::seconds(60));
  INFO("stderr: " << p.err);
  REQUIRE_FALSE(p.timed_out);
  CHECK(p.exit_code == 0);
  const json r = json::parse(p.out);
  CHECK(r["connections"]["opened"] == 3);
  CHECK(r["connections"]["failed"] == 0);
  // Each row was sent once, by its own connection (the trace shows the frames).
  CHECK(p.err.find("trace c0 ") != std::string::npos);
  CHECK(p.err.find(R"({"user":"alice"})") != std::string::npos);
  CHECK(p.err.find(R"({"user":"bob, jr"})") != std::string::npos);
  CHECK(p.err.find(R"({"user":"carol"})") != std::string::npos);
}

TEST_CASE("data: a shard takes the rows of its global connection indices") {
  // 3 connections over 2 shards: shard 1/2 runs connections 0 and 1, shard 2/2 connection 2,
  // which takes the third row (not the first row again).
  const std::string file = data_scenario("data-shard", "unique", 3);
  const auto p = run_wslat({"run", file, "--env", "production", "--format", "json", "--no-save",
                            "--quiet", "--trace", "3", "--shard", "2/2"},
                           std::chrono::seconds(60));
  INFO("stderr: " << p.err);
  REQUIRE_FALSE(p.timed_out);
  CHECK(p.exit_code == 0);
  CHECK(json::parse(p.out)["connections"]["opened"] == 1);
  CHECK(p.err.find(R"({"user":"carol"})") != std::string::npos);
  CHECK(p.err.find(R"({"user":"alice"})") == std::string::npos);
  // The row count is checked against the whole run, whichever shard this process is.
  const auto over = run_wslat({"run", file, "--env", "production", "--format", "json", "--no-save",
                               "--shard", "2/2", "--connections", "4"},
                              std::chrono::seconds(60));
  CHECK(over.exit_code == 64);
  CHECK(over.err.find("3 rows for 4 connections") != std::string::npos);
}

TEST_CASE("data: unique with fewer rows than connections is exit 64 before any connection") {
  const std::string file = data_scenario("data-unique", "unique", 3);
  // The file's own load fits; --connections 4 does not (counted after the flags).
  const auto ok = run_wslat({"validate", file});
  INFO("validate: " << ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("users.csv: 3 rows, unique order") != std::string::npos);
  const auto p = run_wslat({"run", file, "--env", "production", "--format", "json", "--no-save",
                            "--trace", "4", "--connections", "4"},
                           std::chrono::seconds(60));
  INFO("stderr: " << p.err);
  CHECK(p.exit_code == 64);
  CHECK(p.out.empty());
  CHECK(p.err.find(file + ":4:") != std::string::npos);  // where "order" is
  CHECK(p.err.find("/data/order: \"unique\" gives every connection its own row, but users.csv has "
                   "3 rows for 4 connections") != std::string::npos);
  CHECK(p.err.find("trace c") == std::string::npos);  // no frame: nothing connected
  // A sequential file reuses rows: the same load runs.
  const auto seq = run_wslat({"validate", data_scenario("data-seq", "sequential", 5)});
  CHECK(seq.exit_code == 0);
}

}  // namespace wslat::test
