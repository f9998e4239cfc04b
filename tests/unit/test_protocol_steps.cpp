// Application protocols: variables and captures, typed templates, correlation (templated
// expects), named steps, rules, binary matching and binary parts, and what validate catches.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "scenario.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using wslat::Expectation;
using wslat::ExpectStep;
using wslat::Scenario;
using wslat::SendStep;
using wslat::Vars;

Scenario parse(const json& doc) {
  return wslat::parse_scenario(doc.dump(), "t.json",
                               [](const std::string&) { return std::nullopt; });
}

Scenario with_steps(const json& steps, const json& extra = json::object()) {
  json doc = {{"name", "t"}, {"steps", steps}};
  for (const auto& [k, v] : extra.items()) doc[k] = v;
  return parse(doc);
}

// Every issue message of a scenario that does not parse (none: empty).
std::vector<std::string> issues(const json& steps, const json& extra = json::object()) {
  return wslat::test::issue_lines([&] { with_steps(steps, extra); });
}

using wslat::test::any_contains;

const ExpectStep& expect_at(const Scenario& s, std::size_t i) {
  const auto* e = s.steps.at(i).as<ExpectStep>();
  REQUIRE(e != nullptr);
  return *e;
}

const SendStep& send_at(const Scenario& s, std::size_t i) {
  const auto* e = s.steps.at(i).as<SendStep>();
  REQUIRE(e != nullptr);
  return *e;
}

}  // namespace

TEST_CASE("captures: a JSON pointer, a regex group and the whole text go into variables") {
  const Scenario s = with_steps(json::parse(R"J([
    {"expect": {"json": {"type": "welcome"}, "capture": {"id": {"json": "/id"}, "who": {"json": "/user/name"}}}},
    {"expect": {"regex": "^token ", "capture": {"tok": {"regex": "token (\\w+)"}, "all": {"text": true}}}},
    {"send": {"json": {"id": "${var:id}", "who": "${var:who}", "t": "${var:tok}", "s": "x ${var:id}"}}}
  ])J"));
  REQUIRE(s.variables.size() == 4);
  const auto all = static_cast<std::size_t>(
      std::find(s.variables.begin(), s.variables.end(), "all") - s.variables.begin());
  Vars vars;
  CHECK(Expectation(expect_at(s, 1), {})
            .match(R"({"type":"welcome","id":42,"user":{"name":"a\"b"}})", &vars));
  CHECK(Expectation(expect_at(s, 2), {}).match("token abc123 rest", &vars));
  CHECK(vars.at(all).text == "token abc123 rest");
  // A captured number stays a number where the placeholder is the whole value; inside a string
  // it is text; a captured string is escaped.
  const std::string sent = wslat::expand(send_at(s, 3).payload, {0, 0, &vars});
  CHECK(json::parse(sent) ==
        json::parse(R"({"id": 42, "who": "a\"b", "t": "abc123", "s": "x 42"})"));
}

TEST_CASE("captures: a message that lacks what the step captures does not match it") {
  const Scenario s = with_steps(json::parse(R"([
    {"expect": {"any": true, "capture": {"id": {"json": "/id"}}}},
    {"send": {"text": "${var:id}"}}
  ])"));
  Vars vars;
  CHECK_FALSE(Expectation(expect_at(s, 1), {}).match(R"({"other": 1})", &vars));
  CHECK_FALSE(Expectation(expect_at(s, 1), {}).match("not json", &vars));
  CHECK(Expectation(expect_at(s, 1), {}).match(R"({"id": "x"})", &vars));
  CHECK(vars.at(0).text == "x");
  CHECK_FALSE(vars.at(0).is_json);
}

TEST_CASE("templates: :number and :string choose the JSON type of a whole-value placeholder") {
  const Scenario s = with_steps(json::parse(R"([
    {"send": {"json": {"a": "${connection}", "b": "${connection:number}", "c": "${iteration:number}"}}},
    {"expect": {"any": true, "capture": {"n": {"json": "/n"}}}},
    {"send": {"json": {"x": "${var:n}", "y": "${var:n:string}", "z": "${var:n:number}"}}}
  ])"));
  CHECK(json::parse(wslat::expand(send_at(s, 1).payload, {7, 2})) ==
        json::parse(R"({"a": "7", "b": 7, "c": 2})"));
  Vars vars;
  REQUIRE(Expectation(expect_at(s, 2), {}).match(R"({"n": 5})", &vars));
  CHECK(json::parse(wslat::expand(send_at(s, 3).payload, {0, 0, &vars})) ==
        json::parse(R"({"x": 5, "y": "5", "z": 5})"));
  REQUIRE(Expectation(expect_at(s, 2), {}).match(R"({"n": "five"})", &vars));
  CHECK_THROWS_AS(wslat::expand(send_at(s, 3).payload, {0, 0, &vars}), wslat::TemplateError);
}

