// The negotiated subprotocol (and extensions) per run: recorded in the result's "negotiated",
// a server that selects none of the offered subprotocols is a warning in every report, and
// "require_subprotocol": true makes it a connection failure (upgrade.subprotocol). Against the
// embedded server (selects the first offered) and python websockets (selects from its own list).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

std::string scenario(const std::string& name, const json& extra) {
  return hi_scenario_file(name, extra);
}

ProcessResult run(const std::string& file, const std::string& target, const std::string& format,
                  std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run",        file,       "--target", target,      "--env",
                                "production", "--format", format,     "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_wslat(args, std::chrono::seconds(60));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  return r;
}

bool mentions(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

constexpr const char* kNoneWarning = "selected none of the offered subprotocols (chat.v1, chat.v2)";

TEST_CASE("subprotocol: the one the server selected is recorded in the result, no warning") {
  auto server = start_serve();  // selects the first offered
  const auto file = scenario("subprotocol-embedded", {{"subprotocols", {"chat.v1", "chat.v2"}},
                                                      {"require_subprotocol", true}});
  const auto r = run(file, server.url(), "json");
  CHECK(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["negotiated"]["offered"] == json({"chat.v1", "chat.v2"}));
  CHECK(j["negotiated"]["subprotocols"] == json({{"chat.v1", 2}}));
  CHECK(j["negotiated"]["extensions"] == json({{"", 2}}));
  CHECK(j["warnings"].dump().find("subprotocol") == std::string::npos);
}

TEST_CASE("subprotocol: python websockets selecting none is a warning in every report" *
          doctest::test_suite("peer")) {
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_echo_server.py"});
  const auto file = scenario("subprotocol-none", {{"subprotocols", {"chat.v1", "chat.v2"}}});

  const auto j = json::parse(run(file, peer.url(), "json").out);
  CHECK(j["connections"]["opened"] == 2);
  CHECK(j["negotiated"]["subprotocols"] == json({{"", 2}}));
  CHECK(mentions(j["warnings"].dump(), kNoneWarning));
  CHECK(mentions(j["warnings"].dump(), "on 2 of 2 upgrades"));
  for (const std::string format : {"text", "markdown", "html"}) {
    CAPTURE(format);
    const auto r = run(file, peer.url(), format);
    CHECK(r.exit_code == 0);
    CHECK(mentions(r.out, "selected none of the offered subprotocols"));
  }
}

TEST_CASE(
    "subprotocol: with require_subprotocol a server selecting none fails as "
    "upgrade.subprotocol" *
    doctest::test_suite("peer")) {
  BackgroundServer none({"/usr/bin/python3", source_dir() + "/tests/peers/py_echo_server.py"});
  const auto file = scenario("subprotocol-required", {{"subprotocols", {"chat.v1", "chat.v2"}},
                                                      {"require_subprotocol", true}});
  const auto r = run(file, none.url(), "json");
  CHECK(r.exit_code == 3);  // no connection opened
  const json j = json::parse(r.out);
  CHECK(j["errors"] == json({{"upgrade.subprotocol", 2}}));
  CHECK(mentions(j["error_examples"]["upgrade.subprotocol"].get<std::string>(), kNoneWarning));
  CHECK(j["negotiated"]["subprotocols"] == json({{"", 2}}));

  // A server that supports the second one: selected, recorded, passes.
  BackgroundServer second({"/usr/bin/python3", source_dir() + "/tests/peers/py_echo_server.py",
                           "--subprotocols", "chat.v2"});
  const auto ok = run(file, second.url(), "json");
  CHECK(ok.exit_code == 0);
  CHECK(json::parse(ok.out)["negotiated"]["subprotocols"] == json({{"chat.v2", 2}}));
}

TEST_CASE("subprotocol: require_subprotocol must be a boolean and needs subprotocols") {
  for (const json& bad :
       {json{{"require_subprotocol", "yes"}}, json{{"require_subprotocol", true}}}) {
    CAPTURE(bad.dump());
    const auto r = run_wslat({"validate", scenario("subprotocol-bad", bad)});
    CHECK(r.exit_code == 64);
    CHECK(mentions(r.err, "/require_subprotocol"));
  }
}

// The session frees the connection's copy of the upgrade request and 101 answer once open
// (bench/README.md, "What a held connection costs"): captures from the 101 are taken before,
// and the values stay usable in every later step.
TEST_CASE("subprotocol: captures from the 101 are usable after the upgrade was released") {
  auto server = start_serve();  // selects the first offered
  const json connect = {{"connect",
                         {{"capture",
                           {{"st", {{"status", true}}},
                            {"proto", {{"header", "Sec-WebSocket-Protocol"}}},
                            {"up", {{"header", "upgrade"}}}}}}}};
  const auto file =
      scenario("subprotocol-capture",
               {{"subprotocols", {"chat.v1", "chat.v2"}},
                {"steps", json::array({connect,
                                       {{"send", {{"text", "${var:st} ${var:proto} ${var:up}"}}}},
                                       {{"expect", {{"text", "101 chat.v1 websocket"}}}},
                                       {{"send", {{"text", "again ${var:proto}"}}}},
                                       {{"expect", {{"text", "again chat.v1"}}}},
                                       {{"close", {{"code", 1000}}}}})}});
  const auto r = run(file, server.url(), "json");
  CHECK(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["connections"]["failed"] == 0);
  CHECK(j["negotiated"]["subprotocols"] == json({{"chat.v1", 2}}));
}

}  // namespace
}  // namespace wslat::test
