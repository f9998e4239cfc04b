#include "baseline.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/core.h>

#include "assemble.hpp"
#include "error.hpp"
#include "metrics.hpp"
#include "stats.hpp"
#include "threshold.hpp"
#include "units.hpp"

namespace wslat {
namespace {

constexpr std::int64_t kP95MinSamples = 100;  // below this the p95 is too noisy to gate on

std::string short_hash(const std::string& sha) {
  return sha.size() > 12 ? sha.substr(0, 12) + "…" : sha;
}

std::string pct(double fraction) { return fmt::format("{:.3g}%", fraction * 100.0); }

std::string signed_ms(double ms) { return (ms >= 0 ? "+" : "-") + format_ms(std::fabs(ms)); }

std::string signed_pct(double fraction) {
  return fmt::format("{}{:.3g}%", fraction >= 0 ? "+" : "-", std::fabs(fraction) * 100.0);
}

double relative(double delta, double base) { return base > 0 ? delta / base : 0.0; }

// The metrics both sides have, in report order.
std::vector<std::string> shared_metrics(const RunResult& a, const RunResult& b) {
  std::vector<std::string> out;
  for (const auto& [m, unused] : a.metrics) {
    if (b.metrics.count(m) != 0) out.push_back(m);
  }
  sort_in_report_order(out);
  return out;
}

bool gateable(const std::string& metric) {
  const MetricDef* def = find_metric(metric);
  return def != nullptr && def->kind == MetricKind::kLatency;
}

std::set<std::string> gate_of(const RunResult& current, const CompareOptions& opts) {
  if (!opts.gate.empty()) {
    for (const auto& m : opts.gate) {
      if (!gateable(m)) {
        std::string list;
        for (const auto& k : metric_order()) list += (list.empty() ? "" : ", ") + k;
        throw UsageError(
            fmt::format("--gate: unknown metric '{}'; the gate can watch: {}", m, list));
      }
    }
    return {opts.gate.begin(), opts.gate.end()};
  }
  const auto& defaults = default_gate_metrics();
  std::set<std::string> gate(defaults.begin(), defaults.end());
  for (const auto& t : current.thresholds) {
    if (gateable(t.metric)) gate.insert(t.metric);
  }
  return gate;
}

// z with P(Z > z) = alpha for a standard normal Z (bisection on erfc; alpha in (0, 0.5]).
double one_sided_z(double alpha) {
  double lo = 0, hi = 10;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > alpha ? lo : hi) = mid;
  }
  return lo;
}

// Distribution-free confidence bounds of a quantile from the order statistics around its
// rank: n*q -+ z*sqrt(n*q*(1-q)) (normal approximation of the binomial).
struct Bounds {
  double lower = 0, upper = 0;
};
Bounds quantile_bounds(const Histogram& h, double q, double z) {
  const auto n = static_cast<double>(h.count());
  if (n <= 0) return {};
  const double spread = z * std::sqrt(n * q * (1 - q));
  const double lo_rank = std::clamp(std::floor(n * q - spread), 1.0, n);
  const double hi_rank = std::clamp(std::ceil(n * q + spread), 1.0, n);
  return {static_cast<double>(h.value_at_percentile(100.0 * lo_rank / n)) / 1e6,
          static_cast<double>(h.value_at_percentile(100.0 * hi_rank / n)) / 1e6};
}

// One percentile's movement and whether it crosses both the tolerance and the noise floor.
// For the tail (p95), and for the median once both sides hold >= 100 samples, it must also
// cross the floor between the confidence bounds of the two quantiles: the U test speaks for
// the bulk of the distribution, not for its last few samples, and a handful of slow tail
// samples on a busy machine must not trip the gate.
struct Shift {
  std::string stat;  // "p50" | "p95"
  double base = 0, cur = 0;
  double surely_slower_by = 0, surely_faster_by = 0;  // between confidence bounds
  bool slower = false, faster = false;
};

