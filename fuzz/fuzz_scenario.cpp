// Fuzzes the scenario parser: any bytes must give a Scenario or a located ScenarioError
// (UsageError), never a crash, a hang or another exception. It runs on a small stack
// (small_stack.hpp) so that recursion growing with the input shows within -max_len: the
// deep-* seeds nest arrays, send.json, expect.json and repeats thousands deep.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "error.hpp"
#include "scenario.hpp"
#include "small_stack.hpp"

namespace {

// A fixed environment: two variables exist, everything else is missing (an issue).
std::optional<std::string> fixed_env(const std::string& name) {
  if (name == "TOKEN") return std::string("s3cr\"et\\value\n");
  if (name == "EMPTY") return std::string();
  return std::nullopt;
}

void check(const std::string& text) {
  try {
    const wslat::Scenario s = wslat::parse_scenario(text, "fuzz.json", fixed_env);
    // What validate and the runner do next with an accepted scenario.
    (void)wslat::flatten(s.steps);
    (void)wslat::worst_case_budget(s, s.timeouts);
  } catch (const wslat::UsageError&) {
    // Rejected with a message: the expected outcome for bad input.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  wslat::fuzz::run_on_small_stack([&text] { check(text); });
  return 0;
}
