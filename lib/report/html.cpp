// The HTML report: one self-contained file (inline CSS and SVG, nothing fetched) that can
// be archived as a CI artifact and opened anywhere, offline.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "common.hpp"
#include "metrics.hpp"
#include "report.hpp"
#include "units.hpp"

namespace wslat {

namespace {

std::string esc(const std::string& s) { return html_escape(s); }

std::string num(double v) { return fmt::format("{:.1f}", v); }

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1120px;margin:0 auto;padding:16px 24px 40px}
header{padding:14px 24px;color:#fff}
header.pass{background:#1a7f37}header.fail{background:#cf222e}
header h1{margin:0;font-size:22px;word-break:break-word}header p{margin:4px 0 0}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:16px 0;padding:12px 16px}
h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
th{background:#f6f8fa}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}dt{color:#57606a}dd{margin:0;word-break:break-all}
.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:600}.warn{color:#9a6700}.muted{color:#57606a}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:8px}
svg{font:11px system-ui,sans-serif}svg .axis{stroke:#8c959f;stroke-width:1}svg .grid{stroke:#eaeef2}
)";

// --- scales ----------------------------------------------------------------------------

struct LogScale {
  double lo, hi, x0, x1;  // domain (ms, > 0) and range (px)
  double operator()(double v) const {
    const double f = std::log(std::clamp(v, lo, hi) / lo) / std::log(hi / lo);
    return x0 + f * (x1 - x0);
  }
};

struct LinScale {
  double lo, hi, x0, x1;
  double operator()(double v) const {
    return hi <= lo ? x0 : x0 + (v - lo) / (hi - lo) * (x1 - x0);
  }
};

std::vector<double> ticks_with(double lo, double hi, const std::vector<double>& mantissas) {
  std::vector<double> out;
  const int k0 = static_cast<int>(std::floor(std::log10(lo)));
  const int k1 = static_cast<int>(std::ceil(std::log10(hi)));
  for (int k = k0; k <= k1; ++k) {
    for (double m : mantissas) {
      const double v = m * std::pow(10.0, k);
      if (v >= lo && v <= hi) out.push_back(v);
    }
  }
  return out;
}

// Round values inside [lo, hi]: decades, else 1-2-5, else finer steps for a narrow range,
// aiming at 3..8 labels.
std::vector<double> log_ticks(double lo, double hi) {
  static const std::vector<std::vector<double>> sets = {
      {1},
      {1, 2, 5},
      {1, 1.5, 2, 3, 4, 5, 7},
      {1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9}};
  std::vector<double> best;
  for (const auto& set : sets) {
    std::vector<double> t = ticks_with(lo, hi, set);
    if (t.size() >= 3 && t.size() <= 8) return t;
    if (t.size() > 8) return best.size() >= 2 ? best : t;
    best = std::move(t);
  }
  return best;
}

std::vector<double> lin_ticks(double hi) {
  if (hi <= 0) return {0};
  const double raw = hi / 6.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  std::vector<double> out;
  for (double v = 0; v <= hi * 1.0001 && out.size() < 20; v += step) out.push_back(v);
  return out;
}

std::string vline(double x, double y0, double y1, const char* color, const char* dash,
                  const std::string& label) {
  return fmt::format(
      "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"1.5\"{4}>"
      "<title>{5}</title></line>\n",
      num(x), num(y0), num(y1), color,
      *dash != '\0' ? fmt::format(" stroke-dasharray=\"{}\"", dash) : std::string(), esc(label));
}

std::string x_axis_log(const LogScale& x, double y) {
  std::string out =
      fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>\n", num(x.x0),
                  num(x.x1), num(y));
  for (double t : log_ticks(x.lo, x.hi)) {
    out += fmt::format(
        "<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>"
        "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\" fill=\"#57606a\">{4}</text>\n",
        num(x(t)), num(y), num(y + 4), num(y + 15), esc(format_ms(t)));
  }
  return out;
}

// --- per-phase distribution ------------------------------------------------------------

const MetricComparison* compared(const RunResult& r, const std::string& metric) {
  if (!r.comparison) return nullptr;
  for (const auto& m : r.comparison->metrics) {
    if (m.metric == metric) return &m;
  }
  return nullptr;
}

std::string distribution_chart(const RunResult& r, const std::string& name) {
  const MetricResult& m = r.metrics.at(name);
  const Summary& s = m.summary;
  const MetricComparison* base = compared(r, name);
  double lo = std::max(s.min, 0.001), hi = std::max(s.max, lo * 1.05);
  if (base != nullptr) {  // widen the axis so the baseline marks are visible
    lo = std::min(lo, std::max(base->baseline_p50, 0.001));
    hi = std::max(hi, base->baseline_p95);
  }
  lo /= 1.05;
  hi *= 1.05;
  const double w = 520, h = 200, top = 26, bottom = 150;
  const LogScale x{lo, hi, 40, w - 12};
  const report::LogBins bins = report::log_bins(m.histogram, 60, lo, hi);
  std::string out = fmt::format(
      "<svg width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{} "
      "distribution\">\n<text x=\"4\" y=\"14\" font-weight=\"600\" font-size=\"13\">{}</text>"
      "<text x=\"{}\" y=\"14\" text-anchor=\"end\" fill=\"#57606a\">{} samples, log scale"
      "</text>\n",
      w, h, w, h, esc(name), esc(name), num(w - 12), s.count);
  for (std::size_t i = 0; i < bins.counts.size(); ++i) {
    if (bins.counts[i] == 0) continue;
    const double x0 = x(bins.edge_ms(i)), x1 = x(bins.edge_ms(i + 1));
    const double bh =
        (bottom - top) * static_cast<double>(bins.counts[i]) / static_cast<double>(bins.max_count);
    out += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#54aeff\"><title>{} .. {}: {}"
        "</title></rect>\n",
        num(x0), num(bottom - bh), num(std::max(x1 - x0 - 0.6, 0.8)), num(bh),
        esc(format_ms(bins.edge_ms(i))), esc(format_ms(bins.edge_ms(i + 1))), bins.counts[i]);
  }
  out += vline(x(s.p50), top - 4, bottom, "#0550ae", "", "p50 " + format_ms(s.p50));
  out += vline(x(s.p95), top - 4, bottom, "#bc4c00", "", "p95 " + format_ms(s.p95));
  out += vline(x(s.p99), top - 4, bottom, "#8250df", "2 2", "p99 " + format_ms(s.p99));
  std::string legend = fmt::format(
      "<tspan fill=\"#0550ae\">p50 {}</tspan>  <tspan fill=\"#bc4c00\">p95 {}</tspan>  "
      "<tspan fill=\"#8250df\">p99 {}</tspan>",
      esc(format_ms(s.p50)), esc(format_ms(s.p95)), esc(format_ms(s.p99)));
  if (base != nullptr) {
    out += vline(x(base->baseline_p50), top - 4, bottom, "#0550ae", "5 3",
                 "baseline p50 " + format_ms(base->baseline_p50));
    out += vline(x(base->baseline_p95), top - 4, bottom, "#bc4c00", "5 3",
                 "baseline p95 " + format_ms(base->baseline_p95));
    legend += fmt::format(
        "<tspan x=\"40\" dy=\"14\" fill=\"#57606a\">baseline (dashed): p50 {}, p95 {}</tspan>",
        esc(format_ms(base->baseline_p50)), esc(format_ms(base->baseline_p95)));
  }
  out += x_axis_log(x, bottom);
  out += fmt::format("<text x=\"40\" y=\"{}\" xml:space=\"preserve\">{}</text>\n", num(bottom + 30),
                     legend);
  return out + "</svg>\n";
}

// --- latency over the run --------------------------------------------------------------

struct Series {
  std::string name;
  const char* color;
  std::size_t column;  // in TimelinePoint::ms
};

// A series per timeline metric of the registry (lib/metrics.hpp), coloured in its order.
const std::vector<Series>& timeline_series() {
  // Red is taken by the failed connections.
  static constexpr const char* kPalette[] = {"#0969da", "#bc4c00", "#1a7f37",
                                             "#8250df", "#bf8700", "#6e7781"};
  static const std::vector<Series> series = [] {
    std::vector<Series> out;
    const auto& names = timeline_metrics();
    for (std::size_t i = 0; i < names.size(); ++i) {
      out.push_back({names[i], kPalette[i % std::size(kPalette)], i});
    }
    return out;
  }();
  return series;
}

// Latency limits worth drawing as the budget lines of the timeline chart.
struct Limit {
  std::string label;
  double ms;
  const char* color;
};

std::vector<Limit> timeline_limits(const RunResult& r) {
  std::vector<Limit> out;
  for (const auto& t : r.thresholds) {
    if (t.unit != "ms" || t.limit <= 0) continue;
    for (const auto& s : timeline_series()) {
      if (t.metric == s.name) out.push_back({t.metric + " " + t.expr, t.limit, s.color});
    }
  }
  return out;
}

// The chart's frame: time on x, latency (log) on y, in the pixels of a fixed-size SVG.
struct TimelineFrame {
  static constexpr double kWidth = 1080, kHeight = 340, kLeft = 64, kRight = kWidth - 16, kTop = 28,
                          kBottom = 300;
  double t_max;
  LinScale x;
  LogScale y;
};

// The frame that holds every measured phase and every limit line; nullopt when no
// connection reached a measured phase.
std::optional<TimelineFrame> timeline_frame(const RunResult& r, const std::vector<Limit>& limits) {
  double lo = 1e300, hi = 0, t_max = 0;
  for (const auto& p : r.timeline) {
    t_max = std::max(t_max, p.t_ms);
    for (const auto& s : timeline_series()) {
      if (p.ms[s.column] < 0) continue;
      lo = std::min(lo, std::max(p.ms[s.column], 0.001));
      hi = std::max(hi, p.ms[s.column]);
    }
  }
  if (hi <= 0) return std::nullopt;
  for (const auto& l : limits) hi = std::max(hi, l.ms);
  lo /= 1.3;
  hi *= 1.3;
  using F = TimelineFrame;
  return F{t_max, LinScale{0, std::max(t_max, 1.0), F::kLeft, F::kRight},
           LogScale{lo, hi, F::kBottom, F::kTop}};
}

// Latency grid lines with labels, time ticks and the time axis.
std::string timeline_axes(const TimelineFrame& f) {
  using F = TimelineFrame;
  std::string out;
  for (double v : log_ticks(f.y.lo, f.y.hi)) {
    out += fmt::format(
        "<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/><text x=\"{3}\" "
        "y=\"{4}\" text-anchor=\"end\" fill=\"#57606a\">{5}</text>\n",
        num(F::kLeft), num(F::kRight), num(f.y(v)), num(F::kLeft - 6), num(f.y(v) + 4),
        esc(format_ms(v)));
  }
  for (double v : lin_ticks(f.t_max)) {
    out += fmt::format(
        "<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/><text x=\"{0}\" "
        "y=\"{3}\" text-anchor=\"middle\" fill=\"#57606a\">{4}</text>\n",
        num(f.x(v)), num(F::kBottom), num(F::kBottom + 4), num(F::kBottom + 16), esc(format_ms(v)));
  }
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>\n",
                     num(F::kLeft), num(F::kRight), num(F::kBottom));
  return out;
}

