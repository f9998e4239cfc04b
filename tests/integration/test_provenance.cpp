// What a binary and its results say about where they come from: `wslat --version` and the
// result's "tool" object (version, commit, build type).
#include <regex>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using wslat::test::read_file;
using wslat::test::run_wslat;
using wslat::test::source_dir;
using wslat::test::temp_dir;

namespace {

// A commit as built: 12 hex digits, "-dirty" when tracked files had changes, or "unknown".
const std::regex kCommit("([0-9a-f]{12}(-dirty)?|unknown)");
// A CMake build type, "+sanitize=..." when instrumented.
const std::regex kBuild("(Release|RelWithDebInfo|Debug|MinSizeRel)(\\+sanitize=[a-z,]+)?");

}  // namespace

TEST_CASE("provenance: --version shows version, commit and build type") {
  const auto r = run_wslat({"--version"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::smatch m;
  const std::regex shape("wslat ([0-9]+\\.[0-9]+\\.[0-9]+)\ncommit (\\S+)\nbuild (\\S+)\n");
  REQUIRE(std::regex_match(r.out, m, shape));
  const std::string commit = m[2], build = m[3];
  CHECK(std::regex_match(commit, kCommit));
  CHECK(std::regex_match(build, kBuild));
}

TEST_CASE("provenance: a result records the tool's version, commit and build type") {
  const std::string out = temp_dir() + "/provenance.json";
  const auto run = run_wslat({"run", source_dir() + "/scenarios/smoke.json", "--no-save", "--quiet",
                              "--export-json", out});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const auto tool = nlohmann::json::parse(read_file(out)).at("tool");
  INFO(tool.dump());
  const auto version = run_wslat({"--version"}).out;
  CHECK(tool.at("name") == "wslat");
  CHECK(version == "wslat " + tool.at("version").get<std::string>() + "\ncommit " +
                       tool.at("commit").get<std::string>() + "\nbuild " +
                       tool.at("build").get<std::string>() + "\n");
  // Stored results keep them through `report` and `merge` (read back, written again).
  const std::string merged = temp_dir() + "/provenance-merged.json";
  const auto merge = run_wslat({"merge", out, "-o", merged});
  INFO(merge.out << merge.err);
  REQUIRE(merge.exit_code == 0);
  CHECK(nlohmann::json::parse(read_file(merged)).at("tool") == tool);
}
