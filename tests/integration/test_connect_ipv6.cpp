// IPv6 targets and the Host header: ws://[::1] sends "Host: [::1]:PORT" (RFC 7230 §5.4), a
// user's Host wins over the URL's, and headers the handshake needs wslat to write are refused
// (exit 64) rather than silently replaced. Against the embedded server on [::1] (which answers a
// bracketless IPv6 Host with 400, as nginx does) and through a real nginx on [::1].
#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "third_party.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

std::string echo_scenario(const std::string& name, const json& headers = json::object()) {
  return hi_scenario_file(name, {{"headers", headers}});
}

struct Run {
  ProcessResult process;
  json result;
};

Run run_json(const std::string& scenario, const std::string& target,
             std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run",        scenario,   "--target", target,      "--env",
                                "production", "--format", "json",     "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  Run r;
  r.process = run_wslat(args, std::chrono::seconds(60));
  INFO("stderr: " << r.process.err);
  REQUIRE_FALSE(r.process.timed_out);
  REQUIRE_FALSE(r.process.out.empty());
  r.result = json::parse(r.process.out);
  return r;
}

void check_all_opened(const Run& r) {
  INFO("errors: " << r.result["errors"].dump() << " examples: " << r.result["error_examples"]);
  CHECK(r.process.exit_code == 0);
  CHECK(r.result["connections"]["opened"] == 2);
  CHECK(r.result["errors"].empty());
}

TEST_CASE("ipv6: ws://[::1]:PORT sends a bracketed Host that the server accepts") {
  auto server = start_serve({"--host", "::1"});
  REQUIRE(server.url().rfind("ws://[::1]:", 0) == 0);
  check_all_opened(run_json(echo_scenario("ipv6-host"), server.url()));
}

TEST_CASE("host header: the user's Host is sent instead of the URL's, --header over the scenario") {
  auto server = start_serve();
  const std::string bare_v6 = "::1:" + std::to_string(server.port());  // the server answers 400

  SUBCASE("--header Host replaces the URL's") {
    const auto r =
        run_json(echo_scenario("host-flag"), server.url(), {"--header", "Host: " + bare_v6});
    CHECK(r.result["errors"].value("http.400", 0) == 2);
  }
  SUBCASE("the scenario's Host replaces the URL's") {
    const auto r = run_json(echo_scenario("host-scenario", {{"Host", bare_v6}}), server.url());
    CHECK(r.result["errors"].value("http.400", 0) == 2);
  }
  SUBCASE("--header Host replaces the scenario's: one Host line, not both joined") {
    const auto r = run_json(echo_scenario("host-both", {{"Host", bare_v6}}), server.url(),
                            {"--header", "Host: localhost"});
    check_all_opened(r);
  }
}

TEST_CASE("host header: headers wslat must write are refused with exit 64, never dropped") {
  const auto scenario = echo_scenario("reserved-none");
  for (const std::string header :
       {"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==", "sec-websocket-version: 8",
        "Sec-WebSocket-Protocol: chat", "Host: "}) {
    CAPTURE(header);
    const auto r = run_wslat({"run", scenario, "--no-save", "--quiet", "--header", header});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("--header") != std::string::npos);
    CHECK(r.out.empty());
  }
  const auto in_file = echo_scenario("reserved-file", {{"Sec-WebSocket-Protocol", "chat"}});
  for (const std::string command : {"run", "validate"}) {
    CAPTURE(command);
    const auto r = command == "run" ? run_wslat({"run", in_file, "--no-save", "--quiet"})
                                    : run_wslat({"validate", in_file});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("/headers/Sec-WebSocket-Protocol") != std::string::npos);
    CHECK(r.err.find("\"subprotocols\"") != std::string::npos);
  }
}

// --- through nginx --------------------------------------------------------------------------

// nginx on [::1] (plain on `port`, TLS on `tls_port`) in front of `upstream_port` on
// 127.0.0.1. The default server proxies everything but /virtual-only (404); the virtual host
// "virtual.test" proxies everything.
std::string nginx_config(const std::string& dir, int port, int tls_port, int upstream_port,
                         const Cert& cert) {
  const std::string proxy = "proxy_pass http://127.0.0.1:" + std::to_string(upstream_port) +
                            "; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
                            "proxy_set_header Connection \"upgrade\"; proxy_set_header Host $host;";
  const std::string listen =
      "listen [::1]:" + std::to_string(port) + "; listen [::1]:" + std::to_string(tls_port) +
      " ssl; ssl_certificate " + cert.cert + "; ssl_certificate_key " + cert.key + ";";
  std::string conf = nginx_config_head(dir);
  conf += " server { " + listen + " server_name _; location / { " + proxy +
          " } location /virtual-only { return 404; } }\n";
  conf += " server { " + listen + " server_name virtual.test; location / { " + proxy + " } }\n}\n";
  return conf;
}

TEST_CASE("nginx: ws and wss to [::1] through nginx - and a Host header picks its virtual host" *
          doctest::test_suite("peer")) {
  auto upstream = start_serve();
  const Cert cert = make_cert("nginx-v6", "IP:::1");
  const std::string dir = temp_dir() + "/nginx";
  int tls_port = 0;
  auto nginx = start_nginx("::1", dir, [&](int port) {
    tls_port = port == 0 ? 0 : pick_free_port("::1");
    return nginx_config(dir, port, tls_port, upstream.port(), cert);
  });
  const std::string base = "[::1]:" + std::to_string(nginx.port());
  const auto scenario = echo_scenario("nginx-v6");

  SUBCASE("ws://[::1]: nginx accepts the bracketed Host") {
    check_all_opened(run_json(scenario, "ws://" + base + "/"));
  }
  SUBCASE("wss://[::1]: the same over TLS, the certificate's IP verified") {
    check_all_opened(
        run_json(scenario, "wss://[::1]:" + std::to_string(tls_port) + "/", {"--ca", cert.cert}));
  }
  SUBCASE("a Host header reaches nginx: its virtual host answers where the default 404s") {
    const auto plain = run_json(scenario, "ws://" + base + "/virtual-only");
    CHECK(plain.result["errors"].value("http.404", 0) == 2);
    check_all_opened(
        run_json(scenario, "ws://" + base + "/virtual-only", {"--header", "Host: virtual.test"}));
  }
}

}  // namespace
}  // namespace wslat::test