// A dashed line per limit, labels staggered from the right so that close limits stay readable.
std::string timeline_limit_lines(const TimelineFrame& f, const std::vector<Limit>& limits) {
  using F = TimelineFrame;
  std::string out;
  for (std::size_t i = 0; i < limits.size(); ++i) {
    const Limit& l = limits[i];
    out += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{5}\" "
        "stroke-dasharray=\"6 4\"/><text x=\"{6}\" y=\"{3}\" text-anchor=\"end\" "
        "fill=\"{5}\">{4}</text>\n",
        num(F::kLeft), num(F::kRight), num(f.y(l.ms)), num(f.y(l.ms) - 4),
        esc(l.label + " (limit " + format_ms(l.ms) + ")"), l.color,
        num(F::kRight - 260.0 * static_cast<double>(i % 3)));
  }
  return out;
}

// One path per series, a zero-length segment per point drawn as a round dot: compact even for
// 5000 points; then a tick on the time axis per failed connection.
std::string timeline_points(const TimelineFrame& f, const RunResult& r) {
  std::string out;
  for (const auto& s : timeline_series()) {
    std::string d;
    for (const auto& p : r.timeline) {
      if (p.ms[s.column] >= 0) d += "M" + num(f.x(p.t_ms)) + " " + num(f.y(p.ms[s.column])) + "h0";
    }
    if (d.empty()) continue;
    out += fmt::format(
        "<path d=\"{}\" stroke=\"{}\" stroke-width=\"4\" stroke-linecap=\"round\" "
        "stroke-opacity=\"0.7\" fill=\"none\"><title>{}</title></path>\n",
        d, s.color, s.name);
  }
  std::string fails;
  for (const auto& p : r.timeline) {
    if (!p.ok) fails += "M" + num(f.x(p.t_ms)) + " " + num(TimelineFrame::kBottom) + "v-10";
  }
  if (!fails.empty()) {
    out += "<path d=\"" + fails +
           "\" stroke=\"#cf222e\" stroke-width=\"2\"><title>failed connection</title></path>\n";
  }
  return out;
}

