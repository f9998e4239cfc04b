// Durations and rates as users write them: "500us", "250ms", "1.5s", "2m"; "20/s", "1200/m".
// One table parses and formats (as wrk's units.c does).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace wslat {

using Duration = std::chrono::nanoseconds;

// Arrivals per second.
struct Rate {
  double per_second = 0.0;
};

// Parses "500us", "250ms", "1.5s", "2m", "1h" (also "ns"). Rejects bare numbers, negative
// values and unknown units; on failure returns nullopt and, if `error` is given, a message
// that shows the accepted forms.
std::optional<Duration> parse_duration(std::string_view text, std::string* error = nullptr);
// Same as above but throws UsageError("<what>: <message>") on failure.
Duration parse_duration_or_throw(std::string_view text, std::string_view what);

// Parses "20/s", "1200/m", "5/ms", "3600/h". Rejects bare numbers and zero/negative rates.
std::optional<Rate> parse_rate(std::string_view text, std::string* error = nullptr);
Rate parse_rate_or_throw(std::string_view text, std::string_view what);

// Compact, human form with the largest fitting unit and up to 3 significant decimals:
// 1.5s, 250ms, 812us, 2m, 1.234ms.
std::string format_duration(Duration d);
// Same, for a value in milliseconds (the JSON boundary unit).
std::string format_ms(double ms);
std::string format_rate(Rate r);

constexpr double to_ms(Duration d) { return static_cast<double>(d.count()) / 1e6; }
inline Duration from_ms(double ms) { return Duration(static_cast<Duration::rep>(ms * 1e6)); }

}  // namespace wslat
