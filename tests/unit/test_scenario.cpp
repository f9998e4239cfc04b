// Scenario parsing: every class of problem is reported with its line:column and pointer,
// all at once; flatten, matches and the worst-case timeout budget.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "error.hpp"
#include "scenario.hpp"

using namespace std::chrono_literals;
using wslat::Scenario;
using wslat::ScenarioIssue;
using wslat::Step;

namespace {

wslat::EnvLookup fake_env(std::map<std::string, std::string> vars = {}) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Scenario parse_ok(const std::string& text, std::map<std::string, std::string> vars = {}) {
  try {
    return wslat::parse_scenario(text, "s.json", fake_env(std::move(vars)));
  } catch (const wslat::ScenarioError& e) {
    FAIL("unexpected issues:\n" << e.what());
  }
  return {};
}

std::vector<ScenarioIssue> issues_of(const std::string& text,
                                     std::map<std::string, std::string> vars = {}) {
  try {
    wslat::parse_scenario(text, "s.json", fake_env(std::move(vars)));
  } catch (const wslat::ScenarioError& e) {
    return e.issues();
  }
  FAIL("expected a ScenarioError for:\n" << text);
  return {};
}

// The single issue of a file that has exactly one problem.
ScenarioIssue only_issue(const std::string& text, std::map<std::string, std::string> vars = {}) {
  const auto issues = issues_of(text, std::move(vars));
  REQUIRE(issues.size() == 1);
  INFO(wslat::format_issue(issues.front()));
  return issues.front();
}

std::string with_steps(const std::string& steps) {
  return "{\"name\": \"t\", \"steps\": [" + steps + "]}";
}

const char* kSpecExample = R"({
  "name": "chat-golden-path",
  "target": "ws://127.0.0.1:8080/ws",
  "headers": {"Authorization": "Bearer ${env:CHAT_TOKEN}"},
  "subprotocols": ["chat.v1"],
  "load": {"connections": 200, "concurrency": 20},
  "timeouts": {"connect": "5s", "handshake": "5s", "message": "5s", "close": "2s"},
  "steps": [
    {"connect": {}},
    {"expect": {"json": {"type": "connection_established"}, "within": "2s", "mark": "ready"}},
    {"send": {"json": {"type": "user_message", "text": "hello ${iteration}"}}},
    {"expect": {"json": {"type": "user_message"}, "within": "1s"}},
    {"repeat": {"times": 5, "steps": [{"send": {"text": "ping"}}, {"expect": {"text": "ping"}}]}},
    {"sleep": "100ms"},
    {"close": {"code": 1000}}
  ],
  "thresholds": {
    "handshake": ["p95 < 3s"],
    "e2e": ["p95 < 1s"],
    "perceived": ["p95 < 2s"],
    "errors": ["rate < 1%"]
  },
  "environments": {"staging": {"multiplier": 0.8}}
})";

}  // namespace

TEST_CASE("scenario: the chat example of the docs parses into the values it states") {
  const Scenario s = parse_ok(kSpecExample, {{"CHAT_TOKEN", "tok-123"}});
  CHECK(s.name == "chat-golden-path");
  CHECK(s.target == "ws://127.0.0.1:8080/ws");
  REQUIRE(s.headers.size() == 1);
  CHECK(s.headers[0].first == "Authorization");
  CHECK(wslat::expand(s.headers[0].second, {}) == "Bearer tok-123");
  CHECK(s.secrets == std::vector<std::string>{"tok-123"});
  CHECK(s.subprotocols == std::vector<std::string>{"chat.v1"});
  CHECK(s.load.connections == 200);
  CHECK(s.load.concurrency == 20);
  CHECK_FALSE(s.load.open_model());
  CHECK(s.timeouts.connect == 5s);
  CHECK(s.timeouts.close == 2s);
  REQUIRE(s.steps.size() == 7);
  CHECK(s.steps[0].is<wslat::ConnectStep>());
  REQUIRE(s.steps[1].is<wslat::ExpectStep>());
  CHECK(s.steps[1].as<wslat::ExpectStep>()->mark == "ready");
  CHECK(s.steps[1].as<wslat::ExpectStep>()->within == std::optional<wslat::Duration>(2s));
  CHECK(s.steps[1].pointer == "/steps/1");
  const auto* repeat = s.steps[4].as<wslat::RepeatStep>();
  REQUIRE(repeat != nullptr);
  CHECK(repeat->times == 5);
  CHECK(repeat->steps[1].pointer == "/steps/4/repeat/steps/1");
  REQUIRE(s.steps[5].is<wslat::SleepStep>());
  CHECK(s.steps[5].as<wslat::SleepStep>()->duration == 100ms);
  REQUIRE(s.steps[6].is<wslat::CloseStep>());
  CHECK(s.steps[6].as<wslat::CloseStep>()->code == 1000);
  REQUIRE(s.thresholds.size() == 4);
  CHECK(s.thresholds[0].metric == "handshake");  // file order, not alphabetical
  CHECK(s.thresholds[1].pointer == "/thresholds/e2e/0");
  CHECK_FALSE(s.thresholds_defaulted);
  REQUIRE(s.environments.count("staging") == 1);
  CHECK(s.environments.at("staging").multiplier == std::optional<double>(0.8));
}