Shift shift_of(const std::string& stat, double q, const MetricResult& base_m,
               const MetricResult& cur_m, double base, double cur, const CompareOptions& opts) {
  Shift s{stat, base, cur};
  const double z = one_sided_z(std::clamp(opts.alpha, 1e-12, 0.5));
  const Bounds b = quantile_bounds(base_m.histogram, q, z);
  const Bounds c = quantile_bounds(cur_m.histogram, q, z);
  s.surely_slower_by = c.lower - b.upper;
  s.surely_faster_by = b.lower - c.upper;
  const double d = cur - base;
  const double limit = opts.tolerance * base;
  // With hundreds of samples the U test calls any systematic shift significant, including the
  // few hundred microseconds a busy machine adds to a whole run; then the median too must
  // have moved by more than the floor between its confidence bounds.
  const bool large =
      base_m.histogram.count() >= kP95MinSamples && cur_m.histogram.count() >= kP95MinSamples;
  const bool bounded = q > 0.5 || large;
  s.slower = d > limit && d > opts.noise_floor_ms &&
             (!bounded || s.surely_slower_by > opts.noise_floor_ms);
  s.faster = -d > limit && -d > opts.noise_floor_ms &&
             (!bounded || s.surely_faster_by > opts.noise_floor_ms);
  return s;
}

std::string movement(const Shift& s) {
  const double d = s.cur - s.base;
  return fmt::format("{} {} from {} to {} ({}, {})", s.stat, d >= 0 ? "rose" : "fell",
                     format_ms(s.base), format_ms(s.cur), signed_ms(d),
                     signed_pct(relative(d, s.base)));
}

std::string too_few_samples(const MetricComparison& mc) {
  constexpr int kNeed = 8;  // lib/stats: the U test needs >= 8 on each side
  const bool cur_few = mc.current_count < kNeed;
  const bool base_few = mc.baseline_count < kNeed;
  if (cur_few && base_few) {
    return fmt::format(
        "only {} samples on the current side and {} on the baseline side; need ≥ "
        "{} on each to decide",
        mc.current_count, mc.baseline_count, kNeed);
  }
  return fmt::format("only {} samples on the {} side; need ≥ {} to decide",
                     cur_few ? mc.current_count : mc.baseline_count,
                     cur_few ? "current" : "baseline", kNeed);
}

std::string within_reason(const Shift& s, const CompareOptions& opts) {
  const double d = std::fabs(s.cur - s.base);
  if (d <= opts.tolerance * s.base) {
    return fmt::format("{}, within the {} tolerance", movement(s), pct(opts.tolerance));
  }
  if (d <= opts.noise_floor_ms) {
    return fmt::format("{}, within the {} noise floor", movement(s),
                       format_ms(opts.noise_floor_ms));
  }
  return fmt::format(
      "{}, but with {:g}% confidence the quantiles differ by only {}, within the {} noise floor",
      movement(s), (1 - opts.alpha) * 100,
      format_ms(std::max(0.0, d > 0 ? s.surely_slower_by : s.surely_faster_by)),
      format_ms(opts.noise_floor_ms));
}

void judge(MetricComparison& mc, const MetricResult& cur, const MetricResult& base,
           const MannWhitney& slower_test, const MannWhitney& faster_test,
           const CompareOptions& opts) {
  const bool use_p95 = mc.baseline_count >= kP95MinSamples && mc.current_count >= kP95MinSamples;
  const Shift p50 = shift_of("p50", 0.50, base, cur, mc.baseline_p50, mc.current_p50, opts);
  const Shift p95 = shift_of("p95", 0.95, base, cur, mc.baseline_p95, mc.current_p95, opts);
  const bool slower = p50.slower || (use_p95 && p95.slower);
  const bool faster = !slower && (p50.faster || (use_p95 && p95.faster));
  const Shift& lead = (slower && !p50.slower) || (faster && !p50.faster) ? p95 : p50;
  const std::string beyond = fmt::format("beyond the {} tolerance and {} noise floor",
                                         pct(opts.tolerance), format_ms(opts.noise_floor_ms));
  if (!slower && !faster) {
    mc.verdict = "unchanged";
    const bool p95_moved = use_p95 && std::fabs(p95.cur - p95.base) > std::fabs(p50.cur - p50.base);
    mc.reason = within_reason(p95_moved ? p95 : p50, opts) + ".";
    return;
  }
  if (!slower_test.enough_samples) {
    mc.verdict = "inconclusive";
    mc.reason = fmt::format("{}, {}, but {}.", movement(lead), beyond, too_few_samples(mc));
    return;
  }
  const double p = slower ? slower_test.p_greater : faster_test.p_greater;
  if (p < opts.alpha) {
    mc.verdict = slower ? "regressed" : "improved";
    mc.reason = fmt::format("{}, {}, and Mann–Whitney p = {:.2g} < {:g}.", movement(lead), beyond,
                            p, opts.alpha);
    return;
  }
  mc.verdict = "unchanged";
  mc.reason = fmt::format(
      "{}, {}, but it is not statistically significant (Mann–Whitney p = "
      "{:.2g} ≥ {:g}).",
      movement(lead), beyond, p, opts.alpha);
}

