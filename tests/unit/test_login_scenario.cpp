// The scenario's "login", "origin" and "cookies": parsing, and located errors for what cannot
// work (a login that uses its own captures, a header given twice, a bad cookie).
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
using wslat::Capture;
using wslat::Scenario;

Scenario parse(const json& extra) {
  json doc = {{"name", "t"}, {"steps", json::array({{{"close", json::object()}}})}};
  for (const auto& [k, v] : extra.items()) doc[k] = v;
  return wslat::parse_scenario(doc.dump(), "t.json", [](const std::string& name) {
    return name == "PW" ? std::optional<std::string>("hunter2") : std::nullopt;
  });
}

std::vector<std::string> issues(const json& extra) {
  return wslat::test::issue_lines([&] { parse(extra); });
}

using wslat::test::any_contains;

const json kLogin = {
    {"url", "http://127.0.0.1:8081/login"},
    {"json", {{"user", "u${connection}"}, {"password", "${env:PW}"}}},
    {"capture",
     {{"token", {{"json", "/token"}}}, {"sid", {{"cookie", "sid"}}}, {"st", {{"status", true}}}}}};

TEST_CASE("login: parsed with its captures usable in the upgrade's headers, origin, cookies") {
  const Scenario s = parse({{"login", kLogin},
                            {"headers", {{"Authorization", "Bearer ${var:token}"}}},
                            {"origin", "https://app.example"},
                            {"cookies", {{"sid", "${var:sid}"}, {"theme", "dark"}}}});
  REQUIRE(s.login);
  CHECK(s.login->method == "POST");
  CHECK(s.login->content_type == "application/json");
  REQUIRE(s.login->captures.size() == 3);  // in file order: dump() sorted the keys
  CHECK(s.login->captures[0].from == Capture::From::kCookie);
  CHECK(s.login->captures[1].from == Capture::From::kStatus);
  CHECK(s.login->captures[2].from == Capture::From::kJson);
  CHECK(s.variables[s.login->captures[2].var] == "token");
  REQUIRE(s.origin);
  CHECK(wslat::expand_shown(*s.origin) == "https://app.example");
  REQUIRE(s.cookies.size() == 2);
  CHECK(s.cookies[0].first == "sid");
  // ${env:PW} is a secret: never printed.
  CHECK(std::find(s.secrets.begin(), s.secrets.end(), "hunter2") != s.secrets.end());
  CHECK(parse({{"login", {{"url", "https://a.example/x"}}}}).login->method == "GET");
}

TEST_CASE("login: the login cannot use its own captures, a header can") {
  json login = kLogin;
  login["headers"] = {{"X-Token", "${var:token}"}};
  const auto found = issues({{"login", login}});
  CHECK(any_contains(found,
                     "/login/headers/X-Token: ${var:token} is used before it is captured "
                     "(first captured at /login/capture/token)"));
  // Captured by a step: too late for the headers (sent before any message).
  const auto late = issues(
      {{"headers", {{"Authorization", "Bearer ${var:tok}"}}},
       {"steps",
        json::array({{{"expect", {{"any", true}, {"capture", {{"tok", {{"text", true}}}}}}}}})}});
  CHECK(any_contains(late, "/headers/Authorization: ${var:tok} is used before it is captured"));
  CHECK(any_contains(issues({{"origin", "${var:nope}"}}),
                     "unknown variable ${var:nope}: no step or rule captures it"));
}

TEST_CASE("login: located errors with what was expected") {
  CHECK(any_contains(issues({{"login", {{"json", {{"a", 1}}}}}}), "/login: missing \"url\""));
  CHECK(any_contains(issues({{"login", {{"url", "ws://x/login"}}}}),
                     "/login/url: \"ws://x/login\" is not an HTTP URL"));
  CHECK(any_contains(issues({{"login", {{"url", "http://x/"}, {"body", "a"}, {"json", 1}}}}),
                     "both \"body\" and \"json\""));
  CHECK(any_contains(issues({{"login", {{"url", "http://x/"}, {"method", "post"}}}}),
                     "is not an HTTP method"));
  CHECK(any_contains(issues({{"login", {{"url", "http://x/"}, {"send_cookie", true}}}}),
                     "unknown key \"send_cookie\" in \"login\": did you mean \"send_cookies\"?"));
  CHECK(any_contains(issues({{"login", {{"url", "http://x/"}, {"send_cookies", "yes"}}}}),
                     "/login/send_cookies: "));
  CHECK(any_contains(
      issues({{"login", {{"url", "http://x/"}, {"capture", {{"t", {{"cookies", "x"}}}}}}}}),
      "/login/capture/t: an object is not a capture: expected {\"status\": true}, "
      "{\"header\": \"Name\"}, {\"cookie\": \"name\"}, or from the body {\"json\""));
  CHECK(any_contains(issues({{"logn", kLogin}}), "did you mean \"login\""));
}

TEST_CASE("origin and cookies: one header each, valid values") {
  CHECK(any_contains(issues({{"origin", "https://a"}, {"headers", {{"Origin", "https://b"}}}}),
                     "/headers/Origin: \"Origin\" is given twice"));
  CHECK(any_contains(issues({{"cookies", {{"a", "1"}}}, {"headers", {{"Cookie", "b=2"}}}}),
                     "/headers/Cookie: a \"Cookie\" header with \"cookies\""));
  json login = kLogin;
  login["send_cookies"] = true;
  CHECK(any_contains(issues({{"login", login}, {"headers", {{"cookie", "b=2"}}}}),
                     "/headers/cookie: a \"Cookie\" header with"));
  CHECK(any_contains(issues({{"cookies", {{"a", "x y"}}}}),
                     "/cookies/a: a cookie value cannot hold spaces"));
  CHECK(any_contains(issues({{"cookies", {{"a b", "1"}}}}), "is not a cookie name"));
  CHECK(any_contains(issues({{"cookies", {{"a", 1}}}}), "/cookies/a: 1 is not a string"));
  CHECK(any_contains(issues({{"origin", ""}}), "/origin: empty origin"));
}

}  // namespace
