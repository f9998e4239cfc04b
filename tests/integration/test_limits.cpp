// The real binary against hostile input: deeply nested files, regexes against messages built
// for backtracking engines, messages beyond 16 KiB, an address-space limit, and profile
// numbers or `within`s that would overflow a duration once scaled.
#include <string>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

constexpr const char* kAddressSpace768M = "--as=805306368";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string scenario_file(const std::string& name, const std::string& url, json steps,
                          const json& extra = json::object()) {
  json s = {
      {"name", name},
      {"target", url},
      {"timeouts", {{"connect", "2s"}, {"handshake", "2s"}, {"message", "5s"}, {"close", "2s"}}},
      {"steps", std::move(steps)}};
  s.merge_patch(extra);
  return write_temp_file(name + ".json", s.dump(2));
}

ProcessResult run(const std::string& file, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"run", file, "--env", "production", "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_wslat(args, std::chrono::seconds(60));
}

TEST_CASE("limits: (a+)+$ against a 100 KB hostile message is answered well within `within`") {
  // A backtracking engine took 7.2 s for 27 a's and a b, and 654 s (ignoring SIGTERM) for
  // 16,383. Here 3,200 runs of 31 a's and a b (100 KiB): the first 16 KiB, all that
  // std::regex was shown, end in a b too.
  auto server = start_serve();
  std::string hostile;
  for (int i = 0; i < 3'200; ++i) hostile += std::string(31, 'a') + "b";
  const auto file =
      scenario_file("hostile-regex", server.url(),
                    json::array({{{"send", {{"text", hostile}}}},
                                 {{"send", {{"text", "ok"}}}},
                                 {{"expect", {{"regex", "(a+)+$|^ok$"}, {"within", "5s"}}}},
                                 {{"close", json::object()}}}));
  const auto r = run(file);
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK(r.wall_ms < 20'000);  // the expect's within is 6 s under production
}

TEST_CASE("limits: a regex expectation matches a 20 KiB message in full") {
  auto server = start_serve();
  const auto file =
      scenario_file("long-regex", server.url(),
                    json::array({{{"send", {{"text", std::string(20 * 1024, 'x') + "END"}}}},
                                 {{"expect", {{"regex", "^x+END$"}, {"within", "5s"}}}},
                                 {{"close", json::object()}}}));
  const auto r = run(file);
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("limits: a run works under a 768 MiB address-space limit (prlimit --as)") {
  if (kSanitized) {
    MESSAGE("skipped under a sanitizer: its shadow memory needs more address space");
    return;
  }
  // Workers once reserved 256 MiB stacks each for std::regex: 4 threads need 1 GiB.
  auto server = start_serve();
  const auto file =
      scenario_file("prlimit", server.url(),
                    json::array({{{"send", {{"text", "hello"}}}},
                                 {{"expect", {{"regex", "^hel+o$"}, {"within", "5s"}}}},
                                 {{"close", json::object()}}}),
                    {{"load", {{"connections", 8}, {"concurrency", 4}}}});
  const auto r = run_process({"prlimit", kAddressSpace768M, wslat_binary(), "run", file, "--env",
                              "production", "--no-save", "--quiet", "--threads", "4"},
                             std::chrono::seconds(60));
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("limits: validate refuses a 100 KB file of nested arrays with its location") {
  const std::string deep = std::string(50'000, '[') + std::string(50'000, ']');
  const auto path = write_temp_file("deep.json", deep);
  // It once took 4.9 GB and then crashed: under 768 MiB it must not even come close.
  std::vector<std::string> argv{wslat_binary(), "validate", path};
  if (!kSanitized) argv.insert(argv.begin(), {"prlimit", kAddressSpace768M});
  const auto r = run_process(argv, std::chrono::seconds(60));
  INFO(r.err);
  CHECK(r.exit_code == 64);
  CHECK(contains(r.err, path + ":1:129: invalid JSON: nested deeper than 128"));
}

TEST_CASE("limits: a multiplier of 1e308 is the same located error in validate and run") {
  const auto path = write_temp_file("huge-multiplier.json", R"({
  "name": "huge-multiplier",
  "steps": [{"send": {"text": "x"}}, {"expect": {"text": "x", "within": "1s"}}],
  "environments": {"staging": {"multiplier": 1e308}}
})");
  const std::string where = path + ":4:46: /environments/staging/multiplier: 1e+308";
  const auto v = run_wslat({"validate", path, "--env", "staging"});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 64);
  CHECK(contains(v.err, where));
  const auto r = run_wslat({"run", path, "--env", "staging", "--no-save", "--quiet"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 64);
  CHECK(contains(r.err, where));
}

TEST_CASE("limits: a `within` that overflows once scaled saturates in run as in validate") {
  // 2,400,000 h (274 years) fit in a duration; ×1.2 under production they do not. The run
  // once turned it negative: every expect timed out at once.
  auto server = start_serve();
  const auto file =
      scenario_file("long-within", server.url(),
                    json::array({{{"send", {{"text", "hi"}}}},
                                 {{"expect", {{"text", "hi"}, {"within", "2400000h"}}}},
                                 {{"close", json::object()}}}));
  const auto v = run_wslat({"validate", file, "--env", "production"});
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  const auto r = run(file, {"--format", "json"});
  INFO(r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  const json result = json::parse(r.out);
  CHECK(result["errors"].empty());
}

}  // namespace
}  // namespace wslat::test
