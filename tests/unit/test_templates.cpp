// Templates: ${env:NAME} at load, per-use placeholders, escapes, JSON-safe substitution.
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "scenario.hpp"

namespace {

wslat::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The compiled payload of a single send step.
wslat::Template send_payload(const std::string& send,
                             std::map<std::string, std::string> vars = {}) {
  const std::string text = R"({"name": "t", "steps": [{"send": )" + send + "}]}";
  const auto s = wslat::parse_scenario(text, "t.json", env_of(std::move(vars)));
  REQUIRE(s.steps.size() == 2);
  return s.steps[1].as<wslat::SendStep>()->payload;
}

std::string template_issue(const std::string& send) {
  const std::string text = R"({"name": "t", "steps": [{"send": )" + send + "}]}";
  try {
    wslat::parse_scenario(text, "t.json", env_of({}));
  } catch (const wslat::ScenarioError& e) {
    REQUIRE(e.issues().size() == 1);
    return e.issues()[0].message;
  }
  FAIL("expected a ScenarioError");
  return {};
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("templates: iteration and connection come from the context") {
  const auto t = send_payload(R"({"text": "c${connection}-i${iteration}"})");
  CHECK_FALSE(t.is_constant());
  CHECK(wslat::expand(t, {7, 3}) == "c7-i3");
  CHECK(wslat::expand(t, {0, 0}) == "c0-i0");
}

TEST_CASE("templates: now_ms is the unix epoch in milliseconds") {
  const auto t = send_payload(R"({"text": "${now_ms}"})");
  const std::int64_t before = now_ms();
  const std::int64_t value = std::stoll(wslat::expand(t, {}));
  const std::int64_t after = now_ms();
  CHECK(value >= before);
  CHECK(value <= after);
}

TEST_CASE("templates: uuid is a fresh random version 4 UUID on every use") {
  const auto t = send_payload(R"({"text": "${uuid}"})");
  const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  const std::string a = wslat::expand(t, {});
  const std::string b = wslat::expand(t, {});
  CHECK(std::regex_match(a, v4));
  CHECK(std::regex_match(b, v4));
  CHECK(a != b);
}

TEST_CASE("templates: $${ is a literal ${ and a lone $ stays") {
  const auto t = send_payload(R"({"text": "cost $5, $${iteration} and $$ ${iteration}"})");
  CHECK(wslat::expand(t, {0, 4}) == "cost $5, ${iteration} and $$ 4");
}

TEST_CASE("templates: env values are resolved at load, constant, and recorded as secrets") {
  const std::string text =
      R"({"name": "t", "headers": {"X-Key": "k=${env:KEY}"}, "steps": [{"send": {"text": "${env:KEY}"}}]})";
  const auto s = wslat::parse_scenario(text, "t.json", env_of({{"KEY", "s3cret"}}));
  CHECK(s.headers[0].second.is_constant());
  CHECK(wslat::expand(s.headers[0].second, {}) == "k=s3cret");
  CHECK(wslat::expand(s.steps[1].as<wslat::SendStep>()->payload, {}) == "s3cret");
  CHECK(s.secrets == std::vector<std::string>{"s3cret", "s3cret"});
}

TEST_CASE("templates: unknown and unterminated placeholders are issues") {
  const auto unknown = template_issue(R"({"text": "${iteraton}"})");
  CHECK(unknown.find("unknown placeholder ${iteraton}") != std::string::npos);
  CHECK(unknown.find("${uuid}") != std::string::npos);  // lists the accepted forms
  CHECK(template_issue(R"({"text": "a ${uuid"})").find("unterminated") != std::string::npos);
}

TEST_CASE("templates: the target takes ${env:...} only") {
  try {
    wslat::parse_scenario(
        R"({"name": "t", "target": "ws://h/${connection}", "steps": [{"sleep": "1s"}]})", "t.json",
        env_of({}));
    FAIL("expected a ScenarioError");
  } catch (const wslat::ScenarioError& e) {
    REQUIRE(e.issues().size() == 1);
    CHECK(e.issues()[0].pointer == "/target");
    CHECK(e.issues()[0].message.find("only ${env:NAME}") != std::string::npos);
  }
}

TEST_CASE("templates: json payloads stay valid JSON whatever an env value contains") {
  const std::string tricky = "a\"b\\c\nd</x>";
  const auto t = send_payload(
      R"({"json": {"type": "m", "text": "${env:V} #${iteration}", "n": [1, "${connection}"], "ok": true, "z": null}})",
      {{"V", tricky}});
  const std::string wire = wslat::expand(t, {5, 2});
  const auto parsed = nlohmann::json::parse(wire);  // throws if not valid JSON
  CHECK(parsed["type"] == "m");
  CHECK(parsed["text"] == tricky + " #2");
  CHECK(parsed["n"] == nlohmann::json::parse(R"([1, "5"])"));
  CHECK(parsed["ok"] == true);
  CHECK(parsed["z"].is_null());
  CHECK(wire.find('\n') == std::string::npos);  // compact, one frame of text
}

TEST_CASE("templates: a json payload without placeholders is constant and compact") {
  const auto t = send_payload(R"({"json": {"b": [1, 2.5], "a": "x"}})");
  CHECK(t.is_constant());
  CHECK(nlohmann::json::parse(wslat::expand(t, {})) ==
        nlohmann::json::parse(R"({"a": "x", "b": [1, 2.5]})"));
}
