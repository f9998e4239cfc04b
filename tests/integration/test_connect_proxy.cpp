// HTTP CONNECT proxies (--proxy, http_proxy/https_proxy/no_proxy) through Debian's tinyproxy,
// started with its own configuration on a free port: ws and wss tunnelled, the proxy's answer
// timed as the `proxy` phase, basic auth with the password redacted, a refusal counted as
// `proxy`, and the environment's proxy used like curl uses it (never for loopback targets).
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "http_receiver.hpp"
#include "third_party.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

constexpr const char* kProxyPassword = "pr0xy-pw";

std::string proxy_scenario(const std::string& name) { return hi_scenario_file(name); }

// tinyproxy in the foreground on 127.0.0.1 (any CONNECT port: no ConnectPort line).
ThirdPartyServer start_tinyproxy(const std::string& name, bool basic_auth) {
  const std::string dir = temp_dir();
  return ThirdPartyServer(
      "127.0.0.1",
      [=](int port) {
        const std::string conf = dir + "/" + name + ".conf";
        std::ofstream(conf) << "Port " << port
                            << "\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Info\n"
                            << (basic_auth ? std::string("BasicAuth alice ") + kProxyPassword + "\n"
                                           : "");
        return std::vector<std::string>{"tinyproxy", "-d", "-c", conf};
      },
      dir + "/" + name + ".log");
}

json run_json(const std::string& file, const std::string& target, std::vector<std::string> extra,
              const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> args{"run",        file,       "--target", target,      "--env",
                                "production", "--format", "json",     "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = run_wslat(args, std::chrono::seconds(60), env);
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE_FALSE(r.out.empty());
  CHECK(r.out.find(kProxyPassword) == std::string::npos);
  CHECK(r.err.find(kProxyPassword) == std::string::npos);
  return json::parse(r.out);
}

void require_tinyproxy() { require_program("tinyproxy", "tinyproxy"); }

TEST_CASE("proxy: ws and wss through tinyproxy - its CONNECT timed as the proxy phase" *
          doctest::test_suite("peer")) {
  require_tinyproxy();
  auto proxy = start_tinyproxy("tinyproxy-open", false);
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  const auto file = proxy_scenario("proxy-open");

  SUBCASE("ws://") {
    auto server = start_serve();
    const json j = run_json(file, server.url(), {"--proxy", proxy_url});
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["connections"]["opened"] == 2);
    CHECK(j["metrics"]["proxy"]["count"] == 2);
    CHECK(j["metrics"]["tcp"]["count"] == 2);
  }
  SUBCASE("wss://, TLS end to end through the tunnel") {
    const Cert cert = make_cert("proxied-server");
    auto server = start_serve({"--tls-cert", cert.cert, "--tls-key", cert.key});
    const json j = run_json(file, server.url(), {"--proxy", proxy_url, "--ca", cert.cert});
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["connections"]["opened"] == 2);
    CHECK(j["metrics"]["proxy"]["count"] == 2);
    CHECK(j["metrics"]["tls"]["count"] == 2);
  }
}

// The CONNECT names an IPv6 literal target in brackets (CONNECT [::1]:PORT): without them no
// proxy can tell the host from the port, and wslat refused such a target outright.
TEST_CASE("proxy: ws://[::1] and wss://[::1] through tinyproxy - the CONNECT bracketed" *
          doctest::test_suite("peer")) {
  require_tinyproxy();
  auto proxy = start_tinyproxy("tinyproxy-v6", false);
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  const auto file = proxy_scenario("proxy-v6");

  SUBCASE("ws://[::1]") {
    auto server = start_serve({"--host", "::1"});
    REQUIRE(server.url().rfind("ws://[::1]:", 0) == 0);
    const json j = run_json(file, server.url(), {"--proxy", proxy_url});
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["errors"].empty());
    CHECK(j["connections"]["opened"] == 2);
    CHECK(j["metrics"]["proxy"]["count"] == 2);
  }
  SUBCASE("wss://[::1], the certificate checked against the address") {
    const Cert cert = make_cert("proxied-v6", "IP:::1");
    auto server = start_serve({"--host", "::1", "--tls-cert", cert.cert, "--tls-key", cert.key});
    REQUIRE(server.url().rfind("wss://[::1]:", 0) == 0);
    const json j = run_json(file, server.url(), {"--proxy", proxy_url, "--ca", cert.cert});
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["errors"].empty());
    CHECK(j["connections"]["opened"] == 2);
    CHECK(j["metrics"]["proxy"]["count"] == 2);
    CHECK(j["metrics"]["tls"]["count"] == 2);
  }
  const std::string log = read_file(temp_dir() + "/tinyproxy-v6.log");
  CHECK(log.find("CONNECT [::1]:") != std::string::npos);
}

TEST_CASE("proxy: basic auth from the proxy URL - refused without it - password never shown" *
          doctest::test_suite("peer")) {
  require_tinyproxy();
  auto proxy = start_tinyproxy("tinyproxy-auth", true);
  auto server = start_serve();
  const auto file = proxy_scenario("proxy-auth");
  const std::string at = "127.0.0.1:" + std::to_string(proxy.port());

  const json refused = run_json(file, server.url(), {"--proxy", "http://" + at});
  CHECK(refused["errors"] == json({{"proxy", 2}}));
  CHECK(refused["error_examples"]["proxy"].get<std::string>().find("refused to CONNECT") !=
        std::string::npos);
  const json ok = run_json(file, server.url(),
                           {"--proxy", "http://alice:" + std::string(kProxyPassword) + "@" + at});
  INFO("result: " << ok["errors"].dump() << ok["error_examples"].dump());
  CHECK(ok["connections"]["opened"] == 2);
}

