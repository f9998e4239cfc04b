// The default results folder: ./results where the current folder is writable, else the XDG
// state folder (an installed wslat run from `/` must still work).
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using wslat::test::files_under;
using wslat::test::kCleanedEnvironment;
using wslat::test::ProcessResult;
using wslat::test::run_process;
using wslat::test::source_dir;
using wslat::test::temp_dir;
using wslat::test::wslat_binary;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// `wslat ARGS...` with the current folder `cwd`; "(deleted)" makes a folder, enters it and
// removes it, so that nothing, not even root, can create a file there.
ProcessResult wslat_in(const std::string& cwd, const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env,
                       const std::vector<std::string>& unset = {}) {
  const std::string enter =
      cwd == "(deleted)" ? "d=$(mktemp -d) && cd \"$d\" && rmdir \"$d\"" : "cd \"$1\"";
  std::vector<std::string> argv{"/bin/sh", "-c", enter + " && shift && exec \"$@\"",
                                "sh",      cwd,  wslat_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> unset_env = kCleanedEnvironment;
  unset_env.insert(unset_env.end(), unset.begin(), unset.end());
  return run_process(argv, std::chrono::seconds(60), env, unset_env);
}

std::vector<std::string> stored_runs(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : files_under(dir)) {
    if (contains(f, "/runs/smoke/") && f.size() > 5 && f.substr(f.size() - 5) == ".json") {
      out.push_back(f);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("results dir: from a folder it cannot write, runs go to $XDG_STATE_HOME/wslat/results") {
  const std::string smoke = source_dir() + "/scenarios/smoke.json";
  for (const std::string cwd : {"/proc", "(deleted)"}) {
    CAPTURE(cwd);
    const std::string state = temp_dir() + "/state" + (cwd == "/proc" ? "-proc" : "-deleted");
    const auto run = wslat_in(cwd, {"run", smoke, "--quiet"}, {{"XDG_STATE_HOME", state}});
    INFO(run.out << run.err);
    CHECK(run.exit_code == 0);
    const auto runs = stored_runs(state + "/wslat/results");
    REQUIRE(runs.size() == 1);
    CHECK(contains(run.err, "the current folder is not writable: stored the run in " + runs[0]));
    // history looks where run stored.
    const auto history = wslat_in(cwd, {"history", "smoke"}, {{"XDG_STATE_HOME", state}});
    INFO(history.out << history.err);
    CHECK(history.exit_code == 0);
    CHECK(contains(history.out, "smoke"));
  }
}

TEST_CASE("results dir: without XDG_STATE_HOME (or a relative one) it is ~/.local/state/wslat") {
  const std::string home = temp_dir() + "/home-results";
  const std::string smoke = source_dir() + "/scenarios/smoke.json";
  const auto unset =
      wslat_in("/proc", {"run", smoke, "--quiet"}, {{"HOME", home}}, {"XDG_STATE_HOME"});
  INFO(unset.out << unset.err);
  CHECK(unset.exit_code == 0);
  const auto relative = wslat_in("/proc", {"run", smoke, "--quiet"},
                                 {{"HOME", home}, {"XDG_STATE_HOME", "relative/state"}});
  INFO(relative.out << relative.err);
  CHECK(relative.exit_code == 0);
  CHECK(stored_runs(home + "/.local/state/wslat/results").size() == 2);
}

TEST_CASE("results dir: a writable current folder keeps ./results and --results-dir always wins") {
  const std::string cwd = temp_dir() + "/writable-cwd";
  const std::string state = temp_dir() + "/state-unused";
  const std::string smoke = source_dir() + "/scenarios/smoke.json";
  REQUIRE(run_process({"mkdir", "-p", cwd}).exit_code == 0);
  const auto run = wslat_in(cwd, {"run", smoke, "--quiet"}, {{"XDG_STATE_HOME", state}});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(stored_runs(cwd + "/results").size() == 1);
  CHECK(!contains(run.err, "not writable"));
  const std::string chosen = temp_dir() + "/chosen-results";
  const auto flag = wslat_in("/proc", {"run", smoke, "--quiet", "--results-dir", chosen},
                             {{"XDG_STATE_HOME", state}});
  CHECK(flag.exit_code == 0);
  CHECK(stored_runs(chosen).size() == 1);
  CHECK(files_under(state).empty());
}
