// Small builders shared by the unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "scenario.hpp"

namespace wslat::test {

// A histogram holding these samples, given in milliseconds.
inline Histogram hist_of(const std::vector<double>& ms) {
  Histogram h;
  for (double v : ms) h.record_ns(static_cast<std::int64_t>(v * 1e6));
  return h;
}

// Every issue of the ScenarioError that `parse` throws, as "pointer: message" (none: empty).
template <typename Parse>
std::vector<std::string> issue_lines(const Parse& parse) {
  try {
    parse();
  } catch (const ScenarioError& e) {
    std::vector<std::string> out;
    for (const auto& i : e.issues()) out.push_back(i.pointer + ": " + i.message);
    return out;
  }
  return {};
}

// True when one of `list` contains `part`.
inline bool any_contains(const std::vector<std::string>& list, const std::string& part) {
  for (const auto& s : list) {
    if (s.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace wslat::test