TEST_CASE("scenario: sha256 is of the file bytes") {
  const Scenario s = parse_ok(R"({"name":"h","steps":[{"sleep":"1ms"}]})");
  CHECK(s.sha256 == "e082abb1d0034e063eb05d8ace8bbd18217856ca9c6aed1b3be8281c93c83483");
}

TEST_CASE("scenario: defaults: embedded target, implied connect, default thresholds") {
  const Scenario s = parse_ok(with_steps(R"({"send": {"text": "hi"}})"));
  CHECK(s.target.empty());
  REQUIRE(s.steps.size() == 2);
  CHECK(s.steps[0].is<wslat::ConnectStep>());
  CHECK(s.steps[1].is<wslat::SendStep>());
  CHECK(s.thresholds_defaulted);
  REQUIRE(s.thresholds.size() == 4);
  CHECK(s.thresholds[0].expr == "p95 < 3s");
  CHECK(s.thresholds[3].metric == "errors");
  CHECK(s.max_message_bytes == 16 * 1024 * 1024);
  CHECK(parse_ok(R"({"name": "t", "target": "embedded", "steps": [{"sleep": "0s"}]})").target ==
        "embedded");
}

TEST_CASE("scenario: \"$schema\" (for editors) is accepted and ignored but must be a string") {
  const Scenario s = parse_ok(
      R"({"$schema": "/usr/share/wslat/scenario.schema.json", "name": "s", "steps": [{"sleep": "0s"}]})");
  CHECK(s.name == "s");
  const ScenarioIssue issue =
      only_issue(R"({"$schema": 1, "name": "s", "steps": [{"sleep": "0s"}]})");
  CHECK(issue.pointer == "/$schema");
  CHECK(issue.message.find("is not a string") != std::string::npos);
}

TEST_CASE("scenario: a syntax error gives line, column and what was expected") {
  const std::string text =
      "{\n  \"name\": \"x\",\n  \"steps\": [\n    {\"sleep\": \"1s\"},\n  ]\n}\n";
  const auto issue = only_issue(text);
  CHECK(issue.line == 5);
  CHECK(issue.column == 3);
  CHECK(issue.message.find("invalid JSON") != std::string::npos);
  CHECK(issue.message.find("expected") != std::string::npos);
  CHECK(wslat::format_issue(issue).rfind("s.json:5:3: invalid JSON", 0) == 0);
}

TEST_CASE("scenario: an empty file is a syntax error that says what a scenario looks like") {
  const auto issue = only_issue("  \n");
  CHECK(issue.message.find("empty") != std::string::npos);
}

TEST_CASE("scenario: unknown keys are issues with a did-you-mean suggestion at the key") {
  const std::string text =
      "{\"name\": \"t\",\n \"timeout\": {},\n \"steps\": [{\"sleep\": \"1s\"}]}";
  const auto issue = only_issue(text);
  CHECK(issue.pointer == "/timeout");
  CHECK(issue.line == 2);
  CHECK(issue.column == 2);
  CHECK(issue.message.find("did you mean \"timeouts\"?") != std::string::npos);

  const auto far = only_issue(R"({"name": "t", "zzzzzz": 1, "steps": [{"sleep": "1s"}]})");
  CHECK(far.message.find("did you mean") == std::string::npos);
  CHECK(far.message.find("expected one of") != std::string::npos);

  const auto nested = only_issue(with_steps(R"({"expect": {"any": true, "withn": "1s"}})"));
  CHECK(nested.pointer == "/steps/0/expect/withn");
  CHECK(nested.message.find("did you mean \"within\"?") != std::string::npos);
}

