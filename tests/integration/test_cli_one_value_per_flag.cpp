// Options that can be repeated (--threshold, --header, --gate, --target) take one value per
// flag: the scenario (or the result files) after them stays a positional, even when more
// options follow it. CLI11's vector options used to go on taking words.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

// An embedded echo: connect, one message, close.
std::string echo_scenario() {
  const json s = {{"name", "one-value-per-flag"},
                  {"target", "embedded"},
                  {"load", {{"connections", 1}, {"concurrency", 1}}},
                  {"steps", json::array({{{"connect", json::object()}},
                                         {{"send", {{"text", "hi"}}}},
                                         {{"expect", {{"text", "hi"}, {"within", "5s"}}}},
                                         {{"close", json::object()}}})}};
  return write_temp_file("one-value-per-flag.json", s.dump(2));
}

TEST_CASE(
    "wslat run: --threshold and --header and --gate before the scenario take one value each") {
  const std::string scenario = echo_scenario();
  const auto p =
      run_wslat({"run", "--threshold", "e2e: p95 < 2500ms", "--header", "X-Trace: 1", "--gate",
                 "e2e", scenario, "--env", "test", "--format", "json", "--no-save", "--quiet"});
  INFO("stderr: " << p.err);
  REQUIRE(p.exit_code == 0);
  const json r = json::parse(p.out);
  CHECK(r.at("request_headers").at("X-Trace") == "1");
  bool found = false;
  for (const auto& t : r.at("thresholds")) {
    if (t.at("metric") == "e2e" && t.at("expr") == "p95 < 2500ms") found = true;
  }
  CHECK(found);

  // compare: --gate before the two result files.
  const std::string result = write_temp_file("one-value-per-flag-result.json", p.out);
  const auto c = run_wslat({"compare", "--gate", "e2e", result, result, "--tolerance", "300%"});
  INFO("compare stderr: " << c.err);
  CHECK(c.exit_code == 0);
}

TEST_CASE("wslat run: a repeated flag still collects every value") {
  const auto p = run_wslat({"run", "--threshold", "e2e: p95 < 2500ms", "--threshold",
                            "handshake: p95 < 2700ms", echo_scenario(), "--env", "test", "--format",
                            "json", "--no-save", "--quiet"});
  INFO("stderr: " << p.err);
  REQUIRE(p.exit_code == 0);
  const json r = json::parse(p.out);
  int found = 0;
  for (const auto& t : r.at("thresholds")) {
    if (t.at("expr") == "p95 < 2500ms" || t.at("expr") == "p95 < 2700ms") ++found;
  }
  CHECK(found == 2);
}

TEST_CASE("wslat monitor: --threshold before the scenario takes one value") {
  const auto p = run_wslat({"monitor", "--threshold", "e2e: p95 < 2500ms", echo_scenario(), "--for",
                            "1s", "--every", "200ms", "--quiet", "--listen", "127.0.0.1:0"},
                           std::chrono::seconds(60));
  INFO("stderr: " << p.err);
  CHECK_FALSE(p.timed_out);
  CHECK(p.exit_code == 0);
}

}  // namespace
}  // namespace wslat::test