TEST_CASE("templates: a variable not captured on this connection is a TemplateError") {
  const Scenario s = with_steps(json::parse(R"([
    {"expect": {"any": true, "capture": {"v": {"text": true}}}},
    {"send": {"text": "v=${var:v}"}}
  ])"));
  CHECK_THROWS_WITH_AS(wslat::expand(send_at(s, 2).payload, {}),
                       doctest::Contains("${var:v} has not been captured"), wslat::TemplateError);
  Vars vars;
  REQUIRE(Expectation(expect_at(s, 1), {}).match("hi", &vars));
  CHECK(wslat::expand(send_at(s, 2).payload, {0, 0, &vars}) == "v=hi");
}

TEST_CASE("correlation: a templated expect matches only the reply carrying this connection's id") {
  const Scenario s = with_steps(json::parse(R"([
    {"repeat": {"times": 3, "steps": [
      {"send": {"json": {"jsonrpc": "2.0", "id": "${iteration:number}", "method": "echo"}, "name": "call"}}]}},
    {"repeat": {"times": 3, "steps": [
      {"expect": {"json": {"id": "${iteration:number}"}, "name": "call"}}]}},
    {"expect": {"regex": "^43${iteration}\\[", "name": "ack"}},
    {"expect": {"text": "hello ${connection}"}}
  ])"));
  const auto& by_id = *s.steps.at(2).as<wslat::RepeatStep>()->steps.at(0).as<ExpectStep>();
  CHECK(Expectation(by_id, {0, 1}).match(R"({"jsonrpc":"2.0","id":1,"result":1})", nullptr));
  CHECK_FALSE(Expectation(by_id, {0, 1}).match(R"({"jsonrpc":"2.0","id":2,"result":1})", nullptr));
  CHECK_FALSE(Expectation(by_id, {0, 1}).match(R"({"jsonrpc":"2.0","id":"1"})", nullptr));
  // In a regex the value matches literally; in text exactly.
  CHECK(Expectation(expect_at(s, 3), {0, 0}).match(R"(430[{"echo":1}])", nullptr));
  CHECK_FALSE(Expectation(expect_at(s, 3), {0, 0}).match(R"(4301[{"echo":1}])", nullptr));
  CHECK(Expectation(expect_at(s, 3), {0, 1}).match(R"(431[{"echo":1}])", nullptr));
  CHECK(Expectation(expect_at(s, 4), {12, 0}).match("hello 12", nullptr));
  CHECK_FALSE(Expectation(expect_at(s, 4), {12, 0}).match("hello 13", nullptr));
}

TEST_CASE("named steps: each expect name is a metric rtt.<name>, paired with sends of that name") {
  const Scenario s = with_steps(json::parse(R"([
    {"expect": {"any": true, "name": "welcome"}},
    {"send": {"text": "a", "name": "chat"}},
    {"expect": {"any": true, "name": "chat"}},
    {"send": {"text": "b"}},
    {"expect": {"any": true}}
  ])"),
                                json::parse(R"({"thresholds": {"rtt.chat": ["p95 < 200ms"]}})"));
  CHECK(s.step_metrics == std::vector<std::string>{"rtt.welcome", "rtt.chat"});
  REQUIRE(s.step_metric_notes.size() == 2);
  CHECK(s.step_metric_notes[1] == "from send /steps/1 to expect /steps/2 (\"chat\")");
  CHECK(expect_at(s, 1).pair == SendStep::kNoPair);
  CHECK(expect_at(s, 3).metric == 1);
  CHECK(expect_at(s, 3).pair == send_at(s, 2).pair);
  CHECK(expect_at(s, 5).metric == ExpectStep::kNoMetric);
  CHECK(s.paired_sends == 1);
}

TEST_CASE("binary: exact bytes, ?? for any byte, and a prefix") {
  const Scenario s = with_steps(json::parse(R"([
    {"expect": {"binary": "20 02 00 00"}},
    {"expect": {"binary": "90 03 ?? ?? 00"}},
    {"expect": {"binary_prefix": "30"}}
  ])"));
  using std::string;
  CHECK(wslat::matches(expect_at(s, 1), string("\x20\x02\x00\x00", 4)));
  CHECK_FALSE(wslat::matches(expect_at(s, 1), string("\x20\x02\x00\x01", 4)));
  CHECK_FALSE(wslat::matches(expect_at(s, 1), string("\x20\x02\x00\x00\x00", 5)));
  CHECK(wslat::matches(expect_at(s, 2), string("\x90\x03\x12\x34\x00", 5)));
  CHECK_FALSE(wslat::matches(expect_at(s, 2), string("\x90\x03\x12\x34\x80", 5)));
  CHECK(wslat::matches(expect_at(s, 3), string("\x30\x10topic", 7)));
  CHECK_FALSE(wslat::matches(expect_at(s, 3), string("\x31", 1)));
  CHECK(Expectation(expect_at(s, 2), {}).describe() == "binary 9003????00");
}

