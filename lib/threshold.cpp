#include "threshold.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "error.hpp"
#include "result.hpp"
#include "stats.hpp"
#include "units.hpp"

namespace wslat {
namespace {

constexpr const char* kLatencyForms =
    "expected STAT OP DURATION, e.g. \"p95 < 3s\", \"p(99.5) <= 250ms\" "
    "(STAT: min mean avg med p50 p90 p95 p99 p99.9 max p(N); OP: < <= > >= == !=)";
constexpr const char* kCounterForms =
    "expected \"total OP N\" (the run's total; \"count\" means the same), e.g. \"total == 0\", "
    "\"count < 10\"";
constexpr const char* kErrorForms =
    "expected \"rate OP PERCENT\" or \"count OP N\", e.g. \"rate < 1%\", \"rate < 0.01\", "
    "\"count == 0\"";

struct OpName {
  std::string_view text;
  Threshold::Op op;
};
// Two-character operators first so that "<=" is not read as "<" followed by "=".
constexpr OpName kOps[] = {{"<=", Threshold::Op::kLessEqual}, {">=", Threshold::Op::kGreaterEqual},
                           {"==", Threshold::Op::kEqual},     {"!=", Threshold::Op::kNotEqual},
                           {"<", Threshold::Op::kLess},       {">", Threshold::Op::kGreater}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "STAT OP VALUE" split at the operator.
struct Parts {
  std::string_view stat;
  Threshold::Op op;
  std::string_view value;
};

std::optional<Parts> split(std::string_view expr) {
  const std::size_t at = expr.find_first_of("<>=!");
  if (at == std::string_view::npos) return std::nullopt;
  for (const OpName& o : kOps) {
    if (expr.substr(at, o.text.size()) == o.text) {
      return Parts{trim(expr.substr(0, at)), o.op, trim(expr.substr(at + o.text.size()))};
    }
  }
  return std::nullopt;
}

bool is_latency_stat(const std::string& stat) {
  try {
    statistic_ms(Histogram(), stat);  // the one place that knows the statistic names
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

std::optional<double> parse_number(std::string_view s) {
  double v = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size() || v < 0) {
    return std::nullopt;
  }
  return v;
}

// "1%" -> 0.01, "0.01" -> 0.01; a fraction must lie in [0, 1].
std::optional<double> parse_error_rate(std::string_view s) {
  const bool percent = !s.empty() && s.back() == '%';
  const auto v = parse_number(trim(percent ? s.substr(0, s.size() - 1) : s));
  if (!v) return std::nullopt;
  const double fraction = percent ? *v / 100 : *v;
  if (fraction > 1) return std::nullopt;
  return fraction;
}

bool holds(double actual, Threshold::Op op, double limit) {
  switch (op) {
    case Threshold::Op::kLess:
      return actual < limit;
    case Threshold::Op::kLessEqual:
      return actual <= limit;
    case Threshold::Op::kGreater:
      return actual > limit;
    case Threshold::Op::kGreaterEqual:
      return actual >= limit;
    case Threshold::Op::kEqual:
      return actual == limit;
    case Threshold::Op::kNotEqual:
      return actual != limit;
  }
  return false;
}

// Statistics that mean the same thing compare equal: avg = mean, med = p50 = p(50).
std::string stat_key(const std::string& stat) {
  if (stat == "avg") return "mean";
  if (stat == "med") return "p50";
  if (stat.size() > 1 && stat[0] == 'p') {
    std::string_view n = std::string_view(stat).substr(1);
    if (n.front() == '(' && n.back() == ')') n = n.substr(1, n.size() - 2);
    if (const auto v = parse_number(n)) return fmt::format("p{}", *v);
  }
  return stat;
}

std::string key_of(const Threshold& t) {
  switch (t.kind) {
    case Threshold::Kind::kLatency:
      return t.metric + "/" + stat_key(t.stat);
    case Threshold::Kind::kErrorRate:
      return "errors/rate";
    case Threshold::Kind::kErrorCount:
      return "errors/count";
    case Threshold::Kind::kCounterTotal:
      return t.metric + "/total";
  }
  return t.metric;
}

}  // namespace

const char* op_text(Threshold::Op op) {
  for (const OpName& o : kOps) {
    if (o.op == op) return o.text.data();
  }
  return "?";
}

Threshold parse_threshold(const std::string& metric, const std::string& expr,
                          const std::string& where) {
  const auto fail = [&](const std::string& problem, const char* forms) -> UsageError {
    return UsageError(
        fmt::format("{}: threshold \"{}: {}\": {}; {}", where, metric, expr, problem, forms));
  };
  if (!takes_thresholds(metric)) {
    throw UsageError(fmt::format("{}: {} in a threshold; known metrics: {}", where,
                                 threshold_refusal(metric), fmt::join(known_metrics(), " ")));
  }
  if (find_metric(metric)->kind == MetricKind::kCounter) {
    const auto parts = split(expr);
    if (!parts || parts->stat.empty() || parts->value.empty())
      throw fail("cannot read it", kCounterForms);
    if (parts->stat != "total" && parts->stat != "count") {
      throw fail(fmt::format("unknown counter statistic \"{}\"", parts->stat), kCounterForms);
    }
    const auto v = parse_number(parts->value);
    if (!v || *v != std::floor(*v)) {
      throw fail(fmt::format("\"{}\" is not a whole number", parts->value), kCounterForms);
    }
    Threshold t;
    t.metric = metric;
    t.expr = expr;
    t.op = parts->op;
    t.stat = "total";
    t.kind = Threshold::Kind::kCounterTotal;
    t.limit_value = *v;
    return t;
  }
  const bool errors = find_metric(metric)->kind == MetricKind::kErrors;
  const char* forms = errors ? kErrorForms : kLatencyForms;
  const auto parts = split(expr);
  if (!parts || parts->stat.empty() || parts->value.empty()) {
    throw fail("cannot read it", forms);
  }
  Threshold t;
  t.metric = metric;
  t.expr = expr;
  t.op = parts->op;
  t.stat = std::string(parts->stat);
  if (errors) {
    if (t.stat == "rate") {
      const auto v = parse_error_rate(parts->value);
      if (!v) throw fail(fmt::format("\"{}\" is not an error rate", parts->value), forms);
      t.kind = Threshold::Kind::kErrorRate;
      t.limit_value = *v;
    } else if (t.stat == "count") {
      const auto v = parse_number(parts->value);
      if (!v || *v != std::floor(*v)) {
        throw fail(fmt::format("\"{}\" is not a whole number of errors", parts->value), forms);
      }
      t.kind = Threshold::Kind::kErrorCount;
      t.limit_value = *v;
    } else {
      throw fail(fmt::format("unknown errors statistic \"{}\"", t.stat), forms);
    }
    return t;
  }
  if (!is_latency_stat(t.stat)) throw fail(fmt::format("unknown statistic \"{}\"", t.stat), forms);
  std::string error;
  const auto limit = parse_duration(parts->value, &error);
  if (!limit) throw fail(error, forms);
  t.kind = Threshold::Kind::kLatency;
  t.limit = *limit;
  return t;
}

ThresholdSpec parse_threshold_flag(const std::string& flag) {
  const std::size_t colon = flag.find(':');
  if (colon == std::string::npos) {
    throw UsageError(fmt::format(
        "--threshold \"{}\": expected METRIC: EXPR, e.g. --threshold 'handshake: p95 < 500ms' "
        "or --threshold 'errors: rate < 1%'",
        flag));
  }
  ThresholdSpec spec{std::string(trim(std::string_view(flag).substr(0, colon))),
                     std::string(trim(std::string_view(flag).substr(colon + 1))), "--threshold"};
  parse_threshold(spec.metric, spec.expr, spec.pointer);  // report mistakes before the run
  return spec;
}

namespace {

ThresholdOutcome evaluate_latency(const Threshold& t, const Profile& profile,
                                  const std::map<std::string, Histogram>& metrics) {
  ThresholdOutcome out{t.metric, t.expr, "ms", to_ms(scale_threshold(t.limit, profile)),
                       {},       false,  ""};
  const auto it = metrics.find(t.metric);
  if (it == metrics.end() || it->second.empty()) {
    out.detail = "no samples: the scenario never reached this phase";
    return out;
  }
  out.actual = statistic_ms(it->second, t.stat);
  out.pass = holds(*out.actual, t.op, out.limit);
  out.detail =
      fmt::format("{} = {}, limit {} ({} x {} for profile {})", t.stat, format_ms(*out.actual),
                  format_ms(out.limit), format_duration(t.limit), profile.multiplier, profile.name);
  return out;
}

ThresholdOutcome evaluate_errors(const Threshold& t, const ErrorTotals& errors) {
  ThresholdOutcome out{t.metric, t.expr, "", t.limit_value, {}, false, ""};
  if (t.kind == Threshold::Kind::kErrorRate) {
    out.unit = "ratio";
    out.actual = errors.attempted == 0
                     ? 0.0
                     : static_cast<double>(errors.failed) / static_cast<double>(errors.attempted);
    out.detail = fmt::format("{} of {} connections failed", errors.failed, errors.attempted);
  } else {
    out.unit = "count";
    out.actual = static_cast<double>(errors.failed);
    out.detail = fmt::format("{} failed connections", errors.failed);
  }
  out.pass = holds(*out.actual, t.op, out.limit);
  return out;
}

// A counter's run total; never scaled by the profile (a count is not a duration).
ThresholdOutcome evaluate_counter(const Threshold& t,
                                  const std::map<std::string, Counter>& counters) {
  ThresholdOutcome out{t.metric, t.expr, "count", t.limit_value, {}, false, ""};
  const auto it = counters.find(t.metric);
  if (it == counters.end()) {
    out.detail = "the result has no such counter";
    return out;
  }
  out.actual = static_cast<double>(it->second.total);
  out.pass = holds(*out.actual, t.op, out.limit);
  out.detail = fmt::format("{} {} in the run", it->second.total, t.metric);
  return out;
}

}  // namespace

std::vector<ThresholdOutcome> evaluate_thresholds(const std::vector<Threshold>& thresholds,
                                                  const Profile& profile,
                                                  const std::map<std::string, Histogram>& metrics,
                                                  const ErrorTotals& errors,
                                                  const std::map<std::string, Counter>& counters) {
  std::vector<ThresholdOutcome> outcomes;
  outcomes.reserve(thresholds.size());
  for (const Threshold& t : thresholds) {
    switch (t.kind) {
      case Threshold::Kind::kLatency:
        outcomes.push_back(evaluate_latency(t, profile, metrics));
        break;
      case Threshold::Kind::kCounterTotal:
        outcomes.push_back(evaluate_counter(t, counters));
        break;
      default:
        outcomes.push_back(evaluate_errors(t, errors));
        break;
    }
  }
  return outcomes;
}

std::vector<ThresholdOutcome> evaluate_thresholds(const std::vector<Threshold>& thresholds,
                                                  const Profile& profile, const RunResult& r) {
  std::map<std::string, Histogram> hists;
  for (const auto& [name, m] : r.metrics) hists.emplace(name, m.histogram);
  ErrorTotals totals{r.attempted, r.failed, 0};
  for (const auto& [category, count] : r.errors) totals.errors += count;
  return evaluate_thresholds(thresholds, profile, hists, totals, r.counters);
}

std::vector<Threshold> merge_thresholds(const std::vector<ThresholdSpec>& scenario,
                                        const std::vector<ThresholdSpec>& flags) {
  std::vector<Threshold> merged;
  merged.reserve(scenario.size() + flags.size());
  for (const ThresholdSpec& s : scenario) {
    merged.push_back(parse_threshold(s.metric, s.expr, s.pointer));
  }
  for (const ThresholdSpec& f : flags) {
    Threshold t = parse_threshold(f.metric, f.expr, f.pointer.empty() ? "--threshold" : f.pointer);
    const auto same = std::find_if(merged.begin(), merged.end(),
                                   [&](const Threshold& m) { return key_of(m) == key_of(t); });
    if (same != merged.end()) {
      *same = std::move(t);
    } else {
      merged.push_back(std::move(t));
    }
  }
  return merged;
}

}  // namespace wslat
