// Fuzzes the scenario parser: any bytes must give a Scenario or a located ScenarioError
// (UsageError), never a crash, a hang or another exception. It runs on a small stack
// (small_stack.hpp) so that recursion growing with the input shows within -max_len: the
// deep-* seeds nest arrays, send.json, expect.json and repeats thousands deep.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// What a session does with the steps of an accepted scenario: expand its templates, build its
// binary parts, make its expects ready and match messages, with every variable set.
void exercise(const wslat::Scenario& s, const std::vector<wslat::FlatStep>& program) {
  wslat::Vars vars(s.variables.size(), wslat::VarValue{"7", true, true});
  const wslat::TemplateContext ctx{3, 2, &vars};
  const std::string messages[] = {R"({"id":7,"type":"x"})", std::string("\x30\x02\x00", 3), "7"};
  std::size_t n = 0;
  for (const auto& fs : program) {
    if (++n > 200) break;
    try {
      if (const auto* send = fs.step->as<wslat::SendStep>()) {
        (void)(send->parts.empty() ? wslat::expand(send->payload, ctx)
                                   : wslat::build_binary(send->parts, ctx));
      } else if (const auto* e = fs.step->as<wslat::ExpectStep>()) {
        const wslat::Expectation ready(*e, ctx);
        for (const auto& m : messages) (void)ready.match(m, &vars);
        (void)ready.describe();
      }
    } catch (const wslat::TemplateError&) {
      // A value that does not fit (":number" of a non-number): a session error, not a crash.
    }
  }
}

void check(const std::string& text) {
  try {
    const wslat::Scenario s = wslat::parse_scenario(text, "fuzz.json", fixed_env);
    // What validate and the runner do next with an accepted scenario.
    exercise(s, wslat::flatten(s.steps));
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
