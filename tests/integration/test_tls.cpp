// wss against `wslat serve --tls-cert --tls-key` with a self-signed certificate made at test
// time: verified by default (a failure is category `tls` and says how to fix it), trusted with
// --ca, skipped with --insecure, and the host name is checked.
#include <doctest/doctest.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "third_party.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

std::string scenario_file(const std::string& url) {
  json s = {
      {"name", "tls"},
      {"target", url},
      {"load", {{"connections", 2}, {"concurrency", 2}}},
      {"timeouts", {{"connect", "2s"}, {"handshake", "2s"}, {"message", "2s"}, {"close", "1s"}}},
      {"steps", json::array({{{"send", {{"text", "hi"}}}},
                             {{"expect", {{"text", "hi"}}}},
                             {{"close", {{"code", 1000}}}}})}};
  return write_temp_file("tls-" + std::to_string(std::hash<std::string>{}(url)) + ".json",
                         s.dump(2));
}

struct Run {
  ProcessResult process;
  json result;
};

Run run_json(const std::string& scenario, std::vector<std::string> extra) {
  std::vector<std::string> args{"run",      scenario, "--env",     "production",
                                "--format", "json",   "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  Run r;
  r.process = run_wslat(args, std::chrono::seconds(60));
  INFO("stderr: " << r.process.err);
  REQUIRE_FALSE(r.process.timed_out);
  REQUIRE_FALSE(r.process.out.empty());
  r.result = json::parse(r.process.out);
  return r;
}

TEST_CASE(
    "tls: a self-signed certificate fails verification as `tls`, fixed by --ca or "
    "--insecure") {
  const Cert cert = make_cert("self-signed", "IP:127.0.0.1");
  auto server = start_serve({"--tls-cert", cert.cert, "--tls-key", cert.key});
  REQUIRE(server.url().rfind("wss://127.0.0.1:", 0) == 0);
  const auto scenario = scenario_file(server.url());

  SUBCASE("verified by default: category tls, the message says how to fix it") {
    const auto r = run_json(scenario, {});
    CHECK(r.result["errors"].value("tls", 0) == 2);
    CHECK(r.result["connections"]["opened"] == 0);
    CHECK(r.process.exit_code == 3);
    const std::string example = r.result["error_examples"].value("tls", std::string());
    INFO("example: " << example);
    CHECK(example.find("--ca") != std::string::npos);
    CHECK(example.find("--insecure") != std::string::npos);
    CHECK(example.find("self-signed") != std::string::npos);  // OpenSSL's own reason
  }
  SUBCASE("--ca cert.pem trusts it") {
    const auto r = run_json(scenario, {"--ca", cert.cert});
    INFO("errors: " << r.result["errors"].dump());
    CHECK(r.process.exit_code == 0);
    CHECK(r.result["connections"]["opened"] == 2);
    CHECK(r.result["errors"].empty());
    CHECK(r.result["metrics"].contains("tls"));
  }
  SUBCASE("--insecure skips verification") {
    const auto r = run_json(scenario, {"--insecure"});
    INFO("errors: " << r.result["errors"].dump());
    CHECK(r.process.exit_code == 0);
    CHECK(r.result["connections"]["opened"] == 2);
    CHECK(r.result["metrics"].contains("tls"));
  }
}

TEST_CASE("tls: a trusted certificate for another host name is still refused") {
  const Cert cert = make_cert("other-host", "DNS:other.example");
  auto server = start_serve({"--tls-cert", cert.cert, "--tls-key", cert.key});
  const auto r = run_json(scenario_file(server.url()), {"--ca", cert.cert});
  CHECK(r.result["errors"].value("tls", 0) == 2);
  CHECK(r.process.exit_code == 3);
  const std::string example = r.result["error_examples"].value("tls", std::string());
  INFO("example: " << example);
  CHECK(example.find("127.0.0.1") != std::string::npos);
}

}  // namespace
}  // namespace wslat::test