TEST_CASE("scenario: a bad duration shows the value as written and the accepted forms") {
  const auto bare =
      only_issue(R"({"name": "t", "timeouts": {"connect": "5"}, "steps": [{"sleep": "1s"}]})");
  CHECK(bare.pointer == "/timeouts/connect");
  CHECK(bare.column == 39);
  CHECK(bare.message.rfind("\"5\" is not a duration: ", 0) == 0);
  CHECK(bare.message.find("250ms") != std::string::npos);

  const auto number = only_issue(with_steps(R"({"sleep": 100})"));
  CHECK(number.pointer == "/steps/0/sleep");
  CHECK(number.message.rfind("100 is not a duration", 0) == 0);

  const auto zero =
      only_issue(R"({"name": "t", "timeouts": {"message": "0s"}, "steps": [{"sleep": "1s"}]})");
  CHECK(zero.message.find("positive") != std::string::npos);
}

// The kinds are listed from Step's variant (StepBody): its order is the order users read.
TEST_CASE("scenario: the step kinds named in messages come from the variant, in file order") {
  CHECK(wslat::step_kind_names() == std::vector<std::string>{"connect", "send", "expect", "sleep",
                                                             "ping", "close", "reconnect",
                                                             "repeat"});
  const auto unknown = only_issue(with_steps(R"({"sned": {"text": "x"}})"));
  CHECK(unknown.message ==
        "unknown step \"sned\": did you mean \"send\"? (steps: connect, send, expect, sleep, "
        "ping, close, reconnect, repeat)");
  const auto not_a_step = only_issue(with_steps(R"("send")"));
  CHECK(not_a_step.message ==
        "\"send\" is not a step: a step is an object with exactly one key (connect, send, "
        "expect, sleep, ping, close, reconnect, repeat)");
  // Each kind parses into its own alternative.
  const Scenario s = parse_ok(with_steps(
      R"({"send": {"text": "x"}}, {"expect": {"any": true}}, {"sleep": "1ms"}, {"ping": {}},
         {"repeat": {"times": 2, "steps": [{"sleep": "1ms"}]}}, {"close": {}})"));
  REQUIRE(s.steps.size() == 7);
  CHECK(s.steps[0].is<wslat::ConnectStep>());
  CHECK(s.steps[1].is<wslat::SendStep>());
  CHECK(s.steps[2].is<wslat::ExpectStep>());
  CHECK(s.steps[3].is<wslat::SleepStep>());
  CHECK(s.steps[4].is<wslat::PingStep>());
  CHECK(s.steps[5].is<wslat::RepeatStep>());
  CHECK(s.steps[6].is<wslat::CloseStep>());
  CHECK(s.steps[6].as<wslat::SendStep>() == nullptr);
}

TEST_CASE("scenario: bad steps") {
  SUBCASE("unknown step kind with suggestion") {
    const auto issue = only_issue(with_steps(R"({"sned": {"text": "x"}})"));
    CHECK(issue.pointer == "/steps/0/sned");
    CHECK(issue.message.find("did you mean \"send\"?") != std::string::npos);
  }
  SUBCASE("two kinds in one step") {
    const auto issue = only_issue(with_steps(R"({"send": {"text": "x"}, "sleep": "1s"})"));
    CHECK(issue.pointer == "/steps/0");
    CHECK(issue.message.find("exactly one key") != std::string::npos);
    CHECK(issue.message.find("send, sleep") != std::string::npos);
  }
  SUBCASE("not an object") {
    CHECK(only_issue(with_steps("\"send\"")).message.find("is not a step") != std::string::npos);
  }
  SUBCASE("send with two forms") {
    const auto issue = only_issue(with_steps(R"({"send": {"text": "x", "size": 3}})"));
    CHECK(issue.pointer == "/steps/0/send");
    CHECK(issue.message.find("exactly one of text, json, binary, size") != std::string::npos);
  }
  SUBCASE("bad hex") {
    CHECK(only_issue(with_steps(R"({"send": {"binary": "abc"}})")).pointer ==
          "/steps/0/send/binary");
  }
  SUBCASE("close code reserved") {
    const auto issue = only_issue(with_steps(R"({"close": {"code": 1005}})"));
    CHECK(issue.pointer == "/steps/0/close/code");
    CHECK(issue.message.find("1004, 1005, 1006 and 1015") != std::string::npos);
  }
  SUBCASE("repeat times out of range") {
    CHECK(
        only_issue(with_steps(R"({"repeat": {"times": 0, "steps": [{"sleep": "1s"}]}})")).pointer ==
        "/steps/0/repeat/times");
    CHECK(only_issue(with_steps(R"({"repeat": {"times": 1000001, "steps": [{"sleep": "1s"}]}})"))
              .message.find("1 to 1000000") != std::string::npos);
  }
  SUBCASE("empty steps") { CHECK(only_issue(R"({"name": "t", "steps": []})").pointer == "/steps"); }
  SUBCASE("two ready marks") {
    const auto issue = only_issue(with_steps(
        R"({"expect": {"any": true, "mark": "ready"}}, {"expect": {"any": true, "mark": "ready"}})"));
    CHECK(issue.pointer == "/steps/1/expect/mark");
  }
}

TEST_CASE("scenario: send forms decode to what goes on the wire") {
  const Scenario s = parse_ok(with_steps(
      R"({"send": {"binary": "00ff10"}}, {"send": {"size": "4KiB"}}, {"send": {"size": 10}})"));
  CHECK(s.steps[1].as<wslat::SendStep>()->kind == wslat::SendStep::Kind::kBinary);
  CHECK(s.steps[1].as<wslat::SendStep>()->binary == std::string("\x00\xff\x10", 3));
  CHECK(s.steps[2].as<wslat::SendStep>()->size == 4096);
  CHECK(s.steps[3].as<wslat::SendStep>()->size == 10);
  const auto too_big = only_issue(
      R"({"name": "t", "max_message_size": "1KiB", "steps": [{"send": {"size": 2000}}]})");
  CHECK(too_big.pointer == "/steps/0/send/size");
}

TEST_CASE("scenario: an expect with two matchers, or none, is an issue") {
  const auto two = only_issue(with_steps(R"({"expect": {"json": {}, "text": "x"}})"));
  CHECK(two.pointer == "/steps/0/expect");
  CHECK(two.message.find("exactly one matcher") != std::string::npos);
  CHECK(two.message.find("json and text") != std::string::npos);
  const auto none = only_issue(with_steps(R"({"expect": {"within": "1s"}})"));
  CHECK(none.message.find("found none") != std::string::npos);
}

TEST_CASE("scenario: an invalid regex is reported with RE2's reason") {
  const auto issue = only_issue(with_steps(R"({"expect": {"regex": "(ab"}})"));
  CHECK(issue.pointer == "/steps/0/expect/regex");
  CHECK(issue.message.find("not a valid regular expression: missing ): (ab") != std::string::npos);
}

TEST_CASE("scenario: a missing environment variable is found before anything runs") {
  const auto issue = only_issue(
      R"({"name": "t", "headers": {"Authorization": "Bearer ${env:TOKEN}"}, "steps": [{"sleep": "1s"}]})");
  CHECK(issue.pointer == "/headers/Authorization");
  CHECK(issue.message.rfind("environment variable TOKEN is not set", 0) == 0);
}

TEST_CASE("scenario: thresholds: bad expressions and unknown metrics") {
  const auto issues = issues_of(
      R"({"name": "t", "thresholds": {"e2e": ["p95 < 1"], "handshak": ["p95 < 3s"], "rtt": "p95 < 1s"}, "steps": [{"sleep": "1s"}]})");
  REQUIRE(issues.size() == 3);
  CHECK(issues[0].pointer == "/thresholds/e2e/0");
  CHECK(issues[0].message.find("p95 < 1") != std::string::npos);
  CHECK(issues[0].message.rfind("/thresholds", 0) == std::string::npos);  // no doubled pointer
  CHECK(issues[1].pointer == "/thresholds/handshak");
  CHECK(issues[1].message.find("did you mean \"handshake\"?") != std::string::npos);
  CHECK(issues[2].pointer == "/thresholds/rtt");
  CHECK(issues[2].message.find("array") != std::string::npos);
}

TEST_CASE("scenario: a threshold on a counter takes its total - a latency statistic is refused") {
  const Scenario ok = parse_ok(
      R"({"name": "t", "thresholds": {"msgs_sent": ["count > 5"]}, "steps": [{"sleep": "1s"}]})");
  REQUIRE(ok.thresholds.size() == 1);
  CHECK(ok.thresholds[0].metric == "msgs_sent");
  const auto issues = issues_of(
      R"({"name": "t", "thresholds": {"msgs_sent": ["p95 > 5"]}, "steps": [{"sleep": "1s"}]})");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].pointer == "/thresholds/msgs_sent/0");
  CHECK(issues[0].message.find("unknown counter statistic") != std::string::npos);
}