// The series' colours, the failure mark and what the time axis means.
std::string timeline_legend() {
  using F = TimelineFrame;
  std::string out;
  double lx = F::kLeft;
  for (const auto& s : timeline_series()) {
    out += fmt::format(
        "<circle cx=\"{}\" cy=\"14\" r=\"4\" fill=\"{}\"/><text x=\"{}\" y=\"18\">{}</text>\n",
        num(lx), s.color, num(lx + 8), s.name);
    lx += 110;
  }
  out += fmt::format(
      "<path d=\"M{0} 20v-10\" stroke=\"#cf222e\" stroke-width=\"2\"/><text x=\"{1}\" y=\"18\">"
      "failed</text><text x=\"{2}\" y=\"{3}\" text-anchor=\"end\" fill=\"#57606a\">time since "
      "start (intended start of each connection)</text>\n",
      num(lx), num(lx + 8), num(F::kRight), num(F::kHeight - 6));
  return out;
}

std::string timeline_chart(const RunResult& r) {
  const auto limits = timeline_limits(r);
  const std::optional<TimelineFrame> frame = timeline_frame(r, limits);
  if (!frame) return "<p class=\"muted\">No connection reached a measured phase.</p>\n";
  std::string out = fmt::format(
      "<svg width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
      "aria-label=\"latency over the run\">\n",
      TimelineFrame::kWidth, TimelineFrame::kHeight);
  out += timeline_axes(*frame);
  out += timeline_limit_lines(*frame, limits);
  out += timeline_points(*frame, r);
  out += timeline_legend();
  return out + "</svg>\n";
}