MetricComparison compare_metric(const std::string& name, const MetricResult& cur,
                                const MetricResult& base, bool gated, const CompareOptions& opts) {
  MetricComparison mc;
  mc.metric = name;
  mc.gated = gated;
  mc.baseline_p50 = base.summary.p50;
  mc.current_p50 = cur.summary.p50;
  mc.baseline_p95 = base.summary.p95;
  mc.current_p95 = cur.summary.p95;
  mc.baseline_count = base.histogram.count();
  mc.current_count = cur.histogram.count();
  mc.delta_p50_ms = mc.current_p50 - mc.baseline_p50;
  mc.delta_p50_pct = relative(mc.delta_p50_ms, mc.baseline_p50) * 100.0;
  mc.delta_p95_ms = mc.current_p95 - mc.baseline_p95;
  mc.delta_p95_pct = relative(mc.delta_p95_ms, mc.baseline_p95) * 100.0;
  const MannWhitney slower_test = mann_whitney(cur.histogram, base.histogram);
  // The same test with the sides swapped gives the one-sided p that current is faster.
  const MannWhitney faster_test = mann_whitney(base.histogram, cur.histogram);
  mc.p_value = slower_test.p_greater;
  judge(mc, cur, base, slower_test, faster_test, opts);
  // Only a gated metric can regress (fail the gate, a JUnit case, a red row): an info metric
  // that moved the same way is "slower", shown but never a failure.
  if (!gated && mc.verdict == "regressed") mc.verdict = "slower";
  return mc;
}

void check_same_scenario(const RunResult& current, const RunResult& baseline,
                         const CompareOptions& opts, const std::string& baseline_file,
                         Comparison& cmp) {
  if (current.scenario_sha256.empty() || baseline.scenario_sha256.empty() ||
      current.scenario_sha256 == baseline.scenario_sha256) {
    return;
  }
  const std::string what = fmt::format(
      "baseline {} was recorded for a different version of scenario {} (sha256 {} vs {})",
      baseline_file, current.scenario_name, short_hash(baseline.scenario_sha256),
      short_hash(current.scenario_sha256));
  if (!opts.force) {
    throw UsageError(what +
                     ": record a new baseline with --save-baseline, or pass --force to compare "
                     "anyway");
  }
  cmp.warnings.push_back(what + "; compared anyway because of --force");
}

void add_mismatch_warnings(const RunResult& current, const RunResult& baseline, Comparison& cmp) {
  if (current.scenario_name != baseline.scenario_name) {
    cmp.warnings.push_back(fmt::format("the baseline is of scenario {}, this run of {}",
                                       baseline.scenario_name, current.scenario_name));
  }
  if (current.profile_name != baseline.profile_name ||
      current.profile_multiplier != baseline.profile_multiplier) {
    cmp.warnings.push_back(
        fmt::format("the baseline was recorded with profile {} (×{:g}), this run with {} (×{:g}): "
                    "environments differ, so latencies may not be comparable",
                    baseline.profile_name, baseline.profile_multiplier, current.profile_name,
                    current.profile_multiplier));
  }
  if (current.target != baseline.target) {
    cmp.warnings.push_back(fmt::format("the baseline measured target {}, this run {}",
                                       baseline.target, current.target));
  }
  if (current.tool_version != baseline.tool_version) {
    cmp.warnings.push_back(fmt::format("the baseline was recorded by wslat {}, this run by {}",
                                       baseline.tool_version, current.tool_version));
  }
}

// A watched metric that only one side has is worth a word: the gate cannot judge it.
void add_missing_warnings(const RunResult& current, const RunResult& baseline,
                          const std::set<std::string>& gate, Comparison& cmp) {
  for (const auto& m : gate) {
    const bool in_cur = current.metrics.count(m) > 0;
    const bool in_base = baseline.metrics.count(m) > 0;
    if (in_cur == in_base) continue;
    cmp.warnings.push_back(fmt::format("{}: samples only in the {}, so the gate cannot compare it",
                                       m, in_cur ? "current run" : "baseline"));
  }
}

}  // namespace