TEST_CASE("scenario: connect anywhere but first is an issue") {
  const auto issue = only_issue(with_steps(R"({"send": {"text": "x"}}, {"connect": {}})"));
  CHECK(issue.pointer == "/steps/1");
  CHECK(issue.message.find("first step") != std::string::npos);
  const auto nested =
      only_issue(with_steps(R"({"repeat": {"times": 2, "steps": [{"connect": {}}]}})"));
  CHECK(nested.pointer == "/steps/0/repeat/steps/0");
}

TEST_CASE("scenario: steps after close, and close inside repeat, are issues") {
  const auto after = only_issue(with_steps(R"({"close": {}}, {"sleep": "1s"})"));
  CHECK(after.pointer == "/steps/1");
  CHECK(after.message.find("after close") != std::string::npos);
  const auto inside =
      only_issue(with_steps(R"({"repeat": {"times": 2, "steps": [{"close": {}}]}})"));
  CHECK(inside.pointer == "/steps/0/repeat/steps/0/close");
}

TEST_CASE("scenario: load models") {
  const Scenario open = parse_ok(
      R"({"name": "t", "load": {"rate": "20/s", "duration": "30s", "max_concurrency": 50}, "steps": [{"sleep": "1s"}]})");
  CHECK(open.load.open_model());
  CHECK(open.load.rate->per_second == doctest::Approx(20.0));
  CHECK(open.load.duration == std::optional<wslat::Duration>(30s));
  CHECK(open.load.max_concurrency == 50);
  const Scenario ramp = parse_ok(
      R"({"name": "t", "load": {"stages": [{"duration": "10s", "target": "50/s"}, {"duration": "5s", "target": "0/s"}]}, "steps": [{"sleep": "1s"}]})");
  REQUIRE(ramp.load.stages.size() == 2);
  CHECK(ramp.load.stages[1].target.per_second == 0.0);
  CHECK(
      only_issue(
          R"({"name": "t", "load": {"connections": 5, "rate": "1/s", "duration": "1s"}, "steps": [{"sleep": "1s"}]})")
          .message.find("mixes the closed model") != std::string::npos);
  CHECK(only_issue(R"({"name": "t", "load": {"connections": 0}, "steps": [{"sleep": "1s"}]})")
            .pointer == "/load/connections");
  CHECK(only_issue(R"({"name": "t", "load": {"rate": "5/s"}, "steps": [{"sleep": "1s"}]})")
            .message.find("needs a \"duration\"") != std::string::npos);
}

