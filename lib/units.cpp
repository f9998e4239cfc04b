#include "units.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "error.hpp"

namespace wslat {
namespace {

struct Unit {
  std::string_view suffix;
  double ns;  // nanoseconds per unit
};

// The one table both directions use, largest first (format picks the first that fits).
constexpr std::array<Unit, 6> kUnits{
    {{"h", 3600e9}, {"m", 60e9}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1.0}}};
// Units a rate may be expressed in when formatted (a rate of "5/us" reads badly).
constexpr std::array<Unit, 3> kRateFormatUnits{{{"s", 1e9}, {"m", 60e9}, {"h", 3600e9}}};

constexpr std::string_view kDurationForms = "e.g. 500us, 250ms, 1.5s, 2m";
constexpr std::string_view kRateForms = "e.g. 20/s, 1200/m, 3600/h";

const Unit* find_unit(std::string_view suffix) {
  if (suffix == "\xC2\xB5s") suffix = "us";  // "µs" is what people copy from reports
  for (const Unit& u : kUnits) {
    if (u.suffix == suffix) return &u;
  }
  return nullptr;
}

std::string unit_list() {
  std::string out;
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (!out.empty()) out += ", ";
    out += it->suffix;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  const auto not_space = [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; };
  while (!s.empty() && !not_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && !not_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A number and the text after it. Only plain decimals ("12", "1.5", ".5"): no sign, no
// exponent, no "nan"/"inf", so that every accepted form is one a person would write.
struct Quantity {
  double value = 0;
  std::string_view rest;
};

// "1e9/s": say what is wrong and how the number is written in full.
std::string exponent_problem(std::string_view s) {
  double v = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  const std::string_view written = s.substr(0, static_cast<std::size_t>(res.ptr - s.data()));
  std::string out = "exponent notation is not accepted";
  if (res.ec == std::errc() && std::isfinite(v) && v < 1e15 && v == std::floor(v)) {
    out += fmt::format(": write {} as {:.0f}", written, v);
  } else {
    out += ": write the number in full";
  }
  return out;
}

std::optional<Quantity> split_number(std::string_view s, std::string* problem) {
  std::size_t i = 0;
  std::size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) {
    if (!s.empty() && s.front() == '-') {
      *problem = "negative values are not allowed";
    } else if (s.empty()) {
      *problem = "it is empty";
    } else {
      *problem = "it does not start with a number";
    }
    return std::nullopt;
  }
  if (i + 1 < s.size() && (s[i] == 'e' || s[i] == 'E') &&
      (is_digit(s[i + 1]) || s[i + 1] == '+' || s[i + 1] == '-')) {
    *problem = exponent_problem(s);
    return std::nullopt;
  }
  Quantity q;
  const auto res = std::from_chars(s.data(), s.data() + i, q.value);
  if (res.ec != std::errc() || !std::isfinite(q.value)) {
    *problem = "the number is out of range";
    return std::nullopt;
  }
  q.rest = trim(s.substr(i));  // "5 ms" is as clear as "5ms"
  return q;
}

std::nullopt_t fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return std::nullopt;
}

// Rounds to 3 decimals and drops trailing zeros: 1.500 -> "1.5", 2.000 -> "2".
std::string compact(double v) {
  std::string s = fmt::format("{:.3f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

// `digits`: significant digits kept for measured figures (0 = exact, up to 3 decimals).
std::string format_ns(double ns, int digits = 0) {
  if (std::isnan(ns)) return "n/a";
  if (std::isinf(ns)) return ns > 0 ? "inf" : "-inf";
  const std::string sign = ns < 0 ? "-" : "";
  const double mag = std::fabs(ns);
  for (const Unit& u : kUnits) {
    // Compare after rounding so that 999.9996ms becomes "1s", not "1000ms".
    double rounded = std::round(mag / u.ns * 1000.0) / 1000.0;
    if (rounded >= 1.0) {
      if (digits > 0) {
        const int decimals =
            std::clamp(digits - 1 - static_cast<int>(std::floor(std::log10(rounded))), 0, 3);
        const double scale = std::pow(10.0, decimals);
        rounded = std::round(rounded * scale) / scale;
      }
      return sign + compact(rounded) + std::string(u.suffix);
    }
  }
  return compact(mag) + "ns";  // below 0.0005ns: effectively zero
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text, std::string* error) {
  const std::string_view s = trim(text);
  const auto why = [&](const std::string& problem) {
    return fail(error, fmt::format("\"{}\" is not a duration: {}; give a number with a unit, {}",
                                   text, problem, kDurationForms));
  };
  std::string problem;
  const auto q = split_number(s, &problem);
  if (!q) return why(problem);
  if (q->rest.empty()) {
    return fail(error, fmt::format("\"{}\" is not a duration: give a number with a unit, {}", text,
                                   kDurationForms));
  }
  const Unit* unit = find_unit(q->rest);
  if (unit == nullptr) {
    return why(fmt::format("unknown unit \"{}\" (units: {})", q->rest, unit_list()));
  }
  const double ns = std::round(q->value * unit->ns);
  // 2^63 is exactly representable; anything at or above it does not fit.
  if (ns >= 9223372036854775808.0) return why("it is too large");
  return Duration(static_cast<Duration::rep>(ns));
}

Duration parse_duration_or_throw(std::string_view text, std::string_view what) {
  std::string error;
  const auto d = parse_duration(text, &error);
  if (!d) throw UsageError(fmt::format("{}: {}", what, error));
  return *d;
}

std::optional<Rate> parse_rate(std::string_view text, std::string* error) {
  const std::string_view s = trim(text);
  const auto why = [&](const std::string& problem) {
    return fail(error, fmt::format("\"{}\" is not a rate: {}; give a count per unit, {}", text,
                                   problem, kRateForms));
  };
  std::string problem;
  const auto q = split_number(s, &problem);
  if (!q) return why(problem);
  if (q->rest.empty()) {
    return fail(error,
                fmt::format("\"{}\" is not a rate: give a count per unit, {}", text, kRateForms));
  }
  if (q->rest.front() != '/') return why("expected \"/\" and a unit after the count");
  const Unit* unit = find_unit(q->rest.substr(1));
  if (unit == nullptr) {
    return why(fmt::format("unknown unit \"{}\" (units: {})", q->rest.substr(1), unit_list()));
  }
  if (q->value <= 0) return why("the rate must be greater than zero");
  const double per_second = q->value * 1e9 / unit->ns;
  if (!std::isfinite(per_second)) return why("it is too large");
  return Rate{per_second};
}

Rate parse_rate_or_throw(std::string_view text, std::string_view what) {
  std::string error;
  const auto r = parse_rate(text, &error);
  if (!r) throw UsageError(fmt::format("{}: {}", what, error));
  return *r;
}

std::string format_duration(Duration d) { return format_ns(static_cast<double>(d.count())); }

// Measured figures: 4 significant digits (the histogram resolves ~0.4%; more is noise).
std::string format_ms(double ms) { return format_ns(ms * 1e6, 4); }

std::string format_rate(Rate r) {
  if (!std::isfinite(r.per_second) || r.per_second <= 0) return compact(r.per_second) + "/s";
  for (const Unit& u : kRateFormatUnits) {
    const double per_unit = std::round(r.per_second * u.ns / 1e9 * 1000.0) / 1000.0;
    if (per_unit >= 1.0) return compact(per_unit) + "/" + std::string(u.suffix);
  }
  return compact(r.per_second * 3600.0) + "/h";
}

}  // namespace wslat