// A proxy that answers the CONNECT with something other than HTTP, or with headers that never
// end: each connection fails in the `proxy` category, saying which, and the run reports it (it
// ended with "internal error: Invalid response line" and no result; and a proxy that kept
// sending grew wslat by what it sent until proxy.timeout). The proxy never connects anywhere.
TEST_CASE("proxy: an answer that is not HTTP or never ends is the connection's proxy failure") {
  const auto file = proxy_scenario("proxy-hostile");
  const auto answered = [&](const HttpReceiver& proxy) {
    return run_json(file, "ws://127.0.0.1:9/",
                    {"--proxy", "http://127.0.0.1:" + std::to_string(proxy.port())});
  };
  const auto example = [](const json& j) {
    return j["error_examples"]["proxy"].get<std::string>();
  };

  SUBCASE("not a status line") {
    const HttpReceiver proxy("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    const json j = answered(proxy);
    CHECK(j["errors"] == json({{"proxy", 2}}));
    CHECK(example(j).find("failed during the CONNECT: its answer is not HTTP") !=
          std::string::npos);
    CHECK(proxy.requests().size() == 2);
    CHECK(proxy.requests().at(0).method == "CONNECT");
  }
  SUBCASE("a status line, then a header line without a colon") {
    const HttpReceiver proxy("HTTP/1.1 200 Connection established\r\nnot a header\r\n\r\n");
    const json j = answered(proxy);
    CHECK(j["errors"] == json({{"proxy", 2}}));
    CHECK(example(j).find("its answer is not HTTP") != std::string::npos);
  }
  SUBCASE("headers that never end: 4 MiB without a blank line") {
    const HttpReceiver proxy("HTTP/1.1 200 OK\r\nX-Pad: " + std::string(65536, 'a'), 64);
    const json j = answered(proxy);
    CHECK(j["errors"] == json({{"proxy", 2}}));
    CHECK(example(j).find("more than 16000 bytes without the blank line") != std::string::npos);
  }
}

TEST_CASE("proxy: http_proxy is used like curl: not for loopback - not for no_proxy hosts" *
          doctest::test_suite("peer")) {
  require_tinyproxy();
  auto proxy = start_tinyproxy("tinyproxy-env", false);
  auto server = start_serve();
  const auto file = proxy_scenario("proxy-env");
  const std::map<std::string, std::string> env{
      {"http_proxy", "127.0.0.1:" + std::to_string(proxy.port())}};
  // A name only the proxy would look up (it fails there: a `proxy` error, not `dns`).
  const std::string unresolvable =
      "ws://wslat-proxy-test.invalid:" + std::to_string(server.port()) + "/";

  const json via = run_json(file, unresolvable, {}, env);
  CHECK(via["errors"] == json({{"proxy", 2}}));
  auto no_proxy = env;
  no_proxy["no_proxy"] = "example.com, .invalid";
  CHECK(run_json(file, unresolvable, {}, no_proxy)["errors"] == json({{"dns", 2}}));
  const json loopback = run_json(file, server.url(), {}, env);
  CHECK(loopback["connections"]["opened"] == 2);
  CHECK_FALSE(loopback["metrics"].contains("proxy"));  // direct
  CHECK(run_json(file, unresolvable, {"--proxy", "none"}, env)["errors"] == json({{"dns", 2}}));
}

TEST_CASE("proxy: a proxy URL wslat cannot use is a usage error (exit 64)") {
  const auto file = proxy_scenario("proxy-usage");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--target", "ws://127.0.0.1:1/", "--proxy", "https://127.0.0.1:3128"},
           {"--target", "ws://127.0.0.1:1/", "--proxy", "http://127.0.0.1:3128/path"}}) {
    std::vector<std::string> argv{"run", file, "--no-save", "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_wslat(argv, std::chrono::seconds(30));
    CAPTURE(r.err);
    CHECK(r.exit_code == 64);
  }
}

// A proxy spoken to over TLS is not implemented: refused with the flag or the variable it came
// from and what to use instead, before anything connects, the password not shown.
TEST_CASE("proxy: an https:// proxy is refused, from --proxy or https_proxy, saying where") {
  const auto file = proxy_scenario("proxy-https");
  const std::string proxy = "https://alice:" + std::string(kProxyPassword) + "@proxy.invalid:3128";
  const auto refused = [&](const std::vector<std::string>& extra,
                           const std::map<std::string, std::string>& env) {
    std::vector<std::string> argv{"run",       file,     "--target", "wss://wslat-test.invalid/",
                                  "--no-save", "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = run_wslat(argv, std::chrono::seconds(30), env);
    CAPTURE(r.err);
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("https:// proxies (TLS to the proxy) are not supported; use http://") !=
          std::string::npos);
    CHECK(r.err.find(kProxyPassword) == std::string::npos);
    return r.err;
  };
  CHECK(refused({"--proxy", proxy}, {}).find("proxy \"https://alice:***@") != std::string::npos);
  CHECK(refused({}, {{"https_proxy", proxy}}).find("https_proxy=\"https://alice:***@") !=
        std::string::npos);
  CHECK(refused({}, {{"HTTPS_PROXY", proxy}}).find("HTTPS_PROXY=") != std::string::npos);
}

}  // namespace
}  // namespace wslat::test
