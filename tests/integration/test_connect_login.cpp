// "login": an HTTP request (libcurl) before each connection, whose captures go into the upgrade
// request; "origin" and "cookies" as scenario fields. Against tests/peers/py_login_server.py:
// python's http.server for the login in front of a python websockets server that refuses an
// upgrade (403) without the token, session cookie, Origin or cookie it was told to require.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

struct LoginPeer {
  explicit LoginPeer(std::vector<std::string> args)
      : url_file(temp_dir() + "/login-url-" + std::to_string(++count)),
        server(with(std::move(args), url_file)),
        login_url(read_file(url_file)) {}
  static std::vector<std::string> with(std::vector<std::string> args, const std::string& file) {
    std::vector<std::string> argv{"/usr/bin/python3",
                                  source_dir() + "/tests/peers/py_login_server.py",
                                  "--login-url-file", file};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  static inline int count = 0;
  std::string url_file;
  BackgroundServer server;
  std::string login_url;
};

json login_block(const std::string& url, const std::string& password) {
  return {{"url", url},
          {"json", {{"user", "alice-${connection}"}, {"password", password}}},
          {"capture", {{"token", {{"json", "/token"}}}, {"sid", {{"cookie", "sid"}}}}}};
}

std::string scenario(const std::string& name, const json& extra) {
  json s = {
      {"name", name},
      {"load", {{"connections", 3}, {"concurrency", 3}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}}},
      {"steps", json::array({{{"send", {{"text", "hi ${var:sid}"}}}},
                             {{"expect", {{"text", "hi ${var:sid}"}}}},
                             {{"close", {{"code", 1000}}}}})}};
  s.update(extra);
  return write_temp_file(name + ".json", s.dump(2));
}

