// `wslat validate`: the real binary on files written to a temp dir.
#include <string>

#include <doctest/doctest.h>

#include "harness.hpp"

using wslat::test::run_wslat;
using wslat::test::write_temp_file;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("validate: a valid scenario exits 0 and prints thresholds, timeouts and the budget") {
  const std::string path = write_temp_file("valid.json", R"({
  "name": "quick",
  "timeouts": {"connect": "1s", "handshake": "1s", "message": "1s", "close": "1s"},
  "steps": [
    {"send": {"text": "hi"}},
    {"expect": {"text": "hi", "within": "500ms", "mark": "ready"}},
    {"close": {}}
  ],
  "thresholds": {"handshake": ["p95 < 3s"], "perceived": ["p95 < 10s"]}
})");
  const auto r = run_wslat({"validate", path, "--env", "production"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "quick"));
  CHECK(contains(r.out, "production"));
  CHECK(contains(r.out, "p95 < 3s"));
  CHECK(contains(r.out, "worst-case timeout budget"));
  // 1.2 (connect) + 1.2 (handshake) + 0.6 (expect) + 1.2 (close) under production's 20% margin.
  CHECK(contains(r.out, "4.2s"));
  CHECK(contains(r.out,
                 "timeouts (as written → effective: × 1.2, profile production, chosen by --env)"));
  CHECK_FALSE(contains(r.out, "warning:"));
}

TEST_CASE("validate: every problem of a file is reported with line:col, exit 64") {
  const std::string path = write_temp_file("three-problems.json",
                                           "{\n"
                                           "  \"name\": \"broken\",\n"
                                           "  \"timeout\": {\"connect\": \"5s\"},\n"
                                           "  \"steps\": [\n"
                                           "    {\"sleep\": \"100\"},\n"
                                           "    {\"expect\": {\"regex\": \"(\"}}\n"
                                           "  ]\n"
                                           "}\n");
  const auto r = run_wslat({"validate", path});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 64);
  CHECK(contains(r.err, path + ":3:3: /timeout: unknown key \"timeout\""));
  CHECK(contains(r.err, "did you mean \"timeouts\"?"));
  CHECK(contains(r.err, path + ":5:15: /steps/0/sleep: \"100\" is not a duration"));
  CHECK(contains(r.err, path + ":6:26: /steps/1/expect/regex: \"(\" is not a valid regular"));
  CHECK(contains(r.err, "3 problems in " + path));
}

TEST_CASE("validate: a JSON syntax error names the line and column") {
  const std::string path =
      write_temp_file("syntax.json", "{\n  \"name\": \"x\"\n  \"steps\": []\n}\n");
  const auto r = run_wslat({"validate", path});
  INFO(r.err);
  CHECK(r.exit_code == 64);
  CHECK(contains(r.err, path + ":3:3: invalid JSON"));
}

TEST_CASE("validate: the 85 s incident scenario warns that its budget exceeds perceived latency") {
  // The incident: 30 s WebSocket readiness + 30 s platform readiness + 20 s service checks +
  // 5 s close, each "reasonable" alone, together 85 s against a 2 s perceived target.
  const std::string path = write_temp_file("incident.json", R"({
  "name": "incident",
  "timeouts": {"connect": "30s", "handshake": "30s", "message": "5s", "close": "5s"},
  "steps": [
    {"expect": {"json": {"type": "ready"}, "within": "20s", "mark": "ready"}},
    {"close": {}}
  ]
})");
  const auto r = run_wslat({"validate", path, "--env", "dev"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);  // a warning, not a failure
  // development: timeouts x0.5, no margin -> 42.5 s against perceived 2 s x 0.5 = 1 s.
  CHECK(contains(r.out,
                 "warning: worst-case timeout budget 42.5s exceeds the perceived "
                 "threshold 1s"));

  const auto conservative = run_wslat({"validate", path, "--conservative"});
  INFO(conservative.out);
  CHECK(conservative.exit_code == 0);
  CHECK(contains(conservative.out, "exceeds the perceived threshold 2s"));
}

TEST_CASE("validate: a missing scenario file and an unknown --env are usage errors") {
  CHECK(run_wslat({"validate", "/nonexistent/x.json"}).exit_code == 64);
  const std::string path =
      write_temp_file("ok.json", R"({"name": "ok", "steps": [{"sleep": "1ms"}]})");
  const auto r = run_wslat({"validate", path, "--env", "moon"});
  CHECK(r.exit_code == 64);
  CHECK(contains(r.err, "moon"));
}
