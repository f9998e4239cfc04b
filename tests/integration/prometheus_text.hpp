// Helpers of the Prometheus tests (test_prometheus.cpp, test_monitor.cpp): a small echo
// scenario, reading one sample out of an exposition, and `promtool check metrics` (Debian
// package prometheus).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {

inline constexpr const char* kPromtool = "/usr/bin/promtool";

// `connections` connections one after the other, each sending "hello" and expecting it back.
inline std::string echo_scenario_file(const std::string& name, const std::string& url,
                                      int connections) {
  using nlohmann::json;
  const json s = {
      {"name", name},
      {"target", url},
      {"load", {{"connections", connections}, {"concurrency", 1}}},
      {"timeouts", {{"connect", "2s"}, {"handshake", "2s"}, {"message", "2s"}, {"close", "2s"}}},
      {"steps", json::array({{{"connect", json::object()}},
                             {{"send", {{"text", "hello"}}}},
                             {{"expect", {{"text", "hello"}, {"within", "2s"}}}},
                             {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

// The value of the first sample whose name and labels start with `prefix` (-1 when none).
inline double prom_sample(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
    }
  }
  return -1;
}

inline bool have_promtool() { return ::access(kPromtool, X_OK) == 0; }

// `promtool check metrics` on `text`: "" when it passes, else its exit code and complaints.
inline std::string promtool_problems(const std::string& text) {
  const std::string file = write_temp_file("metrics.prom", text);
  const auto r =
      run_process({"/bin/sh", "-c", std::string(kPromtool) + " check metrics < '" + file + "'"});
  return r.exit_code == 0 ? "" : "exit " + std::to_string(r.exit_code) + ": " + r.out + r.err;
}

}  // namespace wslat::test