ProcessResult run(const std::string& file, const std::string& target,
                  std::vector<std::string> extra = {},
                  const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> args{"run",        file,       "--target", target,      "--env",
                                "production", "--format", "json",     "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_wslat(args, std::chrono::seconds(60), env);
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  return r;
}

TEST_CASE("login: a token captured from the login's JSON body authorizes the upgrade" *
          doctest::test_suite("peer")) {
  LoginPeer peer({"--require-token"});
  json extra = {{"login", login_block(peer.login_url, "${env:WSLAT_TEST_PASSWORD}")},
                {"headers", {{"Authorization", "Bearer ${var:token}"}}}};
  const auto file = scenario("login-token", extra);
  const std::map<std::string, std::string> env{{"WSLAT_TEST_PASSWORD", "s3cret"}};
  const auto r = run(file, peer.server.url(), {"--trace", "3"}, env);
  CHECK(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["connections"]["opened"] == 3);
  CHECK(j["errors"].empty());
  REQUIRE(j["metrics"].contains("login"));
  CHECK(j["metrics"]["login"]["count"] == 3);
  CHECK(j["timeouts_ms"]["login"] == 12000);  // 10s + production's 20% margin
  // The trace shows the login, never the password; the token goes out as Authorization.
  CHECK(r.err.find("login POST " + peer.login_url) != std::string::npos);
  CHECK(r.err.find("<- login HTTP 200") != std::string::npos);
  CHECK(r.err.find("s3cret") == std::string::npos);
  CHECK(r.out.find("s3cret") == std::string::npos);

  // The same scenario without the login: the server refuses the upgrade.
  const auto refused =
      run(scenario("login-none", {{"steps", json::array({{{"close", {{"code", 1000}}}}})}}),
          peer.server.url());
  CHECK(refused.exit_code == 3);
  CHECK(json::parse(refused.out)["errors"] == json({{"http.403", 3}}));
}

// An https:// login (python's http.server in TLS with a self-signed certificate): the
// certificate is checked like a wss:// target's, with --ca trusting it and --insecure skipping
// the check; without either the login fails before any upgrade.
TEST_CASE(
    "login: an https:// login - its certificate trusted with --ca or skipped with --insecure" *
    doctest::test_suite("peer")) {
  const std::string cert = temp_dir() + "/login-tls.cert.pem";
  const std::string key = temp_dir() + "/login-tls.key.pem";
  REQUIRE(
      run_process({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days",
                   "1", "-subj", "/CN=login", "-addext", "subjectAltName=IP:127.0.0.1"},
                  std::chrono::seconds(30))
          .exit_code == 0);
  LoginPeer peer({"--require-token", "--login-tls-cert", cert, "--login-tls-key", key});
  REQUIRE(peer.login_url.rfind("https://127.0.0.1:", 0) == 0);
  const auto file =
      scenario("login-https", {{"login", login_block(peer.login_url, "s3cret")},
                               {"headers", {{"Authorization", "Bearer ${var:token}"}}}});
  for (const auto& flags : std::vector<std::vector<std::string>>{{"--ca", cert}, {"--insecure"}}) {
    CAPTURE(flags.front());
    const auto r = run(file, peer.server.url(), flags);
    CHECK(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["errors"].empty());
    CHECK(j["connections"]["opened"] == 3);
    CHECK(j["metrics"]["login"]["count"] == 3);
  }
  const auto untrusted = run(file, peer.server.url());
  CHECK(untrusted.exit_code == 3);
  const json j = json::parse(untrusted.out);
  CHECK(j["connections"]["opened"] == 0);
  CHECK(j["errors"].size() == 1);
  CHECK(j["errors"].items().begin().key().rfind("login.", 0) == 0);
  CHECK(j["error_examples"].dump().find("certificate") != std::string::npos);
}

TEST_CASE("login: a wrong password fails as login.status - before any upgrade" *
          doctest::test_suite("peer")) {
  LoginPeer peer({"--require-token"});
  const auto file =
      scenario("login-wrong", {{"login", login_block(peer.login_url, "nope")},
                               {"headers", {{"Authorization", "Bearer ${var:token}"}}}});
  const auto r = run(file, peer.server.url());
  CHECK(r.exit_code == 3);
  const json j = json::parse(r.out);
  CHECK(j["errors"] == json({{"login.status", 3}}));
  CHECK(j["error_examples"]["login.status"].get<std::string>().find("HTTP 401") !=
        std::string::npos);
  CHECK(j["connections"]["opened"] == 0);
}

TEST_CASE("login: with send_cookies the login's session cookie goes with the upgrade" *
          doctest::test_suite("peer")) {
  LoginPeer peer({"--require-session-cookie"});
  json login = login_block(peer.login_url, "s3cret");
  const auto without = run(scenario("login-nocookie", {{"login", login}}), peer.server.url());
  CHECK(without.exit_code == 3);
  CHECK(json::parse(without.out)["errors"] == json({{"http.403", 3}}));

  login["send_cookies"] = true;
  const auto with = run(scenario("login-cookie", {{"login", login}}), peer.server.url());
  CHECK(with.exit_code == 0);
  CHECK(json::parse(with.out)["connections"]["opened"] == 3);
}

TEST_CASE("login: origin and cookies fields are sent with the upgrade" *
          doctest::test_suite("peer")) {
  LoginPeer peer({"--require-origin", "https://app.example", "--require-cookie", "theme=dark-3"});
  const json steps = json::array({{{"close", {{"code", 1000}}}}});
  const auto ok = run(scenario("origin-cookies", {{"origin", "https://app.example"},
                                                  {"cookies", {{"theme", "dark-3"}}},
                                                  {"steps", steps}}),
                      peer.server.url());
  CHECK(ok.exit_code == 0);
  const json j = json::parse(ok.out);
  CHECK(j["connections"]["opened"] == 3);
  CHECK(j["request_headers"]["Origin"] == "https://app.example");
  CHECK(j["request_headers"]["Cookie"] == "***");  // a cookie is a secret
  CHECK(ok.out.find("dark-3") == std::string::npos);
  const auto wrong = run(scenario("origin-wrong", {{"origin", "https://evil.example"},
                                                   {"cookies", {{"theme", "dark-3"}}},
                                                   {"steps", steps}}),
                         peer.server.url());
  CHECK(json::parse(wrong.out)["errors"] == json({{"http.403", 3}}));
}

TEST_CASE("login: a login slower than timeouts.login fails as login.timeout" *
          doctest::test_suite("peer")) {
  LoginPeer peer({"--login-delay-ms", "3000"});
  json extra = {{"login", login_block(peer.login_url, "s3cret")},
                {"timeouts", {{"login", "300ms"}}},
                {"load", {{"connections", 2}, {"concurrency", 2}}}};
  const auto started = std::chrono::steady_clock::now();
  const auto r = run(scenario("login-slow", extra), peer.server.url());
  CHECK(r.exit_code == 3);
  const json j = json::parse(r.out);
  CHECK(j["errors"] == json({{"login.timeout", 2}}));
  CHECK(j["error_examples"]["login.timeout"].get<std::string>().find("within 360ms (300ms × 1.2") !=
        std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
}

// One worker, four users whose logins each take 1 s: run one after another on the event loop
// they would take 4 s; on the worker's curl thread they overlap.
TEST_CASE("login: slow logins run at once - off the worker's event loop" *
          doctest::test_suite("peer")) {
  LoginPeer peer({"--login-delay-ms", "1000"});
  json extra = {{"login", login_block(peer.login_url, "s3cret")},
                {"load", {{"connections", 4}, {"concurrency", 4}}},
                {"thresholds", json::object()}};  // e2e counts from t0: the login's 1 s too
  const auto r = run(scenario("login-overlap", extra), peer.server.url(), {"--threads", "1"});
  CHECK(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j["connections"]["opened"] == 4);
  CHECK(j["metrics"]["login"]["min"].get<double>() >= 1000.0);
  CHECK(j["metrics"]["login"]["max"].get<double>() < 2500.0);  // not queued behind the others
  CHECK(j["duration_ms"].get<double>() < 3500.0);
}

TEST_CASE("login: an unreachable login server is login.connect") {
  auto server = start_serve();
  json login = {{"url", "http://127.0.0.1:1/login"}};
  const auto r =
      run(scenario("login-unreachable",
                   {{"login", login}, {"steps", json::array({{{"close", json::object()}}})}}),
          server.url());
  CHECK(r.exit_code == 3);
  CHECK(json::parse(r.out)["errors"] == json({{"login.connect", 3}}));
}

}  // namespace
}  // namespace wslat::test