// --- tables ----------------------------------------------------------------------------

// `numeric` marks right-aligned figure columns with 'n' ("-nnn": first column text).
std::string tr(const std::vector<std::string>& cells, const std::string& numeric,
               const char* tag = "td") {
  std::string out = "<tr>";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const bool n = i < numeric.size() && numeric[i] == 'n';
    out += fmt::format("<{0}{1}>{2}</{0}>", tag, n ? " class=\"n\"" : "", cells[i]);
  }
  return out + "</tr>\n";
}

std::string overview(const RunResult& r) {
  std::string started = r.started_at + (r.host.empty() ? "" : " on " + r.host);
  if (!r.tool_version.empty()) started += " (wslat " + r.tool_version + ")";
  const std::pair<const char*, std::string> rows[] = {
      {"target", r.target},
      {"scenario",
       r.scenario_file +
           (r.scenario_sha256.empty() ? "" : " · sha256 " + r.scenario_sha256.substr(0, 12))},
      {"profile", report::describe_profile(r)},
      {"connections", report::describe_connections(r) + " in " + format_ms(r.duration_ms)},
      {"load", report::describe_load(r)},
      {"started", started}};
  std::string out = "<section><dl>\n";
  for (const auto& [k, v] : rows) out += fmt::format("<dt>{}</dt><dd>{}</dd>\n", k, esc(v));
  return out + "</dl></section>\n";
}

