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

std::string with_steps(const std::string& steps) {
  return "{\"name\": \"t\", \"steps\": [" + steps + "]}";
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// Peak resident memory of this process (each doctest case runs in its own process).
long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// The expectation of the regex step of a scenario whose only step is `expect: {regex}`.
wslat::ExpectStep regex_expect(const std::string& pattern_json) {
  const Scenario s = parse_ok(with_steps(R"({"expect": {"regex": )" + pattern_json + "}}"));
  REQUIRE(s.steps.size() == 2);
  return (*s.steps[1].as<wslat::ExpectStep>());
}

}  // namespace

TEST_CASE("limits: 50,000 nested arrays (100 KB) are a located error, not a crash") {
  const long before = peak_rss_kib();
  const auto issue = only_issue(nested_arrays(50'000));
  CHECK(issue.line == 1);
  CHECK(issue.column == 129);  // the bracket that opens level 129
  CHECK(issue.message.find("nested deeper than 128") != std::string::npos);
  // It once took 4.9 GB (a JSON pointer per level, each as long as its depth).
  CHECK(peak_rss_kib() - before < 64 * 1024);
}

TEST_CASE("limits: send.json, expect.json and repeat nested 10,000 deep are located errors") {
  const std::string deep_json = nested_arrays(10'000);
  for (const std::string& step :
       {R"({"send": {"json": )" + deep_json + "}}", R"({"expect": {"json": )" + deep_json + "}}"}) {
    const auto issue = only_issue(with_steps(step));
    INFO(step.substr(0, 40));
    CHECK(issue.line == 1);
    CHECK(issue.message.find("nested deeper than 128") != std::string::npos);
  }
  std::string repeat;
  for (int i = 0; i < 10'000; ++i) repeat += R"({"repeat": {"times": 1, "steps": [)";
  repeat += R"({"sleep": "1ms"})";
  for (int i = 0; i < 10'000; ++i) repeat += "]}}";
  const auto issue = only_issue(with_steps(repeat));
  CHECK(issue.message.find("nested deeper than 128") != std::string::npos);
}

TEST_CASE("limits: JSON nested exactly 128 deep is accepted, 129 is not") {
  // The file is level 1, steps 2, the step 3, expect 4, its json value 5 and deeper.
  const auto expect_json = [](std::size_t depth) {
    return with_steps(R"({"expect": {"json": )" + nested_arrays(depth) + "}}");
  };
  const Scenario s = parse_ok(expect_json(124));
  CHECK((*s.steps[1].as<wslat::ExpectStep>()).kind == wslat::ExpectStep::Kind::kJson);
  const auto issue = only_issue(expect_json(125));
  CHECK(issue.line == 1);
  CHECK(issue.column == 44 + 125);  // `{"name": "t", "steps": [{"expect": {"json": `, 125th [
}

TEST_CASE("limits: locating issues takes memory linear in the file (a long key over many values)") {
  // An unknown profile named by a 16 KiB key over 20,000 values: the old scanner stored a
  // JSON pointer (the key included) for each value, 330 MB for this 60 KB file.
  std::string values;
  for (int i = 0; i < 20'000; ++i) values += i == 0 ? "0" : ",0";
  const std::string key(16 * 1024, 'k');
  const std::string text = R"({"name": "t", "steps": [{"sleep": "1ms"}],
  "environments": {")" + key +
                           R"(": [)" + values + "]}}";
  const long before = peak_rss_kib();
  const auto issue = only_issue(text);
  CHECK(issue.line == 2);
  CHECK(issue.column == 20);  // the key
  CHECK(issue.message.find("unknown profile") != std::string::npos);
  CHECK(peak_rss_kib() - before < 64 * 1024);
}

TEST_CASE("limits: (a+)+$ against 100 KiB of runs of a's ending in b answers at once") {
  const auto expect = regex_expect(R"("(a+)+$")");
  // 3,200 runs of 31 a's and a b: a backtracking engine tries 2^31 ways per run (it took
  // 7.2 s for a single run of 27), also within the first 16 KiB it was once limited to.
  std::string hostile;
  for (int i = 0; i < 3'200; ++i) hostile += std::string(31, 'a') + "b";
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(wslat::matches(expect, hostile));
  CHECK(wslat::matches(expect, hostile + "a"));
  // RE2 is linear (well under a millisecond here); 2 s leaves room for a sanitizer build on a
  // busy machine.
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("limits: a regex sees the whole message, beyond 16 KiB") {
  const auto expect = regex_expect(R"("z$")");
  CHECK(wslat::matches(expect, std::string(20 * 1024, 'x') + "z"));
  CHECK(wslat::matches(expect, std::string(4 * 1024 * 1024, 'x') + "z"));
  CHECK_FALSE(wslat::matches(expect, std::string(20 * 1024, 'x') + "zx"));
}

TEST_CASE("limits: what RE2 cannot express (backreferences, lookaround) is a located error") {
  for (const std::string pattern : {R"x("(a)\\1")x", R"x("a(?=b)")x", R"x("(?<!a)b")x"}) {
    INFO(pattern);
    const auto issue = only_issue(with_steps(R"({"expect": {"regex": )" + pattern + "}}"));
    CHECK(issue.pointer == "/steps/0/expect/regex");
    CHECK(issue.line == 1);
    CHECK(issue.column == 46);
    CHECK(issue.message.find("is not a valid regular expression") != std::string::npos);
    CHECK(issue.message.find("RE2") != std::string::npos);
  }
}

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

TEST_CASE("limits: a result or baseline file nested 50,000 deep is refused with its location") {
  const auto path =
      (std::filesystem::temp_directory_path() / "wslat-limits-deep-result.json").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\"schema\": " << nested_arrays(50'000) << "}";
  }
  std::string message;
  try {
    (void)wslat::load_result_file(path);
  } catch (const wslat::UsageError& e) {
    message = e.what();
  }
  std::remove(path.c_str());
  INFO(message);
  // The object is level 1: its 128th '[' (column 139) opens level 129.
  CHECK(message.find(path + ": not valid JSON at line 1 column 139") != std::string::npos);
  CHECK(message.find("nested deeper than 128") != std::string::npos);
}
