// TLS connection phases beyond verification (tests/integration/test_tls.cpp): a handshake that
// stalls after TCP connected is `tls.timeout` with `tcp` measured, never `connect.timeout`.
#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "third_party.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

std::string tls_scenario(const std::string& name, const std::string& connect_timeout) {
  json s = {
      {"name", name},
      {"load", {{"connections", 2}, {"concurrency", 2}}},
      {"timeouts",
       {{"connect", connect_timeout}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}}},
      {"steps", json::array({{{"send", {{"text", "hi"}}}},
                             {{"expect", {{"text", "hi"}}}},
                             {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

json run_json(const std::string& file, const std::string& target,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run",        file,       "--target", target,      "--env",
                                "production", "--format", "json",     "--no-save", "--quiet"};
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

// nginx on 127.0.0.1:port with TLS, requiring a client certificate signed by `client_ca`, in
// front of `upstream_port`; /sni-only answers 404 unless the client sent SNI "sni.test".
std::string mtls_nginx_config(const std::string& dir, int port, int upstream_port,
                              const Cert& server, const Cert& client_ca) {
  const std::string proxy = "proxy_pass http://127.0.0.1:" + std::to_string(upstream_port) +
                            "; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
                            "proxy_set_header Connection \"upgrade\";";
  std::string conf = nginx_config_head(dir);
  conf += " server { listen 127.0.0.1:" + std::to_string(port) + " ssl; ssl_certificate " +
          server.cert + "; ssl_certificate_key " + server.key +
          "; ssl_verify_client on; ssl_client_certificate " + client_ca.cert + ";\n";
  conf += "  location / { " + proxy + " }\n";
  conf += "  location /sni-only { if ($ssl_server_name != \"sni.test\") { return 404; } " + proxy +
          " }\n }\n}\n";
  return conf;
}

TEST_CASE("tls: client certificates (--cert --key) and --sni against nginx with ssl_verify_client" *
          doctest::test_suite("peer")) {
  auto upstream = start_serve();
  const Cert server = make_cert("nginx-mtls", "IP:127.0.0.1,DNS:sni.test");
  const Cert client = make_cert("wslat-client", "DNS:client.test");
  const std::string dir = temp_dir() + "/nginx-mtls";
  auto nginx = start_nginx("127.0.0.1", dir, [&](int port) {
    return mtls_nginx_config(dir, port, upstream.port(), server, client);
  });
  const std::string base = "wss://127.0.0.1:" + std::to_string(nginx.port());
  const auto file = tls_scenario("mtls", "5s");
  const std::vector<std::string> ca{"--ca", server.cert};
  const std::vector<std::string> mine{"--ca",      server.cert, "--cert",
                                      client.cert, "--key",     client.key};
  const auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  SUBCASE("without a client certificate nginx refuses the request") {
    const json j = run_json(file, base + "/", ca);
    CHECK(j["errors"] == json({{"http.400", 2}}));
  }
  SUBCASE("with --cert and --key every connection opens") {
    const json j = run_json(file, base + "/", mine);
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["connections"]["opened"] == 2);
    CHECK(j["errors"].empty());
  }
  SUBCASE("--sni sends that name (and verifies the certificate against it)") {
    CHECK(run_json(file, base + "/sni-only", mine)["errors"] == json({{"http.404", 2}}));
    const json j = run_json(file, base + "/sni-only", with(mine, {"--sni", "sni.test"}));
    INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
    CHECK(j["connections"]["opened"] == 2);
    const json other = run_json(file, base + "/", with(mine, {"--sni", "other.test"}));
    CHECK(other["errors"] == json({{"tls", 2}}));
    CHECK(other["error_examples"]["tls"].get<std::string>().find("other.test") !=
          std::string::npos);
  }
}

TEST_CASE("tls: the scenario's tls block gives the client certificate and SNI - paths beside it" *
          doctest::test_suite("peer")) {
  auto upstream = start_serve();
  const Cert server = make_cert("nginx-mtls2", "IP:127.0.0.1,DNS:sni.test");
  const Cert client = make_cert("wslat-client2", "DNS:client.test");
  const std::string dir = temp_dir() + "/nginx-mtls2";
  auto nginx = start_nginx("127.0.0.1", dir, [&](int port) {
    return mtls_nginx_config(dir, port, upstream.port(), server, client);
  });
  json s = json::parse(read_file(tls_scenario("mtls-scenario", "5s")));
  // Relative to the scenario file, which write_temp_file puts beside the certificates.
  s["tls"] = {{"cert", "wslat-client2.cert.pem"},
              {"key", "wslat-client2.key.pem"},
              {"sni", "sni.test"},
              {"min_version", "1.2"}};
  const auto file = write_temp_file("mtls-scenario-tls.json", s.dump(2));
  const json j = run_json(file, "wss://127.0.0.1:" + std::to_string(nginx.port()) + "/sni-only",
                          {"--ca", server.cert});
  INFO("result: " << j["errors"].dump() << j["error_examples"].dump());
  CHECK(j["connections"]["opened"] == 2);
  CHECK(j["errors"].empty());
}

TEST_CASE("tls: a bad tls block is a scenario error (validate, exit 64)") {
  for (const json& bad : {json{{"cert", "c.pem"}}, json{{"min_version", "1.1"}}, json{{"sni", 3}},
                          json{{"ciphers", "x"}}}) {
    CAPTURE(bad.dump());
    json s = json::parse(read_file(tls_scenario("tls-bad", "5s")));
    s["tls"] = bad;
    const auto r = run_wslat({"validate", write_temp_file("tls-bad-block.json", s.dump(2))});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("/tls") != std::string::npos);
  }
}

TEST_CASE("tls: --tls-min 1.3 refuses a TLS 1.2-only server (openssl s_server)") {
  const Cert cert = make_cert("s-server", "IP:127.0.0.1");
  ThirdPartyServer s_server(
      "127.0.0.1",
      [&](int port) {
        return std::vector<std::string>{"openssl",
                                        "s_server",
                                        "-quiet",
                                        "-www",
                                        "-tls1_2",
                                        "-accept",
                                        "127.0.0.1:" + std::to_string(port),
                                        "-cert",
                                        cert.cert,
                                        "-key",
                                        cert.key};
      },
      temp_dir() + "/s_server.log");
  const std::string url = "wss://127.0.0.1:" + std::to_string(s_server.port()) + "/";
  const auto file = tls_scenario("tls-min", "5s");
  // TLS 1.2 is fine by default: s_server -www then answers the upgrade with an HTTP 200 page.
  const json plain = run_json(file, url, {"--ca", cert.cert});
  INFO("default: " << plain["errors"].dump());
  CHECK(plain["errors"].value("tls", 0) == 0);
  const json min13 = run_json(file, url, {"--ca", cert.cert, "--tls-min", "1.3"});
  INFO("--tls-min 1.3: " << min13["errors"].dump() << min13["error_examples"].dump());
  CHECK(min13["errors"] == json({{"tls", 2}}));
}

TEST_CASE("tls: client TLS options are checked before connecting (exit 64)") {
  const Cert cert = make_cert("usage", "IP:127.0.0.1");
  const auto file = tls_scenario("tls-usage", "5s");
  const std::string wss = "wss://127.0.0.1:1/";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--target", wss, "--cert", cert.cert},
           {"--target", wss, "--key", cert.key},
           {"--target", wss, "--cert", cert.cert, "--key", cert.cert},
           {"--target", wss, "--tls-min", "1.1"},
           {"--target", wss, "--sni", "bad name"},
           {"--target", "ws://127.0.0.1:1/", "--sni", "x.test"}}) {
    std::vector<std::string> argv{"run", file, "--no-save", "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_wslat(argv, std::chrono::seconds(30));
    CAPTURE(r.err);
    CHECK(r.exit_code == 64);
  }
}

}  // namespace
}  // namespace wslat::test
