// Ctrl-C during `wslat run`: the first SIGINT stops the run politely (open connections close
// within the close timeout) and still writes every output marked "interrupted", exit 130; a
// second SIGINT leaves at once and never leaves a half-written file behind. SIGTERM, SIGHUP
// and SIGQUIT do the same; a reader of stdout or stderr going away loses nothing.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = temp_dir() + "/" + name;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

// An open-model scenario that would last 30 s: 20 connections/s, each holding a while.
std::string long_scenario(const std::string& name, const std::string& url,
                          const std::string& close_timeout) {
  json s = {{"name", name},
            {"target", url},
            {"load", {{"rate", "20/s"}, {"duration", "30s"}}},
            {"timeouts",
             {{"connect", "2s"}, {"handshake", "2s"}, {"message", "2s"}, {"close", close_timeout}}},
            {"steps", json::array({{{"send", {{"text", "hi"}}}},
                                   {{"expect", {{"text", "hi"}}}},
                                   {{"sleep", "500ms"}},
                                   {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

TEST_CASE("interrupt: SIGINT stops the run, writes every output marked interrupted, exit 130") {
  auto server = start_serve();
  const std::string dir = fresh_dir("interrupt-once");
  const std::string results = dir + "/results";
  const auto file = long_scenario("interrupt-once", server.url(), "1s");
  Child run({"run", file, "--env", "production", "--export-json", dir + "/r.json", "--export-junit",
             dir + "/r.xml", "--results-dir", results});
  // Bounded poll for the first progress line (printed once the run passes 1 s).
  REQUIRE_MESSAGE(run.pump_until([&] { return running(run); }, 15000),
                  "no progress line; stderr: " << run.err());
  const auto signalled = Clock::now();
  run.signal(SIGINT);
  const int code = run.wait(20000);
  const double stop_ms = ms_since(signalled);
  INFO("stderr: " << run.err());
  MESSAGE("stopped " << stop_ms << " ms after SIGINT");
  CHECK(code == 130);
  // Open connections get the close timeout (1 s x 1.2), then outputs are written.
  CHECK(stop_ms < 1200 + 3000);

  const json r = json::parse(read_file(dir + "/r.json"));
  CHECK(r["interrupted"] == true);
  CHECK(r["verdict"] == "interrupted");
  CHECK(r["exit_code"] == 130);
  CHECK(r["connections"]["attempted"].get<int>() > 0);
  CHECK(r["duration_ms"].get<double>() < 30000);  // partial: stopped well before the end
  const std::string junit = read_file(dir + "/r.xml");
  CHECK(junit.find("<testsuite") != std::string::npos);
  CHECK(junit.find("</testsuites>") != std::string::npos);
  // The run is stored in the results folder too, marked the same way.
  int stored = 0;
  for (const auto& f : files_under(results)) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
    CHECK(json::parse(read_file(f))["interrupted"] == true);
    ++stored;
  }
  CHECK(stored == 1);
  CHECK(run.out().find("nterrupted") != std::string::npos);  // the text report says so
}

TEST_CASE("interrupt: a second SIGINT leaves at once and leaves no half-written file") {
  // The server never answers the close frame: a polite stop would take the whole 10 s close
  // timeout, so an exit within a few seconds of the first signal is the immediate one.
  auto server = start_serve({"--mode", "no-close-reply"});
  const std::string dir = fresh_dir("interrupt-twice");
  const std::string results = dir + "/results";
  const auto file = long_scenario("interrupt-twice", server.url(), "10s");
  Child run({"run", file, "--env", "production", "--export-json", dir + "/r.json", "--export-junit",
             dir + "/r.xml", "--results-dir", results});
  REQUIRE_MESSAGE(run.pump_until([&] { return running(run); }, 15000),
                  "no progress line; stderr: " << run.err());
  const auto signalled = Clock::now();
  // Signals of one kind may merge while pending: keep sending until the process is gone, so
  // that at least two are delivered whatever the scheduling.
  int sent = 0;
  while (!run.exited() && ms_since(signalled) < 20000) {
    run.signal(SIGINT);
    ++sent;
    run.pump(50);
  }
  const double stop_ms = ms_since(signalled);
  INFO("stderr: " << run.err() << "\nsignals sent: " << sent);
  MESSAGE("gone " << stop_ms << " ms after the first SIGINT (" << sent << " sent)");
  REQUIRE(run.exited());
  CHECK(run.exit_code() == 130);
  CHECK(stop_ms < 3000);

  for (const std::string name : {"r.json", "r.xml"}) {
    const std::string path = dir + "/" + name;
    if (!exists(path)) continue;  // absent is fine; present must be whole
    if (name == "r.json") {
      CHECK(json::accept(read_file(path)));
    } else {
      CHECK(read_file(path).find("</testsuites>") != std::string::npos);
    }
  }
  for (const auto& f : files_under(dir)) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
    if (f.size() > 5 && f.compare(f.size() - 5, 5, ".json") == 0) {
      CHECK(json::accept(read_file(f)));
    }
  }
}

// A dropped ssh session (SIGHUP) or a CI cancel (SIGQUIT, Ctrl-\\) used to kill the run with
// nothing written.
TEST_CASE("interrupt: SIGHUP and SIGQUIT stop the run like SIGINT, outputs written, exit 130") {
  auto server = start_serve();
  for (const int sig : {SIGHUP, SIGQUIT}) {
    const std::string name = sig == SIGHUP ? "hup" : "quit";
    CAPTURE(name);
    const std::string dir = fresh_dir("interrupt-" + name);
    const std::string results = dir + "/results";
    const auto file = long_scenario("interrupt-" + name, server.url(), "1s");
    Child run({"run", file, "--env", "production", "--export-json", dir + "/r.json",
               "--results-dir", results});
    REQUIRE_MESSAGE(run.pump_until([&] { return running(run); }, 15000),
                    "no progress line; stderr: " << run.err());
    run.signal(sig);
    const int code = run.wait(20000);
    INFO("stderr: " << run.err());
    CHECK(code == 130);
    CHECK(json::parse(read_file(dir + "/r.json"))["interrupted"] == true);
    const auto stored = files_under(results);
    REQUIRE(stored.size() == 1);
    CHECK(json::parse(read_file(stored.front()))["verdict"] == "interrupted");
  }
}

// A scenario against the embedded server that passes: exit 0 is the verdict to keep.
std::string passing_scenario(const std::string& name, const std::string& duration) {
  json s = {{"name", name},
            {"load", {{"rate", "20/s"}, {"duration", duration}}},
            {"steps", json::array({{{"send", {{"text", "hi"}}}},
                                   {{"expect", {{"text", "hi"}}}},
                                   {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

TEST_CASE(
    "closed stdout: `run --format json | head -c 10` keeps the verdict, the run and exports") {
  const std::string dir = fresh_dir("closed-stdout");
  const std::string results = dir + "/results";
  const auto file = passing_scenario("closed-stdout", "500ms");
  Child run({"run", file, "--format", "json", "--export-junit", dir + "/r.xml", "--results-dir",
             results, "-q"});
  run.close_stream(0);  // the reader is gone before the report is written
  const int code = run.wait(30000);
  INFO("stderr: " << run.err());
  CHECK(code == 0);  // the verdict, not 141 (killed by SIGPIPE)
  CHECK(run.err().find("could not be written to stdout") != std::string::npos);
  CHECK(read_file(dir + "/r.xml").find("</testsuites>") != std::string::npos);
  const auto stored = files_under(results);
  REQUIRE(stored.size() == 1);
  CHECK(json::parse(read_file(stored.front()))["verdict"] == "pass");
}

TEST_CASE("closed stderr: progress lines into a closed pipe do not kill the run - stdout says so") {
  const std::string dir = fresh_dir("closed-stderr");
  const std::string results = dir + "/results";
  // Lasts over a second, so a progress line is written while stderr is closed.
  const auto file = passing_scenario("closed-stderr", "1500ms");
  Child run({"run", file, "--results-dir", results});
  run.close_stream(1);
  const int code = run.wait(30000);
  INFO("stdout: " << run.out());
  CHECK(code == 0);
  CHECK(run.out().find("stderr was closed during the run") != std::string::npos);
  const auto stored = files_under(results);
  REQUIRE(stored.size() == 1);
  const json r = json::parse(read_file(stored.front()));
  CHECK(r["verdict"] == "pass");
  CHECK(r["warnings"].dump().find("stderr was closed") != std::string::npos);
}

}  // namespace
}  // namespace wslat::test