std::string phase_table(const RunResult& r) {
  std::string out = "<section><h2>Phases</h2>\n";
  if (r.metrics.empty()) return out + "<p>No latency samples.</p></section>\n";
  out += "<table>\n" + tr({"phase", "count", "min", "p50", "p95", "p99", "max"}, "-nnnnnn", "th");
  for (const auto& name : report::ordered_metrics(r)) {
    const Summary& s = r.metrics.at(name).summary;
    out += tr({esc(name), std::to_string(s.count), esc(format_ms(s.min)), esc(format_ms(s.p50)),
               esc(format_ms(s.p95)), esc(format_ms(s.p99)), esc(format_ms(s.max))},
              "-nnnnnn");
  }
  out += "</table>\n";
  for (const auto& [name, what] : r.step_metrics) {
    out += "<p class=\"note\"><code>" + esc(name) + "</code>: " + esc(what) + "</p>\n";
  }
  return out + "</section>\n";
}

std::string thresholds_table(const RunResult& r) {
  if (r.thresholds.empty()) return "";
  std::string out = "<section><h2>Thresholds</h2>\n<table>\n" +
                    tr({"", "metric", "threshold", "limit", "actual"}, "---nn", "th");
  for (const auto& t : r.thresholds) {
    const std::string mark =
        t.pass ? "<span class=\"ok\">✓</span>" : "<span class=\"bad\">✗</span>";
    std::string actual = esc(report::format_threshold_actual(t));
    if (!t.detail.empty()) actual += " <span class=\"muted\">" + esc(t.detail) + "</span>";
    out += tr(
        {mark, esc(t.metric), esc(t.expr), esc(report::format_threshold_value(t, t.limit)), actual},
        "---nn");
  }
  return out + "</table></section>\n";
}

std::string delta_cell(double ms, double pct) {
  return esc(report::format_delta_ms(ms) + " (" + report::format_pct(pct) + ")");
}

std::string comparison_table(const RunResult& r) {
  if (!r.comparison) return "";
  const Comparison& c = *r.comparison;
  std::string out = "<section><h2>Comparison with baseline</h2>\n<p class=\"muted\">" +
                    esc(c.baseline_file) +
                    (c.baseline_started_at.empty() ? "" : " (" + esc(c.baseline_started_at) + ")") +
                    esc(fmt::format(": a regression is slower by > {:g}% and > {}, p < {:g}",
                                    c.tolerance * 100.0, format_ms(c.noise_floor_ms), c.alpha)) +
                    ". Dashed lines in the distributions mark the baseline.</p>\n<table>\n";
  out += tr({"metric", "baseline p50", "p50", "Δ p50", "baseline p95", "p95", "Δ p95", "p-value",
             "verdict"},
            "-nnnnnnn", "th");
  for (const auto& m : c.metrics) {
    const char* cls = m.verdict == "regressed" ? "bad" : m.verdict == "improved" ? "ok" : "muted";
    out += tr({esc(m.metric) + (m.gated ? "" : " <span class=\"muted\">(info)</span>"),
               esc(format_ms(m.baseline_p50)), esc(format_ms(m.current_p50)),
               delta_cell(m.delta_p50_ms, m.delta_p50_pct), esc(format_ms(m.baseline_p95)),
               esc(format_ms(m.current_p95)), delta_cell(m.delta_p95_ms, m.delta_p95_pct),
               esc(report::format_p_value(m.p_value)),
               fmt::format("<span class=\"{}\" title=\"{}\">{}</span>", cls, esc(m.reason),
                           esc(m.verdict))},
              "-nnnnnnn");
  }
  out += "</table>\n<ul class=\"muted\">\n";
  for (const auto& m : c.metrics) {
    if (m.verdict != "unchanged" && !m.reason.empty()) {
      out += "<li>" + esc(m.metric) + ": " + esc(m.reason) + "</li>\n";
    }
  }
  return out + "</ul></section>\n";
}