TEST_CASE("binary: parts build MQTT packets with length prefixes from templates") {
  const Scenario s = with_steps(json::parse(R"([
    {"send": {"binary": ["30", {"length": "varint", "of": [
      {"length": "u16", "of": [{"text": "t/${connection}"}]}, {"text": "hi"}]}]}},
    {"send": {"binary": [{"u16": "${iteration}"}, {"u8": 255}, {"u32": 1}]}}
  ])"));
  const std::string publish = wslat::build_binary(send_at(s, 1).parts, {42, 0});
  CHECK(publish == std::string("\x30\x08\x00\x04t/42hi", 10));
  CHECK(wslat::build_binary(send_at(s, 2).parts, {0, 258}) ==
        std::string("\x01\x02\xff\x00\x00\x00\x01", 7));
  CHECK_THROWS_AS(wslat::build_binary(send_at(s, 2).parts, {0, 70000}), wslat::TemplateError);
  // A varint of 200 takes two bytes.
  const Scenario big =
      with_steps(json::parse(R"([{"send": {"binary": [{"length": "varint", "of": [{"text": ")" +
                             std::string(200, 'x') + R"("}]}]}}])"));
  CHECK(wslat::build_binary(send_at(big, 1).parts, {}).substr(0, 2) == "\xc8\x01");
}

TEST_CASE("rules: answer a message, send periodically, pass a message on") {
  const Scenario s =
      with_steps(json::parse(R"([{"expect": {"any": true}}])"), json::parse(R"({"on": [
        {"message": {"text": "2"}, "send": {"text": "3"}},
        {"every": "25s", "send": {"json": {"type": "ping"}}},
        {"message": {"json": {"type": "token"}, "capture": {"tok": {"json": "/value"}}}, "pass": true}
      ]})"));
  REQUIRE(s.rules.size() == 3);
  CHECK(s.rules[0].when.has_value());
  CHECK(s.rules[0].reply.has_value());
  CHECK_FALSE(s.rules[0].pass);
  CHECK(s.rules[1].every == wslat::Duration(std::chrono::seconds(25)));
  CHECK(s.rules[2].pass);
  CHECK(s.rules[2].when->captures.size() == 1);
}

TEST_CASE("validate: unknown, early and misplaced variables and captures are located errors") {
  SUBCASE("a variable nothing captures") {
    const auto found = issues(json::parse(R"([{"send": {"text": "${var:tokn}"}},
      {"expect": {"any": true, "capture": {"token": {"text": true}}}}])"));
    CHECK(any_contains(found, "/steps/0/send/text: ${var:tokn} is used") == false);
    CHECK(any_contains(found, "unknown variable ${var:tokn}: no step or rule captures it"));
    CHECK(any_contains(found, "did you mean"));
  }
  SUBCASE("a correlation template that uses a variable captured only later") {
    const auto found = issues(json::parse(R"([{"expect": {"json": {"id": "${var:id}"}}},
      {"expect": {"any": true, "capture": {"id": {"json": "/id"}}}}])"));
    CHECK(any_contains(found, "/steps/0/expect/json/id: ${var:id} is used before it is captured"));
  }
  SUBCASE("a variable a rule captures may be used anywhere") {
    CHECK(issues(json::parse(R"([{"send": {"text": "${var:t}"}}])"),
                 json::parse(
                     R"({"on": [{"message": {"any": true, "capture": {"t": {"text": true}}}}]})"))
              .empty());
  }
  SUBCASE("headers are sent before any message: a message capture cannot feed them") {
    const auto found =
        issues(json::parse(R"([{"expect": {"any": true, "capture": {"t": {"text": true}}}}])"),
               json::parse(R"({"headers": {"X-T": "${var:t}"}})"));
    CHECK(any_contains(found, "/headers/X-T: ${var:t} is used before it is captured"));
  }
  SUBCASE("a capture from a message kind that cannot have it") {
    const auto found = issues(json::parse(R"([
      {"connect": {"capture": {"a": {"json": "/x"}}}},
      {"expect": {"any": true, "capture": {"b": {"header": "Set-Cookie"}}}},
      {"expect": {"binary": "00", "capture": {"c": {"json": "/x"}}}}])"));
    CHECK(any_contains(found, "/steps/0/connect/capture/a: the upgrade response has no message"));
    CHECK(any_contains(found, "/steps/1/expect/capture/b: a message has no header"));
    CHECK(any_contains(found, "/steps/2/expect/capture/c/json: a binary message has no JSON"));
  }
  SUBCASE("a threshold on a step name no expect has, and a named send nothing answers") {
    const auto found = issues(
        json::parse(
            R"([{"send": {"text": "a", "name": "chat"}}, {"expect": {"any": true, "name": "chats"}}])"),
        json::parse(R"({"thresholds": {"rtt.chta": ["p95 < 1s"]}})"));
    CHECK(any_contains(found, "no expect is named \"chta\""));
    CHECK(any_contains(found, "/steps/0/send/name: no expect is named \"chat\""));
  }
  SUBCASE("bad hex, bad parts, a periodic rule without send") {
    const auto found =
        issues(json::parse(R"([{"expect": {"binary": "9g"}}, {"send": {"binary": [{"u24": 1}]}}])"),
               json::parse(R"({"on": [{"message": {"any": true}}, {"every": "1s"}]})"));
    CHECK(any_contains(found, "/steps/0/expect/binary: \"9g\" is not hex bytes"));
    CHECK(any_contains(found, "/steps/1/send/binary/0: "));
    CHECK(any_contains(found, "/on/1: a rule with \"every\" needs \"send\""));
  }
}
