// Fuzzes the expectation matcher the runner calls for every message (wslat::matches): a
// fuzzed pattern, compiled as scenario files are, against a fuzzed and possibly long message,
// and the same pattern text as a json expectation against the same message. Any pattern must
// compile or be refused, any match must answer fast (libFuzzer's -timeout) and never crash.
//
// Input: one byte N, then PATTERN '\n' UNIT '\n' TAIL. The message is UNIT repeated
// 1 + 64 * N times, then TAIL: short inputs reach the long messages that make backtracking
// engines explode ("(a+)+$" against "a" x 16,321 + "b" once ran 654 s) or nest deeply
// ("[" x 16,321).
//
// The work runs on a thread with a small stack (see small_stack.hpp), so recursion that grows
// with the input overflows at input sizes within -max_len.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "json_text.hpp"
#include "scenario.hpp"
#include "small_stack.hpp"

namespace {

constexpr std::size_t kMaxMessage = 1 << 20;

std::string_view next_line(std::string_view& rest) {
  const auto end = rest.find('\n');
  const std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

void check(std::string_view input) {
  if (input.empty()) return;
  const std::size_t repeat = 1 + std::size_t{64} * static_cast<unsigned char>(input.front());
  std::string_view rest = input.substr(1);
  const std::string pattern(next_line(rest));
  const std::string_view unit = next_line(rest);
  std::string message;
  for (std::size_t i = 0; i < repeat && message.size() + unit.size() <= kMaxMessage; ++i) {
    message += unit;
  }
  message += rest;

  wslat::ExpectStep regex;
  regex.kind = wslat::ExpectStep::Kind::kRegex;
  regex.text = pattern;
  std::string error;
  regex.regex = wslat::compile_regex(pattern, &error);
  if (regex.regex != nullptr) {
    (void)wslat::matches(regex, message);
  } else if (error.empty()) {
    __builtin_trap();  // a refusal always says why
  }

  if (const auto expected = wslat::try_parse_json_bounded(pattern)) {
    wslat::ExpectStep json;
    json.kind = wslat::ExpectStep::Kind::kJson;
    json.json = *expected;
    (void)wslat::matches(json, message);
    if (!wslat::matches(json, pattern)) __builtin_trap();  // a value is a subset of itself
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  wslat::fuzz::run_on_small_stack([input] { check(input); });
  return 0;
}