Comparison compare_results(const RunResult& current, const RunResult& baseline,
                           const CompareOptions& opts, const std::string& baseline_file) {
  Comparison cmp;
  cmp.baseline_file = baseline_file;
  cmp.baseline_started_at = baseline.started_at;
  cmp.baseline_tool_version = baseline.tool_version;
  cmp.tolerance = opts.tolerance;
  cmp.noise_floor_ms = opts.noise_floor_ms;
  cmp.alpha = opts.alpha;
  check_same_scenario(current, baseline, opts, baseline_file, cmp);
  add_mismatch_warnings(current, baseline, cmp);
  const std::set<std::string> gate = gate_of(current, opts);
  add_missing_warnings(current, baseline, gate, cmp);
  for (const auto& name : shared_metrics(current, baseline)) {
    const bool gated = gate.count(name) > 0;
    MetricComparison mc =
        compare_metric(name, current.metrics.at(name), baseline.metrics.at(name), gated, opts);
    if (gated && mc.verdict == "regressed") cmp.regressed = true;
    // An undecidable shift on a watched metric must not pass silently.
    if (gated && mc.verdict == "inconclusive") {
      cmp.warnings.push_back(fmt::format("{}: inconclusive: {}", name, mc.reason));
    }
    cmp.metrics.push_back(std::move(mc));
  }
  return cmp;
}

// ---------------------------------------------------------------------------------------------
// merge

namespace {

std::string label(const std::vector<std::string>& names, std::size_t i) {
  return i < names.size() ? names[i] : fmt::format("result #{}", i + 1);
}

void check_mergeable(const std::vector<RunResult>& parts, const std::vector<std::string>& names) {
  if (parts.empty()) throw UsageError("merge: no results given; pass the shard result files");
  const RunResult& first = parts.front();
  std::map<std::string, std::size_t> shard_seen;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const RunResult& p = parts[i];
    if (p.scenario_name != first.scenario_name || p.scenario_sha256 != first.scenario_sha256) {
      throw UsageError(fmt::format(
          "cannot merge {} (scenario {}, sha256 {}) with {} (scenario {}, sha256 {}): merge only "
          "shards of the same scenario file",
          label(names, i), p.scenario_name, short_hash(p.scenario_sha256), label(names, 0),
          first.scenario_name, short_hash(first.scenario_sha256)));
    }
    if (p.shard.empty()) continue;
    const auto [it, fresh] = shard_seen.emplace(p.shard, i);
    if (!fresh) {
      throw UsageError(
          fmt::format("{} and {} are both shard {}: each shard must be merged once; "
                      "drop the duplicate",
                      label(names, it->second), label(names, i), p.shard));
    }
  }
}

void add_counts(RunResult& into, const RunResult& p) {
  into.attempted += p.attempted;
  into.opened += p.opened;
  into.failed += p.failed;
  for (const auto& [k, v] : p.errors) into.errors[k] += v;
  for (const auto& [k, v] : p.error_examples) into.error_examples.emplace(k, v);
  for (const auto& [k, v] : p.negotiated.subprotocols) into.negotiated.subprotocols[k] += v;
  for (const auto& [k, v] : p.negotiated.extensions) into.negotiated.extensions[k] += v;
  for (const auto& [name, m] : p.metrics) into.metrics[name].histogram.add(m.histogram);
  for (const auto& [name, c] : p.counters) into.counters[name].add(c);
  into.interrupted = into.interrupted || p.interrupted;
  into.shards += p.shards;
}

// Shards start at different moments: the merged run spans from the earliest start to the
// latest end, and each shard's timeline moves by its start's offset from the earliest.
// Without readable start times, the longest shard stands for the span, timelines unshifted.
void add_spans(RunResult& into, const std::vector<RunResult>& parts) {
  using std::chrono::system_clock;
  std::vector<system_clock::time_point> starts;
  for (const auto& p : parts) {
    const auto t = parse_utc_timestamp(p.started_at);
    if (!t) break;
    starts.push_back(*t);
  }
  const bool timed = !parts.empty() && starts.size() == parts.size();
  const system_clock::time_point first =
      timed ? *std::min_element(starts.begin(), starts.end()) : system_clock::time_point{};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const RunResult& p = parts[i];
    const double offset_ms =
        timed ? std::chrono::duration<double, std::milli>(starts[i] - first).count() : 0.0;
    into.duration_ms = std::max(into.duration_ms, offset_ms + p.duration_ms);
    for (TimelinePoint point : p.timeline) {
      point.t_ms += offset_ms;
      into.timeline.push_back(point);
    }
    if (!p.started_at.empty() && (into.started_at.empty() || p.started_at < into.started_at)) {
      into.started_at = p.started_at;
    }
  }
}

