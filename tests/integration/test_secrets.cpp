// Secrets never reach reports or results: a value from ${env:SECRET_TOKEN} planted in the
// Authorization header, a Cookie, a header listed in "redact" and a sent payload must not
// appear in any byte wslat writes (stdout, stderr, exports, results folder, baseline,
// step summary), whatever the format.
#include <dirent.h>
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

// Plain alphanumerics: JSON, XML, HTML and Markdown escaping would leave it as is, so a leak
// in any format shows up verbatim.
const std::string kSecret = "sEcReTtOkEn7f3a9c41d";
const std::map<std::string, std::string> kEnv = {{"SECRET_TOKEN", kSecret}};

std::string scenario_with_secrets(const std::string& url) {
  json s = {
      {"name", "secrets"},
      {"target", url},
      {"headers",
       {{"Authorization", "Bearer ${env:SECRET_TOKEN}"},
        {"Cookie", "session=${env:SECRET_TOKEN}"},
        {"X-Api-Key", "${env:SECRET_TOKEN}"},
        {"X-Visible", "not-a-secret"}}},
      {"redact", {"x-api-key"}},
      {"load", {{"connections", 2}, {"concurrency", 2}}},
      {"steps", json::array({{{"send", {{"text", "token=${env:SECRET_TOKEN}"}}}},
                             {{"expect", {{"regex", "^token=\\w+$"}, {"within", "5s"}}}},
                             {{"send", {{"json", {{"auth", "${env:SECRET_TOKEN}"}}}}}},
                             {{"expect", {{"json", {{"auth", json::object()}}}, {"within", "1s"}}}},
                             {{"close", {{"code", 1000}}}}})}};
  // The last expect never matches (auth is a string): a message.timeout whose example text
  // would be a natural place for a payload to leak.
  return write_temp_file("secrets.json", s.dump(2));
}

void check_clean(const std::string& what, const std::string& bytes) {
  INFO(what << ":\n" << bytes.substr(0, 4000));
  CHECK(bytes.find(kSecret) == std::string::npos);
}

TEST_CASE("secrets: no output format, export, stored result or baseline contains a secret") {
  auto server = start_serve();
  const auto scenario = scenario_with_secrets(server.url());
  const std::string dir = temp_dir() + "/secrets-out";
  ::mkdir(dir.c_str(), 0755);
  const std::vector<std::string> common{"run", scenario, "--env", "production"};

  for (const std::string format : {"text", "json", "junit", "markdown", "html"}) {
    auto args = common;
    args.insert(args.end(), {"--format", format, "--no-save"});
    const auto r = run_wslat(args, std::chrono::seconds(60), kEnv);
    INFO("format " << format << "; stderr: " << r.err);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 1);  // the unmatched expect: errors rate breached, nothing else
    CHECK_FALSE(r.out.empty());
    check_clean("stdout of --format " + format, r.out);
    check_clean("stderr of --format " + format, r.err);
  }

  auto args = common;
  args.insert(args.end(),
              {"--export-json", dir + "/r.json", "--export-junit", dir + "/r.xml",
               "--export-markdown", dir + "/r.md", "--export-html", dir + "/r.html",
               "--results-dir", dir + "/results", "--save-baseline", dir + "/baseline.json"});
  auto env = kEnv;
  env["GITHUB_STEP_SUMMARY"] = dir + "/step-summary.md";
  const auto r = run_wslat(args, std::chrono::seconds(60), env);
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  check_clean("stdout", r.out);
  check_clean("stderr", r.err);

  // The run did send the secret (the echo matched) and the headers are shown redacted.
  const json result = json::parse(read_file(dir + "/r.json"));
  CHECK(result["metrics"].contains("rtt"));
  CHECK(result["errors"].value("message.timeout", 0) == 2);
  const auto& headers = result["request_headers"];
  INFO("request_headers: " << headers.dump());
  for (const char* name : {"Authorization", "Cookie", "X-Api-Key"}) {
    CHECK(headers.value(name, std::string()) == "***");
  }
  CHECK(headers.value("X-Visible", std::string()) == "not-a-secret");

  const auto files = files_under(dir);
  CHECK(files.size() >= 7);  // 4 exports, the stored run, the baseline, the step summary
  for (const auto& f : files) check_clean(f, read_file(f));

  // Re-rendering the stored result, and validating the scenario, print nothing secret either.
  for (const std::string format : {"text", "html"}) {
    const auto rep = run_wslat({"report", dir + "/r.json", "--format", format});
    CHECK(rep.exit_code == 0);
    check_clean("wslat report --format " + format, rep.out + rep.err);
  }
  const auto val = run_wslat({"validate", scenario}, std::chrono::seconds(30), kEnv);
  check_clean("wslat validate", val.out + val.err);
}

TEST_CASE("trace: --trace 1 prints every frame of connection 0 only - secrets redacted") {
  auto server = start_serve();
  const auto scenario = scenario_with_secrets(server.url());
  const auto r = run_wslat({"run", scenario, "--env", "production", "--no-save", "--quiet",
                            "--trace", "1", "--format", "json"},
                           std::chrono::seconds(60), kEnv);
  INFO(r.err);
  check_clean("stderr with --trace", r.err);
  CHECK(r.err.find("trace c0 ") != std::string::npos);
  CHECK(r.err.find("trace c1 ") == std::string::npos);
  // The upgrade, both sends and both echoes, in order, with sizes and redacted payloads.
  const auto at = [&r](const std::string& part) { return r.err.find(part); };
  const auto upgrade = at("<- upgrade 101");
  const auto sent = at("-> text 26 B token=***");
  const auto echoed = at("<- text 26 B token=***");
  const auto json_sent = at("-> text 31 B {\"auth\":\"***\"}");
  REQUIRE(upgrade != std::string::npos);
  REQUIRE(sent != std::string::npos);
  REQUIRE(echoed != std::string::npos);
  REQUIRE(json_sent != std::string::npos);
  CHECK(upgrade < sent);
  CHECK(sent < echoed);
  CHECK(echoed < json_sent);
  // The stdout report is untouched by the trace.
  CHECK(nlohmann::json::parse(r.out).contains("metrics"));
}

}  // namespace
}  // namespace wslat::test
