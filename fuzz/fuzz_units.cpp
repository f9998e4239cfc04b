// Fuzzes the duration and rate parsers: no crash, and whatever parses formats back to
// text that parses again (one table parses and formats).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "error.hpp"
#include "units.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (const auto d = wslat::parse_duration(text, &error)) {
    if (d->count() < 0) std::abort();  // negative durations are rejected
    const std::string shown = wslat::format_duration(*d);
    if (!wslat::parse_duration(shown)) std::abort();
    (void)wslat::format_ms(wslat::to_ms(*d));
  } else if (error.empty()) {
    std::abort();  // a rejection always says why
  }
  error.clear();
  if (const auto r = wslat::parse_rate(text, &error)) {
    if (!(r->per_second > 0)) std::abort();  // zero and negative rates are rejected
    (void)wslat::format_rate(*r);
  } else if (error.empty()) {
    std::abort();
  }
  try {
    (void)wslat::parse_duration_or_throw(text, "--duration");
  } catch (const wslat::UsageError&) {
  }
  try {
    (void)wslat::parse_rate_or_throw(text, "--rate");
  } catch (const wslat::UsageError&) {
  }
  return 0;
}
