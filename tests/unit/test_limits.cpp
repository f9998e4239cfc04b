// Hostile input to the parsers and the matcher: nesting depth, memory while locating issues,
// regexes against messages built to make backtracking engines explode, and profile numbers
// that would overflow a duration. Each must end in a located error or a fast answer.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "error.hpp"
#include "scenario.hpp"
#include "store.hpp"

using namespace std::chrono_literals;
using wslat::Scenario;
using wslat::ScenarioIssue;

namespace {

std::optional<std::string> no_env(const std::string&) { return std::nullopt; }

std::vector<ScenarioIssue> issues_of(const std::string& text) {
  try {
    wslat::parse_scenario(text, "s.json", no_env);
  } catch (const wslat::ScenarioError& e) {
    return e.issues();
  }
  FAIL("expected a ScenarioError");
  return {};
}

ScenarioIssue only_issue(const std::string& text) {
  const auto issues = issues_of(text);
  REQUIRE(issues.size() == 1);
  INFO(wslat::format_issue(issues.front()));
  return issues.front();
}

Scenario parse_ok(const std::string& text) {
  try {
    return wslat::parse_scenario(text, "s.json", no_env);
  } catch (const wslat::ScenarioError& e) {
    FAIL("unexpected issues:\n" << e.what());
  }
  return {};
}

}  // namespace

TEST_CASE("limits: a profile multiplier or margin that would overflow durations is rejected") {
  for (const std::string field : {"multiplier", "margin"}) {
    INFO(field);
    const auto issue =
        only_issue(R"({"name": "t", "steps": [{"sleep": "1ms"}], "environments": {"staging": {")" +
                   field + R"(": 1e308}}})");
    CHECK(issue.pointer == "/environments/staging/" + field);
    CHECK(issue.line == 1);
    CHECK(issue.message.find("1e+308") != std::string::npos);
  }
  // Tiny multipliers scaled every timeout to zero: the same bound below.
  const auto tiny = only_issue(R"({"name": "t", "steps": [{"sleep": "1ms"}],
    "environments": {"dev": {"multiplier": 1e-300}}})");
  CHECK(tiny.pointer == "/environments/dev/multiplier");
  // The bounds themselves are fine.
  const Scenario s = parse_ok(R"({"name": "t", "steps": [{"sleep": "1ms"}], "environments": {
    "dev": {"multiplier": 0.001, "margin": 0}, "staging": {"multiplier": 1000, "margin": 100}}})");
  CHECK(s.environments.at("staging").multiplier == std::optional<double>(1000));
}