// Shards run side by side: rates and concurrency add up, lateness takes the worst.
void add_load(LoadStats& into, const LoadStats& p) {
  into.concurrency += p.concurrency;
  into.target_rate += p.target_rate;
  into.achieved_rate += p.achieved_rate;
  into.late_starts += p.late_starts;
  into.dropped += p.dropped;
  into.max_lateness_ms = std::max(into.max_lateness_ms, p.max_lateness_ms);
  into.threads += p.threads;
}

void add_unique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

void reevaluate_thresholds(RunResult& r, const std::vector<RunResult>& parts) {
  std::vector<Threshold> thresholds;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& p : parts) {
    for (const auto& t : p.thresholds) {
      if (!seen.emplace(t.metric, t.expr).second) continue;
      thresholds.push_back(parse_threshold(t.metric, t.expr, "thresholds of the merged results"));
    }
  }
  Profile profile;
  profile.name = r.profile_name;
  profile.multiplier = r.profile_multiplier;
  profile.margin = r.profile_margin;
  profile.conservative = r.profile_conservative;
  profile.source = r.profile_source;
  r.thresholds = evaluate_thresholds(thresholds, profile, r);
}

void note_differences(RunResult& merged, const RunResult& p, const std::string& name) {
  if (p.target != merged.target) {
    add_unique(merged.warnings, fmt::format("{} measured target {}, the first result {}", name,
                                            p.target, merged.target));
  }
  if (p.profile_name != merged.profile_name || p.profile_multiplier != merged.profile_multiplier) {
    add_unique(merged.warnings,
               fmt::format("{} ran with profile {} (×{:g}); thresholds use the first result's {} "
                           "(×{:g})",
                           name, p.profile_name, p.profile_multiplier, merged.profile_name,
                           merged.profile_multiplier));
  }
  if (p.tool_version != merged.tool_version) {
    add_unique(merged.warnings, fmt::format("{} was recorded by wslat {}, the first result by {}",
                                            name, p.tool_version, merged.tool_version));
  }
}

RunResult empty_like(const RunResult& first) {
  RunResult r = first;
  r.attempted = r.opened = r.failed = 0;
  r.errors.clear();
  r.error_examples.clear();
  r.negotiated.subprotocols.clear();  // offered stays: the same scenario
  r.negotiated.extensions.clear();
  r.metrics.clear();
  r.counters.clear();
  r.thresholds.clear();
  r.comparison.reset();  // a shard's comparison does not describe the whole
  r.timeline.clear();
  r.shards = 0;
  r.shard.clear();
  r.duration_ms = 0;
  r.started_at.clear();
  r.interrupted = false;
  r.exit_reasons.clear();
  r.load.concurrency = 0;
  r.load.target_rate = r.load.achieved_rate = r.load.max_lateness_ms = 0;
  r.load.late_starts = r.load.dropped = 0;
  r.load.threads = 0;
  r.host.clear();
  r.warnings.clear();
  return r;
}

}  // namespace

RunResult merge_results(const std::vector<RunResult>& parts,
                        const std::vector<std::string>& names) {
  check_mergeable(parts, names);
  RunResult merged = empty_like(parts.front());
  std::vector<std::string> hosts;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const RunResult& p = parts[i];
    add_counts(merged, p);
    add_load(merged.load, p.load);
    note_differences(merged, p, label(names, i));
    if (p.interrupted) {
      add_unique(merged.warnings,
                 label(names, i) + " is an interrupted run: it measured only part of its load");
    }
    if (!p.host.empty()) add_unique(hosts, p.host);
    for (const auto& w : p.warnings) add_unique(merged.warnings, w);
  }
  for (const auto& h : hosts) merged.host += (merged.host.empty() ? "" : ",") + h;
  add_spans(merged, parts);
  thin_timeline(merged.timeline);
  reevaluate_thresholds(merged, parts);
  refresh_summaries(merged);
  merged.verdict = "pass";
  merged.exit_code = 0;
  // merge itself was not interrupted: the merged data is judged on what it holds.
  decide_verdict(merged, false);
  return merged;
}

}  // namespace wslat
