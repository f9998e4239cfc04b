// Format names, the dispatch from a format to its renderer, and the wording shared by the
// renderers (common.hpp).
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "common.hpp"
#include "error.hpp"
#include "metrics.hpp"
#include "prometheus.hpp"
#include "units.hpp"

namespace wslat {

const std::vector<ReportFormatInfo>& report_formats() {
  static const std::vector<ReportFormatInfo> formats{
      {ReportFormat::kText, "text", nullptr, render_text, 10'000},
      {ReportFormat::kJson, "json", "Also write the JSON result to this file",
       [](const RunResult& r, const RenderOptions&) { return render_json(r); }, 7'200'000},
      {ReportFormat::kJunit, "junit", "Also write a JUnit XML report",
       [](const RunResult& r, const RenderOptions&) { return render_junit(r); }, 9'200},
      {ReportFormat::kMarkdown, "markdown", "Also write a Markdown summary",
       [](const RunResult& r, const RenderOptions&) { return render_markdown(r); }, 4'300},
      {ReportFormat::kHtml, "html", "Also write a self-contained HTML report",
       [](const RunResult& r, const RenderOptions&) { return render_html(r); }, 560'000},
      {ReportFormat::kPrometheus, "prometheus",
       "Also write the Prometheus text format (node_exporter textfile collector)",
       [](const RunResult& r, const RenderOptions&) { return render_prometheus(r); }, 610'000}};
  return formats;
}

const ReportFormatInfo& report_format_info(ReportFormat format) {
  for (const auto& f : report_formats()) {
    if (f.format == format) return f;
  }
  throw std::logic_error("report format missing from report_formats()");
}

ReportFormat parse_report_format(const std::string& name) {
  for (const auto& f : report_formats()) {
    if (name == f.name) return f.format;
  }
  if (name == "md") return ReportFormat::kMarkdown;
  std::string names;
  for (const auto& f : report_formats()) names += std::string(names.empty() ? "" : ", ") + f.name;
  throw UsageError("unknown report format \"" + name + "\": use one of " + names);
}

RunResult largest_result() {
  RunResult r;
  r.started_at = "2026-11-27T14:00:00.123Z";
  Histogram h;
  for (std::size_t i = 0; i < h.bucket_count(); ++i) h.record_ns(h.bucket_midpoint_ns(i));
  for (int doubling = 0; doubling < 30; ++doubling) h.add(Histogram(h));
  Comparison c;
  for (const auto& name : metric_order()) {
    r.metrics[name].histogram = h;
    MetricComparison m;
    m.metric = name;
    m.gated = true;
    m.verdict = "inconclusive";
    m.reason = std::string(200, 'x');
    c.metrics.push_back(m);
  }
  r.comparison = c;
  refresh_summaries(r);
  for (int i = 0; i < 5000; ++i) {
    const double t = 123456.78901234567 + i;
    TimelinePoint p{t, {}, i % 2 == 0};
    for (std::size_t m = 0; m < p.ms.size(); ++m) p.ms[m] = t / static_cast<double>(3 + 4 * m);
    r.timeline.push_back(p);
  }
  return r;
}

std::string render(const RunResult& r, ReportFormat format, const RenderOptions& opts) {
  return report_format_info(format).render(r, opts);
}

namespace report {

std::vector<std::string> ordered_metrics(const RunResult& r) {
  std::vector<std::string> out;
  for (const auto& entry : r.metrics) out.push_back(entry.first);
  sort_in_report_order(out);
  return out;
}

std::vector<std::string> ordered_counters(const RunResult& r) {
  std::vector<std::string> out;
  for (const auto& [name, c] : r.counters) {
    // A role's copy (COUNTER@ROLE) only where the run counted something: a run of three roles
    // would otherwise show three rows of zeros per unused counter.
    const std::size_t at = name.find('@');
    if (at != std::string::npos) {
      const auto total = r.counters.find(name.substr(0, at));
      if (total != r.counters.end() && total->second.total == 0 && c.total == 0) continue;
    }
    out.push_back(name);
  }
  sort_in_report_order(out);
  return out;
}

namespace {
std::string format_mean(double v) {
  return v == std::floor(v) ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
}
}  // namespace

std::vector<std::string> counter_cells(const std::string& name, const Counter& c) {
  return {name, std::to_string(c.total), std::to_string(c.min), format_mean(c.mean()),
          std::to_string(c.max)};
}

std::string describe_counter(const Counter& c) {
  return fmt::format("{} (per connection: min {}, mean {}, max {})", c.total, c.min,
                     format_mean(c.mean()), c.max);
}

std::string describe_profile(const RunResult& r) {
  std::string s = fmt::format("{} (x{:g}, margin {:g}%", r.profile_name, r.profile_multiplier,
                              r.profile_margin * 100.0);
  if (!r.profile_source.empty()) s += ", chosen by " + r.profile_source;
  if (r.profile_conservative) s += ", conservative: production budgets forced";
  return s + ")";
}

std::string describe_connections(const RunResult& r) {
  return fmt::format("{} attempted, {} opened, {} failed", r.attempted, r.opened, r.failed);
}

std::string describe_load(const RunResult& r) {
  const LoadStats& l = r.load;
  std::string s;
  if (l.model == "open") {
    s = fmt::format("open model, target {}, achieved {}, max concurrency {}",
                    format_rate(Rate{l.target_rate}), format_rate(Rate{l.achieved_rate}),
                    l.concurrency);
  } else {
    s = fmt::format("{} model, concurrency {}", l.model, l.concurrency);
  }
  s += fmt::format(", {} late start{}", l.late_starts, l.late_starts == 1 ? "" : "s");
  if (l.late_starts > 0) s += " (max " + format_ms(l.max_lateness_ms) + ")";
  s += fmt::format(", {} dropped, {} thread{}", l.dropped, l.threads, l.threads == 1 ? "" : "s");
  return s;
}

std::string format_threshold_value(const ThresholdOutcome& t, double value) {
  if (t.unit == "ratio") return fmt::format("{:g}%", value * 100.0);
  if (t.unit == "count") return fmt::format("{:g}", value);
  return format_ms(value);
}

std::string format_threshold_actual(const ThresholdOutcome& t) {
  return t.actual ? format_threshold_value(t, *t.actual) : std::string("no samples");
}

std::string threshold_limit_actual(const ThresholdOutcome& t) {
  return "limit " + format_threshold_value(t, t.limit) + ", actual " + format_threshold_actual(t);
}

std::string format_pct(double pct) {
  if (!std::isfinite(pct)) return "n/a";
  return fmt::format("{:+.1f}%", pct);
}

std::string format_delta_ms(double ms) {
  if (!std::isfinite(ms)) return "n/a";
  return (ms < 0 ? "-" : "+") + format_ms(std::fabs(ms));
}

std::string format_p_value(double p) {
  if (!std::isfinite(p)) return "n/a";
  if (p < 0.0001) return "<0.0001";
  return fmt::format("{:.4f}", p);
}

std::string exit_reason_text(int code) {
  switch (code) {
    case exit_code::kThresholdBreached:
      return "threshold breached";
    case exit_code::kRegression:
      return "regression against the baseline";
    case exit_code::kCouldNotRun:
      return "could not run: every connection failed before open";
    case exit_code::kUsage:
      return "usage or scenario error";
    case exit_code::kInterrupted:
      return "interrupted: partial results";
    default:
      return "exit " + std::to_string(code);
  }
}

std::string describe_verdict(const RunResult& r) {
  std::string s = fmt::format("{} (exit {})", r.verdict, r.exit_code);
  std::vector<std::string> reasons;
  if (r.interrupted) reasons.push_back(exit_reason_text(exit_code::kInterrupted) + " (exit 130)");
  // "(exit N)": a bare "(1)" after "threshold breached" read as a count of thresholds.
  for (int code : r.exit_reasons) {
    std::string text = exit_reason_text(code);
    if (code == exit_code::kThresholdBreached) {
      const auto failed = std::count_if(r.thresholds.begin(), r.thresholds.end(),
                                        [](const ThresholdOutcome& t) { return !t.pass; });
      text = fmt::format("{} of {} threshold{} breached", failed, r.thresholds.size(),
                         r.thresholds.size() == 1 ? "" : "s");
    }
    reasons.push_back(fmt::format("{} (exit {})", text, code));
  }
  if (reasons.empty()) return s + ": every threshold met, no regression";
  s += ": ";
  for (std::size_t i = 0; i < reasons.size(); ++i) s += (i == 0 ? "" : ", ") + reasons[i];
  return s;
}

double LogBins::edge_ms(std::size_t i) const {
  if (counts.empty() || hi_ms <= lo_ms) return lo_ms;
  const double f = static_cast<double>(i) / static_cast<double>(counts.size());
  return lo_ms * std::pow(hi_ms / lo_ms, f);
}

LogBins log_bins(const Histogram& h, std::size_t bins) {
  if (h.empty()) return log_bins(h, bins, 0.001, 0.001);
  // Values below 1 us share the lowest bucket anyway; a zero minimum would break the log.
  const double lo = static_cast<double>(std::max<std::int64_t>(h.min_ns(), 1000)) / 1e6;
  return log_bins(h, bins, lo, static_cast<double>(h.max_ns()) / 1e6);
}

LogBins log_bins(const Histogram& h, std::size_t bins, double lo_ms, double hi_ms) {
  LogBins out;
  out.counts.assign(std::max<std::size_t>(bins, 1), 0);
  out.lo_ms = std::max(lo_ms, 1e-6);
  out.hi_ms = std::max(hi_ms, out.lo_ms * 1.01);  // a single value still gets a range
  if (h.empty()) return out;
  const double lo = out.lo_ms * 1e6, hi = out.hi_ms * 1e6;
  const double span = std::log(hi / lo);
  const auto n = static_cast<double>(out.counts.size());
  h.for_each_bucket([&](std::int64_t lo_ns, std::int64_t hi_ns, std::int64_t count) {
    const double mid = std::clamp(0.5 * static_cast<double>(lo_ns + hi_ns), lo, hi);
    const double pos = std::floor(std::log(mid / lo) / span * n);
    const auto index = static_cast<std::size_t>(std::clamp(pos, 0.0, n - 1));
    out.counts[index] += count;
  });
  out.max_count = *std::max_element(out.counts.begin(), out.counts.end());
  return out;
}

}  // namespace report
std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace wslat
