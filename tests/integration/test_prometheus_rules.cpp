// The shipped Prometheus alerting rules (docs/prometheus/wslat-rules.yml) are valid
// (`promtool check rules`), fire when the target gets slow or fails and not before (`promtool
// test rules` on docs/prometheus/wslat-rules.test.yml), and name only metrics wslat exposes.
// "peer": skipped with a message when promtool (Debian package prometheus) is not installed.
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "harness.hpp"
#include "prometheus_text.hpp"

TEST_CASE("promtool check rules and test rules accept the shipped alerting rules" *
          doctest::test_suite("peer")) {
  if (!wslat::test::have_promtool()) {
    MESSAGE("skipped: " << wslat::test::kPromtool
                        << " is not installed (Debian package prometheus)");
    return;
  }
  const std::string dir = wslat::test::source_dir() + "/docs/prometheus";
  const auto check = wslat::test::run_process(
      {wslat::test::kPromtool, "check", "rules", dir + "/wslat-rules.yml"});
  CHECK_MESSAGE(check.exit_code == 0, check.out << check.err);
  CHECK(check.out.find("SUCCESS: 7 rules found") != std::string::npos);
  // promtool resolves rule_files relative to the test file.
  const auto test = wslat::test::run_process(
      {wslat::test::kPromtool, "test", "rules", dir + "/wslat-rules.test.yml"});
  CHECK_MESSAGE(test.exit_code == 0, test.out << test.err);
}

TEST_CASE("the shipped alerting rules name only documented wslat metrics") {
  const std::string rules =
      wslat::test::read_file(wslat::test::source_dir() + "/docs/prometheus/wslat-rules.yml");
  const std::string docs =
      wslat::test::read_file(wslat::test::source_dir() + "/docs/monitoring.md");
  REQUIRE(!rules.empty());
  std::set<std::string> names;
  const std::regex metric(R"(\bwslat_[a-z_]+)");
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), metric);
       it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        name.resize(name.size() - s.size());
      }
    }
    names.insert(name);
  }
  CHECK(names.size() >= 7);
  for (const auto& name : names) {
    CHECK_MESSAGE(docs.find("| `" + name + "`") != std::string::npos,
                  name << " is not in docs/monitoring.md's tables");
  }
}
