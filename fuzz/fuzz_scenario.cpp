// Fuzzes the scenario parser: any bytes must give a Scenario or a located ScenarioError
// (UsageError), never a crash, a hang or another exception.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "error.hpp"
#include "scenario.hpp"

namespace {

// A fixed environment: two variables exist, everything else is missing (an issue).
std::optional<std::string> fixed_env(const std::string& name) {
  if (name == "TOKEN") return std::string("s3cr\"et\\value\n");
  if (name == "EMPTY") return std::string();
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const wslat::Scenario s = wslat::parse_scenario(text, "fuzz.json", fixed_env);
    // What validate and the runner do next with an accepted scenario.
    (void)wslat::flatten(s.steps);
    (void)wslat::worst_case_budget(s, s.timeouts);
  } catch (const wslat::UsageError&) {
    // Rejected with a message: the expected outcome for bad input.
  }
  return 0;
}
