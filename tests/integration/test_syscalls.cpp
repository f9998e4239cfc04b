// The syscalls of a connection's cycle (connect, upgrade, one echo, close), counted with
// `strace -f -c` on the real binary as bench/run.sh --counts does: per cycle, the count of 60
// cycles minus the count of 20, over 40 (start-up and exit cancel out). Skipped without strace.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace wslat::test {
namespace {

// {syscall: calls} from an `strace -c` summary.
std::map<std::string, double> syscall_counts(const std::string& summary) {
  std::map<std::string, double> out;
  std::istringstream in(summary);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string tok;
    std::vector<std::string> toks;
    while (fields >> tok) toks.push_back(tok);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (toks.size() < 5 || toks[0] == "%" || toks.back() == "total") continue;
    if (toks[0].find_first_not_of("0123456789.") != std::string::npos) continue;
    out[toks.back()] = std::strtod(toks[3].c_str(), nullptr);
  }
  return out;
}

std::map<std::string, double> count_run(const std::string& url, int cycles) {
  const std::string scenario = source_dir() + "/bench/scenarios/cycle.json";
  const std::string out = temp_dir() + "/strace-" + std::to_string(cycles) + ".txt";
  const auto r = run_process({"strace",
                              "-f",
                              "-c",
                              "-o",
                              out,
                              wslat_binary(),
                              "run",
                              scenario,
                              "--target",
                              url,
                              "--connections",
                              std::to_string(cycles),
                              "--concurrency",
                              "1",
                              "--env",
                              "production",
                              "--no-save",
                              "--quiet",
                              "--format",
                              "json"},
                             std::chrono::seconds(120));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_code == 0);
  return syscall_counts(read_file(out));
}

}  // namespace

// Suite "timing" (the name has no comma: ctest's label lookup splits at commas): the periodic
// sample publishing (every 100 and 250 ms) adds wake-ups in proportion to the run's wall time,
// which a sanitizer multiplies; in Release they stay small.
TEST_CASE("a connection's cycle makes no poll or shutdown and no extra loop turns" *
          doctest::test_suite("timing")) {
  if (run_process({"strace", "-V"}).exit_code != 0) {
    MESSAGE("strace not installed: skipped (apt-get install strace)");
    return;
  }
  auto server = start_serve({"--threads", "1"});
  const auto few = count_run(server.url(), 20);
  const auto many = count_run(server.url(), 60);
  const auto per_cycle = [&](const std::string& name) {
    const auto a = few.find(name), b = many.find(name);
    return ((b == many.end() ? 0.0 : b->second) - (a == few.end() ? 0.0 : a->second)) / 40;
  };
  double total = 0;
  for (const auto& [name, calls] : many) total += per_cycle(name);
  INFO("per cycle: " << total << " syscalls, epoll_wait " << per_cycle("epoll_wait"));
  // asio's connect polls the socket once it is writable; shutdown() came before close().
  CHECK(per_cycle("poll") < 0.5);
  CHECK(per_cycle("shutdown") < 0.5);
  CHECK(per_cycle("close") < 1.5);
  // One wake-up per event the cycle waits for (connected, 101, echo, close frame, EOF); posted
  // handlers cost one more each. Measured 4.97-5.0 (5.9-6.4 before, 2026-11-30).
  CHECK(per_cycle("epoll_wait") < 5.6);
  // Measured 19.8-20.6 (22.7-24.6 before).
  CHECK(total < 21.5);
}

}  // namespace wslat::test
