// TLS connection phases beyond verification (tests/integration/test_tls.cpp): a handshake that
// stalls after TCP connected is `tls.timeout` with `tcp` measured, never `connect.timeout`.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

std::string tls_scenario(const std::string& name, const std::string& connect_timeout) {
  json s = {{"name", name},
            {"load", {{"connections", 2}, {"concurrency", 2}}},
            {"timeouts",
             {{"connect", connect_timeout},
              {"handshake", "5s"},
              {"message", "5s"},
              {"close", "2s"}}},
            {"steps", json::array({{{"send", {{"text", "hi"}}}},
                                   {{"expect", {{"text", "hi"}}}},
                                   {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

json run_json(const std::string& file, const std::string& target,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run",      file,   "--target",  target, "--env", "production",
                                "--format", "json", "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = run_wslat(args, std::chrono::seconds(60));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE_FALSE(r.out.empty());
  return json::parse(r.out);
}

// ws://127.0.0.1:P/ -> wss://127.0.0.1:P/
std::string as_wss(const std::string& url) { return "wss://" + url.substr(5); }

TEST_CASE("tls: a handshake that stalls after TCP connected is tls.timeout, not connect.timeout") {
  const auto file = tls_scenario("tls-stall", "500ms");  // 600 ms in production

  SUBCASE("a silent listener (accepts TCP, never answers)") {
    auto server = start_serve({"--mode", "silent"});
    const json j = run_json(file, as_wss(server.url()), {"--insecure"});
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["errors"] == json({{"tls.timeout", 2}}));
    const std::string example = j["error_examples"].value("tls.timeout", std::string());
    CHECK(example.find("TLS handshake did not complete within 600ms") != std::string::npos);
    CHECK(j["metrics"]["tcp"]["count"] == 2);  // TCP did complete
  }
  SUBCASE("a plain ws server (waits for an HTTP request that never comes)") {
    auto server = start_serve();
    const json j = run_json(file, as_wss(server.url()), {"--insecure"});
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["errors"].value("connect.timeout", 0) == 0);
    CHECK(j["errors"].value("tls.timeout", 0) + j["errors"].value("tls", 0) == 2);
    CHECK(j["metrics"]["tcp"]["count"] == 2);
  }
}

}  // namespace
}  // namespace wslat::test
