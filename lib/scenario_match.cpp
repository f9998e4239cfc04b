// Runtime matching: does a received message satisfy an expect step.
#include <algorithm>

#include <re2/re2.h>

#include "json_text.hpp"
#include "scenario.hpp"

namespace wslat {
namespace {

using nlohmann::json;

bool json_subset(const json& expected, const json& actual) {
  if (!expected.is_object()) return expected == actual;
  if (!actual.is_object()) return false;
  const auto items = expected.items();
  return std::all_of(items.begin(), items.end(), [&actual](const auto& item) {
    const auto it = actual.find(item.key());
    return it != actual.end() && json_subset(item.value(), *it);
  });
}

}  // namespace

bool matches(const ExpectStep& expect, const std::string& message) {
  switch (expect.kind) {
    case ExpectStep::Kind::kAny:
      return true;
    case ExpectStep::Kind::kText:
      return message == expect.text;
    case ExpectStep::Kind::kRegex:
      // RE2 matches in time linear in the message, whatever the pattern: no cut, no deep stack.
      return expect.regex != nullptr && RE2::PartialMatch(message, *expect.regex);
    case ExpectStep::Kind::kJson: {
      // Bounded nesting: the parse stops at the first level too many instead of building it.
      const auto actual = try_parse_json_bounded(message);
      return actual && json_subset(expect.json, *actual);
    }
  }
  return false;
}

std::shared_ptr<const re2::RE2> compile_regex(const std::string& pattern, std::string* error) {
  RE2::Options options;  // UTF-8, Perl-like classes, longest_match off: search semantics
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(pattern, options);
  if (re->ok()) return re;
  if (error != nullptr) *error = re->error();
  return nullptr;
}

}  // namespace wslat