std::string counters_table(const RunResult& r) {
  if (r.counters.empty()) return "";
  std::string out = "<section><h2>Counters</h2>\n<table>\n" +
                    tr({"counter", "total", "min/conn", "mean/conn", "max/conn"}, "-nnnn", "th");
  for (const auto& name : report::ordered_counters(r)) {
    std::vector<std::string> cells = report::counter_cells(name, r.counters.at(name));
    cells[0] = esc(cells[0]);  // a name from a result file: any text
    out += tr(cells, "-nnnn");
  }
  return out + "</table></section>\n";
}

std::string errors_table(const RunResult& r) {
  if (r.errors.empty()) return "";
  std::string out =
      "<section><h2>Errors</h2>\n<table>\n" + tr({"category", "count", "example"}, "-n", "th");
  for (const auto& [category, count] : r.errors) {
    auto ex = r.error_examples.find(category);
    out += tr({esc(category), std::to_string(count),
               "<span class=\"muted\">" +
                   (ex == r.error_examples.end() ? std::string() : esc(ex->second)) + "</span>"},
              "-n");
  }
  return out + "</table></section>\n";
}

std::string warnings_list(const RunResult& r) {
  const std::vector<std::string> all = all_warnings(r);
  if (all.empty()) return "";
  std::string out = "<section><h2>Warnings</h2><ul>\n";
  for (const auto& w : all) out += "<li class=\"warn\">" + esc(w) + "</li>\n";
  return out + "</ul></section>\n";
}

// --- rooms -----------------------------------------------------------------------------

// The fan-out metrics, each with the share of a broadcast's expected members it waits for.
constexpr std::pair<const char*, double> kFanoutShares[] = {
    {"fanout_50", 50}, {"fanout_90", 90}, {"fanout", 100}};

// How long until 50%, 90% and all of the room saw a broadcast: a line per kind of broadcast
// (the median one, the slowest 5%, the slowest), time on x, the share of the room on y.
std::string fanout_chart(const RunResult& r) {
  double lo = 0, hi = 0;
  bool any = false;
  for (const auto& [name, share] : kFanoutShares) {
    if (r.metrics.count(name) == 0) continue;
    const Summary& s = r.metrics.at(name).summary;
    lo = any ? std::min(lo, s.min) : s.min;
    hi = std::max(hi, s.max);
    any = true;
  }
  if (!any || hi <= 0) return "";
  // The time axis spans the fan-out times only (they sit near the server's delay, far from 0).
  const double pad = std::max((hi - lo) * 0.08, hi * 0.002);
  lo = std::max(0.0, lo - pad);
  hi += pad;
  const double w = 560, h = 250, left = 48, right = w - 16, top = 30, bottom = 200;
  const LinScale x{lo, hi, left, right};
  const LinScale y{0, 100, bottom, top};
  std::string out = fmt::format(
      "<svg width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
      "aria-label=\"fan-out: time until 50%, 90% and 100% of the room saw a broadcast\">\n"
      "<text x=\"4\" y=\"14\" font-weight=\"600\" font-size=\"13\">fan-out: how long until "
      "50%, 90%, 100% of the room saw a message</text>\n",
      w, h);
  for (const double share : {0.0, 50.0, 90.0, 100.0}) {
    out += fmt::format(
        "<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/><text x=\"{3}\" "
        "y=\"{4}\" text-anchor=\"end\" fill=\"#57606a\">{5}%</text>\n",
        num(left), num(right), num(y(share)), num(left - 4), num(y(share) + 4), share);
  }
  for (const double tick : lin_ticks(hi - lo)) {
    const double t = lo + tick;
    out += fmt::format(
        "<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/><text x=\"{0}\" "
        "y=\"{3}\" text-anchor=\"middle\" fill=\"#57606a\">{4}</text>\n",
        num(x(t)), num(bottom), num(bottom + 4), num(bottom + 15), esc(format_ms(t)));
  }
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>\n",
                     num(left), num(right), num(bottom));
  struct Line {
    const char* label;
    const char* color;
    double Summary::*value;
  };
  const Line lines[] = {{"median broadcast (p50)", "#0550ae", &Summary::p50},
                        {"slowest 5% (p95)", "#bc4c00", &Summary::p95},
                        {"slowest (max)", "#8250df", &Summary::max}};
  std::string legend;
  for (const Line& line : lines) {
    std::string points;
    std::string dots;
    for (const auto& [name, share] : kFanoutShares) {
      if (r.metrics.count(name) == 0) continue;
      const double ms = r.metrics.at(name).summary.*line.value;
      points += (points.empty() ? "" : " ") + num(x(ms)) + "," + num(y(share));
      dots += fmt::format(
          "<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\"><title>{}: {}% of the room after "
          "{}</title></circle>\n",
          num(x(ms)), num(y(share)), line.color, esc(line.label), share, esc(format_ms(ms)));
    }
    out +=
        fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n{}",
                    points, line.color, dots);
    legend += fmt::format("<tspan fill=\"{}\">● {}</tspan>   ", line.color, esc(line.label));
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" xml:space=\"preserve\">{}</text>\n", num(left),
                     num(bottom + 34), legend);
  return out + "</svg>\n";
}