TEST_CASE("scenario: targets, environments, sizes") {
  CHECK(only_issue(R"({"name": "t", "target": "http://h/", "steps": [{"sleep": "1s"}]})")
            .message.find("not a WebSocket URL") != std::string::npos);
  const Scenario s = parse_ok(
      R"({"name": "t", "target": "wss://${env:HOST}/ws", "max_message_size": "64KiB", "environments": {"prod": {"margin": 0.5}}, "steps": [{"sleep": "1s"}]})",
      {{"HOST", "example.com"}});
  CHECK(s.target == "wss://example.com/ws");
  CHECK(s.max_message_bytes == 65536);
  REQUIRE(s.environments.count("production") == 1);
  CHECK(s.environments.at("production").margin == std::optional<double>(0.5));
  const auto unknown =
      only_issue(R"({"name": "t", "environments": {"qa": {}}, "steps": [{"sleep": "1s"}]})");
  CHECK(unknown.pointer == "/environments/qa");
  CHECK(unknown.message.find("unknown profile \"qa\"") != std::string::npos);
  CHECK(only_issue(R"({"name": "t", "max_message_size": "16", "steps": [{"sleep": "1s"}]})")
            .message.find("16MiB") != std::string::npos);
}

TEST_CASE("scenario: every issue of a file is reported at once, in file order, with line:col") {
  const std::string text =
      "{\n"                                                    // 1
      "  \"name\": \"\",\n"                                    // 2: empty name at col 11
      "  \"timeouts\": {\"close\": \"soon\"},\n"               // 3: bad duration at col 25
      "  \"steps\": [\n"                                       // 4
      "    {\"expect\": {\"text\": \"a\", \"any\": true}},\n"  // 5: two matchers at col 16
      "    {\"sleep\": \"1s\"}\n"                              // 6
      "  ],\n"                                                 // 7
      "  \"thresholds\": {\"perceivd\": [\"p95 < 2s\"]}\n"     // 8: unknown metric key at col 18
      "}\n";
  try {
    wslat::parse_scenario(text, "f.json", fake_env());
    FAIL("expected a ScenarioError");
  } catch (const wslat::ScenarioError& e) {
    const auto& issues = e.issues();
    REQUIRE(issues.size() == 4);
    CHECK(issues[0].pointer == "/name");
    CHECK(issues[0].line == 2);
    CHECK(issues[0].column == 11);
    CHECK(issues[1].pointer == "/timeouts/close");
    CHECK(issues[1].line == 3);
    CHECK(issues[1].column == 25);
    CHECK(issues[2].pointer == "/steps/0/expect");
    CHECK(issues[2].line == 5);
    CHECK(issues[2].column == 16);
    CHECK(issues[3].pointer == "/thresholds/perceivd");
    CHECK(issues[3].line == 8);
    CHECK(issues[3].column == 18);
    const std::string what = e.what();
    CHECK(what.rfind("f.json:2:11: /name: empty name", 0) == 0);
    CHECK(what.find("\nf.json:8:18: /thresholds/perceivd: ") != std::string::npos);
    CHECK(what.substr(what.rfind('\n') + 1) == "4 problems in f.json");
    CHECK(e.exit_code() == wslat::exit_code::kUsage);
  }
}

TEST_CASE("scenario: columns count characters, not bytes") {
  const auto issue = only_issue("{\"name\": \"é\", \"x\": 1, \"steps\": [{\"sleep\": \"1s\"}]}");
  CHECK(issue.column == 15);  // 16 if bytes were counted
}

TEST_CASE("scenario: an unreadable file is a usage error naming the path") {
  try {
    wslat::load_scenario("/nonexistent/dir/s.json", fake_env());
    FAIL("expected UsageError");
  } catch (const wslat::UsageError& e) {
    CHECK(std::string(e.what()).find("/nonexistent/dir/s.json") != std::string::npos);
  }
}

TEST_CASE("scenario: flatten unrolls nested repeats with the innermost iteration") {
  const Scenario s = parse_ok(with_steps(R"(
      {"send": {"text": "a"}},
      {"repeat": {"times": 2, "steps": [
        {"send": {"text": "b"}},
        {"repeat": {"times": 3, "steps": [{"send": {"text": "c"}}]}}
      ]}},
      {"close": {}})"));
  const auto flat = wslat::flatten(s.steps);
  // connect, a, (b, c, c, c) x 2, close
  REQUIRE(flat.size() == 11);
  std::string order;
  std::vector<std::int64_t> iterations;
  for (const auto& f : flat) {
    REQUIRE(f.step != nullptr);
    CHECK_FALSE(f.step->is<wslat::RepeatStep>());
    const auto* send = f.step->as<wslat::SendStep>();
    order += send != nullptr ? wslat::expand(send->payload, {}) : std::string(1, '.');
    iterations.push_back(f.iteration);
  }
  CHECK(order == ".abcccbccc.");
  CHECK(iterations == std::vector<std::int64_t>{0, 0, 0, 0, 1, 2, 1, 0, 1, 2, 0});
}

TEST_CASE("scenario: flatten refuses a program of more than a million steps") {
  const Step leaf{"/steps/0", wslat::SleepStep{}};
  const Step inner{"/steps/0", wslat::RepeatStep{1001, {leaf}}};
  const Step outer{"/steps/0", wslat::RepeatStep{1000, {inner}}};
  CHECK_THROWS_AS(wslat::flatten({outer}), wslat::UsageError);
  // The parser catches it first, as an issue.
  CHECK(
      only_issue(
          with_steps(
              R"({"repeat": {"times": 1000, "steps": [{"repeat": {"times": 1001, "steps": [{"sleep": "0s"}]}}]}})"))
          .message.find("more than 1000000 steps") != std::string::npos);
}

TEST_CASE("scenario: matches") {
  wslat::ExpectStep e;
  e.kind = wslat::ExpectStep::Kind::kJson;
  e.json = nlohmann::json::parse(R"({"type": "msg", "meta": {"room": 1}, "tags": [1, 2]})");
  CHECK(wslat::matches(
      e, R"({"type": "msg", "extra": true, "meta": {"room": 1.0, "x": 2}, "tags": [1, 2]})"));
  CHECK_FALSE(wslat::matches(e, R"({"type": "msg", "meta": {"room": 2}, "tags": [1, 2]})"));
  CHECK_FALSE(wslat::matches(e, R"({"type": "msg", "meta": {"room": 1}, "tags": [1, 2, 3]})"));
  CHECK_FALSE(wslat::matches(e, R"({"meta": {"room": 1}, "tags": [1, 2]})"));
  CHECK_FALSE(wslat::matches(e, R"({"type": "msg", "meta": "room", "tags": [1, 2]})"));
  CHECK_FALSE(wslat::matches(e, "not json {"));
  CHECK_FALSE(wslat::matches(e, "[]"));

  e.kind = wslat::ExpectStep::Kind::kText;
  e.text = "ping";
  CHECK(wslat::matches(e, "ping"));
  CHECK_FALSE(wslat::matches(e, "ping "));

  const Scenario s = parse_ok(with_steps(R"({"expect": {"regex": "^hel+o \\d+$"}})"));
  const auto& re = (*s.steps[1].as<wslat::ExpectStep>());
  CHECK(wslat::matches(re, "hello 42"));
  CHECK_FALSE(wslat::matches(re, "hello"));

  e.kind = wslat::ExpectStep::Kind::kAny;
  CHECK(wslat::matches(e, ""));
}

TEST_CASE(
    "scenario: worst-case budget adds every wait, multiplies repeats, adds the implicit close") {
  const Scenario s = parse_ok(R"({"name": "t",
    "timeouts": {"connect": "1s", "handshake": "2s", "message": "4s", "close": "5s"},
    "steps": [
      {"expect": {"any": true, "within": "3s"}},
      {"send": {"text": "x"}},
      {"expect": {"any": true}},
      {"sleep": "100ms"},
      {"repeat": {"times": 3, "steps": [{"ping": {"within": "500ms"}}, {"send": {"text": "y"}}]}}
    ]})");
  const auto budget = wslat::worst_case_budget(s, s.timeouts);
  CHECK(budget.total == 16600ms);  // 1 + 2 + 3 + 4 + 0.1 + 3 x 0.5 + 5 (implicit close)
  REQUIRE(budget.items.size() == 7);
  CHECK(budget.items[0].what == "connect timeout");
  CHECK(budget.items[1].duration == 2s);
  CHECK(budget.items[2].pointer == "/steps/0");
  CHECK(budget.items[3].duration == 4s);  // no within: the message timeout
  CHECK(budget.items[5].pointer == "/steps/4");
  CHECK(budget.items[5].what.rfind("repeat ×3", 0) == 0);
  CHECK(budget.items[5].duration == 1500ms);
  CHECK(budget.items[6].duration == 5s);

  // Step `within`s go through the profile's timeout scaling, as every timeout does.
  const auto doubled = wslat::worst_case_budget(s, wslat::scaled_timeouts(s.timeouts, 2.0, "x2"));
  CHECK(doubled.total == 33100ms);  // 2 x (16.5s of timeouts) + 0.1s of sleep

  const Scenario closed = parse_ok(with_steps(R"({"close": {}})"));
  const auto with_close = wslat::worst_case_budget(closed, closed.timeouts);
  CHECK(with_close.total == 12s);  // 5s connect + 5s handshake + 2s close, no implicit close
}

TEST_CASE("compile_regex compiles as scenario files do, for matches() outside the runner") {
  wslat::ExpectStep e;
  e.kind = wslat::ExpectStep::Kind::kRegex;
  std::string error;
  e.regex = wslat::compile_regex("^h.llo \\d+$", &error);
  REQUIRE(e.regex != nullptr);
  CHECK(error.empty());
  CHECK(wslat::matches(e, "h\xc3\xa9llo 42"));   // `.` is one UTF-8 character
  CHECK_FALSE(wslat::matches(e, "hello 42\n"));  // `$` is the end of the message
  CHECK(wslat::compile_regex("(a)\\1", &error) == nullptr);
  CHECK(error == "invalid escape sequence: \\1");
}

TEST_CASE("scenario: what goes on the wire is checked as sent: target, headers, subprotocols") {
  const auto target = [](const std::string& url, std::map<std::string, std::string> vars = {}) {
    return only_issue(R"({"name": "t", "target": ")" + url + R"(", "steps": [{"sleep": "1s"}]})",
                      std::move(vars));
  };
  // The port run refused, the host run sent to :80, a CRLF into the request line.
  CHECK(target("ws://127.0.0.1:99999/").message.find("port is out of range") != std::string::npos);
  CHECK(target("ws://127.0.0.1:0/").message.find("port is 0") != std::string::npos);
  CHECK(target("ws:///p").message.find("host is missing") != std::string::npos);
  CHECK(target(R"(ws://h/p\r\nX-Injected: 1)").message.find("CR") != std::string::npos);
  // After ${env:...} expansion, and without quoting the secret value.
  const auto env = target("ws://h/${env:P}", {{"P", "x\r\nX-Injected: 1"}});
  CHECK(env.pointer == "/target");
  CHECK(env.line == 1);
  CHECK(env.message.find("a line break (CR") != std::string::npos);
  CHECK(env.message.find("X-Injected") == std::string::npos);
  CHECK(env.message.find("${env:P}") != std::string::npos);
  const auto override_target = only_issue(
      R"({"name": "t", "environments": {"staging": {"target": "ws://h:65536/"}}, "steps": [{"sleep": "1s"}]})");
  CHECK(override_target.pointer == "/environments/staging/target");

  const auto name =
      only_issue(R"({"name": "t", "headers": {"X C": "1"}, "steps": [{"sleep": "1s"}]})");
  CHECK(name.pointer == "/headers/X C");
  CHECK(name.message.find("\"X C\" is not a valid HTTP header name: a space") == 0);
  const auto value =
      only_issue(R"({"name": "t", "headers": {"X-A": "v\u0000w"}, "steps": [{"sleep": "1s"}]})");
  CHECK(value.message.find("a NUL byte is not allowed in a header value") == 0);
  const auto env_value = only_issue(
      R"({"name": "t", "headers": {"Authorization": "Bearer ${env:T}"}, "steps": [{"sleep": "1s"}]})",
      {{"T", "tok\nX-Injected: 1"}});
  CHECK(env_value.message.find("LF") != std::string::npos);
  CHECK(env_value.message.find("X-Injected") == std::string::npos);

  const auto proto = only_issue(
      R"({"name": "t", "subprotocols": ["chat.v1", "chat\r\nX-Injected: 1"], "steps": [{"sleep": "1s"}]})");
  CHECK(proto.pointer == "/subprotocols/1");
  CHECK(proto.message.find("not allowed in a subprotocol") != std::string::npos);
  CHECK(
      only_issue(R"({"name": "t", "subprotocols": ["a b"], "steps": [{"sleep": "1s"}]})").pointer ==
      "/subprotocols/0");
}
