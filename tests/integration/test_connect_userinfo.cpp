// Targets with user info (ws://user:password@host/): accepted, sent as Authorization: Basic
// (checked by python websockets, which answers 401 otherwise), and the password shows in no
// output: stdout reports, exports, the stored result, stderr, error examples and usage errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

constexpr const char* kPassword = "s3cr3t-pw";  // decoded; written "s3cr3t%2Dpw" in some URLs

std::string userinfo_scenario(const std::string& name) { return hi_scenario_file(name); }

// "ws://127.0.0.1:P/" -> "ws://USERINFO@127.0.0.1:P/"
std::string with_userinfo(const std::string& url, const std::string& userinfo) {
  const auto rest = url.find("://") + 3;
  return url.substr(0, rest) + userinfo + "@" + url.substr(rest);
}

bool leaks(const std::string& text) {
  return text.find(kPassword) != std::string::npos || text.find("s3cr3t%2Dpw") != std::string::npos;
}

TEST_CASE("user info: ws://user:password@host sends Authorization: Basic (python websockets)" *
          doctest::test_suite("peer")) {
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_echo_server.py",
                         "--basic-auth", std::string("alice:") + kPassword});
  const auto file = userinfo_scenario("userinfo-peer");
  const auto run = [&](const std::string& target) {
    const auto r = run_wslat({"run", file, "--target", target, "--format", "json", "--no-save",
                              "--quiet", "--env", "production"});
    INFO("stderr: " << r.err);
    REQUIRE_FALSE(r.out.empty());
    CHECK_FALSE(leaks(r.out));
    CHECK_FALSE(leaks(r.err));
    return json::parse(r.out);
  };
  const json ok = run(with_userinfo(peer.url(), "alice:s3cr3t%2Dpw"));  // percent-decoded
  INFO("errors: " << ok["errors"].dump());
  CHECK(ok["connections"]["opened"] == 2);
  CHECK(ok["target"].get<std::string>().find("alice:***@") != std::string::npos);
  const json wrong = run(with_userinfo(peer.url(), "alice:nope"));
  CHECK(wrong["errors"] == json({{"http.401", 2}}));
  CHECK(run(peer.url())["errors"] == json({{"http.401", 2}}));
}

TEST_CASE("user info: the password shows in no report, export, stored result or error") {
  auto server = start_serve();
  const auto file = userinfo_scenario("userinfo-redacted");
  const std::string dir = temp_dir() + "/userinfo-results";
  REQUIRE(run_process({"mkdir", "-p", dir}).exit_code == 0);
  const std::string target = with_userinfo(server.url(), std::string("alice:") + kPassword);
  for (const std::string format : {"text", "json", "markdown", "html", "junit"}) {
    CAPTURE(format);
    const auto r =
        run_wslat({"run", file, "--target", target, "--format", format, "--results-dir", dir,
                   "--quiet", "--export-json", dir + "/e.json", "--export-html", dir + "/e.html",
                   "--export-markdown", dir + "/e.md", "--export-junit", dir + "/e.xml"});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(leaks(r.out));
    CHECK_FALSE(leaks(r.err));
    if (format == "text") CHECK(r.out.find("alice:***@") != std::string::npos);
  }
  const auto files = files_under(dir);
  CHECK(files.size() >= 5);
  for (const auto& f : files) {
    CAPTURE(f);
    CHECK_FALSE(leaks(read_file(f)));
  }
  // A connection error about that target (nothing listens on port 1).
  const auto refused =
      run_wslat({"run", file, "--target", std::string("ws://alice:") + kPassword + "@127.0.0.1:1/",
                 "--format", "json", "--no-save", "--quiet"});
  CHECK(refused.exit_code == 3);
  CHECK_FALSE(leaks(refused.out));
  CHECK_FALSE(leaks(refused.err));
  CHECK(json::parse(refused.out)["errors"].value("connect.refused", 0) == 2);
}

TEST_CASE("user info: invalid user info or a second Authorization is a usage error, unechoed") {
  const auto file = userinfo_scenario("userinfo-usage");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--target", std::string("ws://alice:") + kPassword + " x@127.0.0.1:1/"},
           {"--target", std::string("ws://alice:") + kPassword + "@127.0.0.1:99999/"},
           {"--target", std::string("ws://alice:") + kPassword + "@127.0.0.1:1/", "--header",
            "Authorization: Bearer x"}}) {
    std::vector<std::string> argv{"run", file, "--no-save", "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_wslat(argv, std::chrono::seconds(30));
    CAPTURE(r.err);
    CHECK(r.exit_code == 64);
    CHECK_FALSE(leaks(r.err));
    CHECK_FALSE(leaks(r.out));
  }
}

}  // namespace
}  // namespace wslat::test