// Delivery and presence per role, the fan-out table and picture (README "Roles, rooms and
// delivery latency"); nothing without rooms.
std::string rooms_section(const RunResult& r) {
  std::vector<std::string> rows;
  for (const auto& name : report::ordered_metrics(r)) {
    const std::string base = name.substr(0, name.find('@'));
    if (base == "delivery" || base == "presence" || base.rfind("fanout", 0) == 0) {
      rows.push_back(name);
    }
  }
  if (rows.empty()) return "";
  std::string out = "<section><h2>Rooms: delivery latency</h2>\n<table>\n" +
                    tr({"metric", "count", "p50", "p90", "p95", "p99", "max"}, "-nnnnnn", "th");
  for (const auto& name : rows) {
    const Summary& s = r.metrics.at(name).summary;
    out += tr({esc(name), std::to_string(s.count), esc(format_ms(s.p50)), esc(format_ms(s.p90)),
               esc(format_ms(s.p95)), esc(format_ms(s.p99)), esc(format_ms(s.max))},
              "-nnnnnn");
  }
  out +=
      "</table>\n<p class=\"muted\">delivery: a member's receipt of another member's broadcast "
      "− its send (delivery@ROLE per role); presence: a member's join → another member's "
      "receipt of its presence event; fanout_50, fanout_90, fanout: per broadcast, until half, "
      "90% and all of its expected members had it.</p>\n";
  return out + fanout_chart(r) + "</section>\n";
}

std::string charts(const RunResult& r) {
  std::string out;
  if (!r.metrics.empty()) {
    out += "<section><h2>Distribution per phase</h2>\n<div class=\"charts\">\n";
    for (const auto& name : report::ordered_metrics(r)) out += distribution_chart(r, name);
    out += "</div></section>\n";
  }
  if (!r.timeline.empty()) {
    out += "<section><h2>Latency over the run</h2>\n" + timeline_chart(r) + "</section>\n";
  }
  return out;
}

}  // namespace

std::string render_html(const RunResult& r) {
  const bool ok = r.exit_code == 0;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + esc("wslat: " + r.scenario_name + " - " + r.verdict) + "</title>\n";
  out += std::string("<style>") + kStyle + "</style>\n</head>\n<body>\n";
  out += fmt::format("<header class=\"{}\"><h1>{} wslat: {}</h1><p>{}</p></header>\n<main>\n",
                     ok ? "pass" : "fail", ok ? "✓" : "✗", esc(r.scenario_name),
                     esc(report::describe_verdict(r)));
  out += overview(r) + phase_table(r) + counters_table(r) + rooms_section(r) + thresholds_table(r) +
         comparison_table(r) + charts(r) + errors_table(r) + warnings_list(r);
  return out + "</main>\n</body>\n</html>\n";
}

}  // namespace wslat
