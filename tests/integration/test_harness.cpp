// The harness every integration test runs programs through (harness.cpp, spawn.hpp): the
// environment it promises, and what a child that outlives its deadline leaves in the failure.
#include <cstdlib>

#include <doctest/doctest.h>

#include "harness.hpp"

namespace wslat::test {

TEST_CASE("harness: a program found on PATH gets the variables set, without the ones unset") {
  ::setenv("WSLAT_HARNESS_UNSET_ME", "still here", 1);
  ::setenv("WSLAT_HARNESS_KEPT", "kept", 1);
  const auto r = run_process(
      {"sh", "-c",
       R"(echo "${WSLAT_HARNESS_SET}|${WSLAT_HARNESS_UNSET_ME-unset}|${WSLAT_HARNESS_KEPT}")"},
      std::chrono::seconds(30), {{"WSLAT_HARNESS_SET", "given"}}, {"WSLAT_HARNESS_UNSET_ME"});
  ::unsetenv("WSLAT_HARNESS_UNSET_ME");
  ::unsetenv("WSLAT_HARNESS_KEPT");
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "given|unset|kept\n");
}

TEST_CASE("harness: a program that cannot be run exits 127") {
  const auto r = run_process({"wslat-harness-no-such-program"}, std::chrono::seconds(30));
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 127);
}

// No timing is asserted: `sleep 600` cannot end by itself within the test's 300 ms deadline,
// however busy the machine.
TEST_CASE("harness: a child past its deadline is killed, and the failure says what it was doing") {
  const auto r = run_process({"sleep", "600"}, std::chrono::milliseconds(300));
  INFO("stderr: " << r.err);
  CHECK(r.timed_out);
  CHECK(r.exit_code == -1);
  CHECK(r.err.find("still running at the deadline") != std::string::npos);
  CHECK(r.err.find("command line \"sleep 600\"") != std::string::npos);
  CHECK(r.err.find("thread ") != std::string::npos);
  CHECK(r.err.find("state ") != std::string::npos);
}

}  // namespace wslat::test
