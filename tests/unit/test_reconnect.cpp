// Reconnects in the scenario model: the "reconnect" step and "on_drop" as parsed, their
// issues, the backoff waits, and what a reconnect step adds to the worst-case budget.
#include <chrono>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "scenario.hpp"

using namespace std::chrono_literals;

namespace {

wslat::Scenario parse_ok(const std::string& text) {
  try {
    return wslat::parse_scenario(text, "s.json", [](const std::string&) { return std::nullopt; });
  } catch (const wslat::ScenarioError& e) {
    FAIL("unexpected issues:\n" << e.what());
  }
  return {};
}

std::vector<wslat::ScenarioIssue> issues_of(const std::string& text) {
  try {
    wslat::parse_scenario(text, "s.json", [](const std::string&) { return std::nullopt; });
  } catch (const wslat::ScenarioError& e) {
    return e.issues();
  }
  FAIL("expected a ScenarioError for:\n" << text);
  return {};
}

}  // namespace

TEST_CASE("reconnect: the step's close and policy as parsed, defaults included") {
  const auto s = parse_ok(R"({"name": "t", "steps": [
    {"reconnect": {}},
    {"reconnect": {"close": "drop", "attempts": 3,
                   "backoff": {"initial": "10ms", "max": "50ms", "factor": 3, "jitter": 0.25}}}]})");
  REQUIRE(s.steps.size() == 3);  // the implied connect first
  const auto* clean = s.steps[1].as<wslat::ReconnectStep>();
  REQUIRE(clean != nullptr);
  CHECK_FALSE(clean->drop);
  CHECK(clean->policy.attempts == 1);
  const auto* drop = s.steps[2].as<wslat::ReconnectStep>();
  REQUIRE(drop != nullptr);
  CHECK(drop->drop);
  CHECK(drop->policy.attempts == 3);
  CHECK(drop->policy.initial == 10ms);
  CHECK(drop->policy.max == 50ms);
  CHECK(drop->policy.factor == 3);
  CHECK(drop->policy.jitter == 0.25);
  CHECK_FALSE(s.on_drop.has_value());
}

TEST_CASE("reconnect: on_drop defaults to 5 attempts, 100ms doubling up to 2s") {
  const auto s =
      parse_ok(R"({"name": "t", "on_drop": {"reconnect": {}}, "steps": [{"sleep": "1ms"}]})");
  REQUIRE(s.on_drop.has_value());
  CHECK(s.on_drop->attempts == 5);
  CHECK(s.on_drop->initial == 100ms);
  CHECK(s.on_drop->max == 2s);
  CHECK(s.on_drop->factor == 2);
  CHECK(s.on_drop->jitter == 0);
}

TEST_CASE("reconnect: the first try at once, then initial × factor^(k-2) up to max") {
  wslat::ReconnectPolicy p;
  p.attempts = 7;
  p.initial = 100ms;
  p.max = 1s;
  p.factor = 2;
  CHECK(p.delay(1) == 0ms);
  CHECK(p.delay(2) == 100ms);
  CHECK(p.delay(3) == 200ms);
  CHECK(p.delay(4) == 400ms);
  CHECK(p.delay(5) == 800ms);
  CHECK(p.delay(6) == 1s);
  CHECK(p.delay(1000) == 1s);  // saturates, never overflows
  CHECK(p.total_delay() == 100ms + 200ms + 400ms + 800ms + 1s + 1s);
  p.jitter = 0.5;
  CHECK(p.total_delay() == (100ms + 200ms + 400ms + 800ms + 1s + 1s) * 3 / 2);
}

TEST_CASE("reconnect: bad values are located issues that say what is expected") {
  const auto issues = issues_of(R"({"name": "t", "steps": [
    {"reconnect": {"close": "abrupt", "attempts": 0, "retries": 2,
                   "backoff": {"initial": "2s", "max": "1s", "factor": 0.5, "jitter": 2}}}],
    "on_drop": {"attempts": 3}})");
  std::vector<std::string> pointers;
  for (const auto& i : issues) pointers.push_back(i.pointer + ": " + i.message);
  const auto has = [&](const std::string& ptr, const std::string& words) {
    for (const auto& p : pointers) {
      if (p.rfind(ptr + ":", 0) == 0 && p.find(words) != std::string::npos) return true;
    }
    return false;
  };
  INFO(doctest::toString(pointers));
  CHECK(has("/steps/0/reconnect/close", "\"clean\""));
  CHECK(has("/steps/0/reconnect/attempts", "from 1 to 1000"));
  CHECK(has("/steps/0/reconnect/retries", "unknown key"));
  CHECK(has("/steps/0/reconnect/backoff/max", "shorter than \"initial\""));
  CHECK(has("/steps/0/reconnect/backoff/factor", "from 1 to 100"));
  CHECK(has("/steps/0/reconnect/backoff/jitter", "from 0 to 1"));
  CHECK(has("/on_drop/attempts", "unknown key"));
}

TEST_CASE("reconnect: the budget counts the close, every try and every wait") {
  const auto s = parse_ok(R"({"name": "t",
    "timeouts": {"connect": "1s", "handshake": "2s", "message": "5s", "close": "500ms"},
    "steps": [{"reconnect": {"attempts": 3, "backoff": {"initial": "100ms", "max": "1s"}}}]})");
  const auto budget = wslat::worst_case_budget(s, s.timeouts);
  // connect + handshake, the reconnect (close, 3 × 3s, 100ms + 200ms), the implicit close
  CHECK(budget.total == 3s + 500ms + 9s + 300ms + 500ms);
}
