#include "history.hpp"

#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/core.h>

#include "error.hpp"
#include "metrics.hpp"
#include "store.hpp"
#include "units.hpp"

namespace wslat {
namespace {

constexpr const char* kMissing = "-";

std::optional<double> median(std::vector<std::optional<double>>::const_iterator begin,
                             std::vector<std::optional<double>>::const_iterator end) {
  std::vector<double> v;
  for (auto it = begin; it != end; ++it) {
    if (*it) v.push_back(**it);
  }
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2.0;
}

std::optional<double> stat_of(const RunResult& r, const std::string& metric, bool p95) {
  const auto it = r.metrics.find(metric);
  if (it == r.metrics.end() || it->second.summary.count == 0) return std::nullopt;
  return p95 ? it->second.summary.p95 : it->second.summary.p50;
}

std::string ms_or_missing(const std::optional<double>& v) { return v ? format_ms(*v) : kMissing; }

// "2026-11-27T14:00:00.123Z" -> "2026-11-27 14:00:00" (UTC).
std::string short_date(const std::string& started_at) {
  std::string d = started_at.substr(0, std::min<std::size_t>(19, started_at.size()));
  std::replace(d.begin(), d.end(), 'T', ' ');
  return d.empty() ? std::string(kMissing) : d;
}

std::string error_rate(const RunResult& r) {
  if (r.attempted <= 0) return kMissing;
  return fmt::format("{:.3g}%",
                     100.0 * static_cast<double>(r.failed) / static_cast<double>(r.attempted));
}

std::string change(const std::optional<double>& from, const std::optional<double>& to) {
  if (!from || !to) return kMissing;
  std::string out = format_ms(*from) + " → " + format_ms(*to);
  if (*from > 0) {
    const double pct = (*to - *from) / *from * 100.0;
    out += fmt::format(" ({}{:.3g}%)", pct >= 0 ? "+" : "-", std::fabs(pct));
  }
  return out;
}

// Characters as a terminal shows them: UTF-8 continuation bytes take no column.
std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(const std::string& s, std::size_t width) {
  const std::size_t w = display_width(s);
  return w >= width ? s + " " : s + std::string(width - w, ' ');
}

// One row of the history table, cells in column order.
std::vector<std::string> table_row(const RunResult& r) {
  std::vector<std::string> row{short_date(r.started_at), r.verdict};
  for (const auto& m : timeline_metrics()) {
    row.push_back(ms_or_missing(stat_of(r, m, false)) + " / " + ms_or_missing(stat_of(r, m, true)));
  }
  row.push_back(error_rate(r));
  return row;
}

std::vector<std::string> table_header() {
  std::vector<std::string> head{"date (UTC)", "verdict"};
  for (const auto& m : timeline_metrics()) head.push_back(m + " p50 / p95");
  head.push_back("errors");
  return head;
}

std::string text_table(const HistorySeries& h) {
  std::vector<std::vector<std::string>> rows{table_header()};
  for (const auto& run : h.runs) rows.push_back(table_row(run.result));
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) line += pad(row[i], widths[i] + 2);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string trend_line(const MetricTrend& t, std::size_t runs) {
  const std::string name = pad(t.metric, 11);
  if (!t.first_p95 && !t.last_p95 &&
      std::none_of(t.p95.begin(), t.p95.end(), [](const auto& v) { return v.has_value(); })) {
    return name + "no samples in these runs\n";
  }
  if (runs < 2) return name + "one run so far: no trend yet   " + sparkline(t.p95) + "\n";
  return name + "p50 " + pad(change(t.first_p50, t.last_p50), 32) + "p95 " +
         pad(change(t.first_p95, t.last_p95), 32) + sparkline(t.p95) + "\n";
}

}  // namespace

std::string series_label(const RunResult& r) {
  std::string load;
  if (r.load.model == "open") {
    load = fmt::format("open: {:g}/s, at most {} at once", r.load.target_rate, r.load.concurrency);
  } else {
    load = fmt::format("closed: {} connection{}, {} at once", r.attempted,
                       r.attempted == 1 ? "" : "s", r.load.concurrency);
  }
  if (!r.shard.empty()) load += ", shard " + r.shard;
  if (r.shards > 1) load += fmt::format(", {} shards merged", r.shards);
  return fmt::format("{} · profile {} · {}", r.target.empty() ? "(no target)" : r.target,
                     r.profile_name, load);
}

History load_history(const std::string& results_dir, const std::string& scenario_name,
                     std::size_t last, bool include_interrupted) {
  History h;
  h.scenario = scenario_name;
  h.results_dir = results_dir;
  const std::vector<std::string> files = list_runs(results_dir, scenario_name);
  // Newest first, so the series of the newest run comes first and `last` keeps the latest
  // runs of each series: a corrupt file must not hide a run.
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    RunResult r;
    try {
      r = load_result_file(*it);
    } catch (const Error& e) {
      h.warnings.push_back(fmt::format("skipped {}", e.what()));
      continue;
    }
    if (r.scenario_name != scenario_name) {
      h.warnings.push_back(fmt::format("skipped {}: a result of scenario \"{}\", not \"{}\"", *it,
                                       r.scenario_name, scenario_name));
      continue;
    }
    if (r.interrupted && !include_interrupted) {
      ++h.interrupted_skipped;
      continue;
    }
    const std::string label = series_label(r);
    auto series = std::find_if(h.series.begin(), h.series.end(),
                               [&](const HistorySeries& s) { return s.label == label; });
    if (series == h.series.end()) series = h.series.insert(h.series.end(), {label, {}});
    if (last == 0 || series->runs.size() < last) series->runs.push_back({*it, std::move(r)});
  }
  for (auto& series : h.series) std::reverse(series.runs.begin(), series.runs.end());
  std::reverse(h.warnings.begin(), h.warnings.end());
  return h;
}

MetricTrend metric_trend(const HistorySeries& h, const std::string& metric) {
  MetricTrend t;
  t.metric = metric;
  for (const auto& run : h.runs) {
    t.p50.push_back(stat_of(run.result, metric, false));
    t.p95.push_back(stat_of(run.result, metric, true));
  }
  const auto half = static_cast<std::ptrdiff_t>(h.runs.size() / 2);
  if (half == 0) return t;
  t.first_p50 = median(t.p50.begin(), t.p50.begin() + half);
  t.last_p50 = median(t.p50.end() - half, t.p50.end());
  t.first_p95 = median(t.p95.begin(), t.p95.begin() + half);
  t.last_p95 = median(t.p95.end() - half, t.p95.end());
  return t;
}

std::string sparkline(const std::vector<std::optional<double>>& values) {
  static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (const auto& v : values) {
    if (!v) continue;
    lo = std::min(lo, *v);
    hi = std::max(hi, *v);
  }
  std::string out;
  for (const auto& v : values) {
    if (!v) {
      out += "·";
      continue;
    }
    // Equal values sit mid-height: a flat line, not a floor or a ceiling.
    const double level = hi > lo ? (*v - lo) / (hi - lo) * 7.0 : 3.0;
    out += kBars[std::clamp(static_cast<int>(std::lround(level)), 0, 7)];
  }
  return out;
}

namespace {

std::size_t run_count(const History& h) {
  std::size_t n = 0;
  for (const auto& s : h.series) n += s.runs.size();
  return n;
}

// "3 runs in 2 series (runs of another target, profile or load are never one trend)".
std::string overview(const History& h) {
  const std::size_t n = run_count(h);
  std::string out = fmt::format("{} run{}", n, n == 1 ? "" : "s");
  if (h.series.size() > 1) {
    out += fmt::format(
        " in {} series (a series is one target, profile and load shape; "
        "runs of different ones are never one trend)",
        h.series.size());
  }
  return out;
}

std::string interrupted_note(const History& h) {
  if (h.interrupted_skipped == 0) return "";
  return fmt::format("{} interrupted run{} left out (--include-interrupted shows {})",
                     h.interrupted_skipped, h.interrupted_skipped == 1 ? "" : "s",
                     h.interrupted_skipped == 1 ? "it" : "them");
}

}  // namespace

std::string render_history_text(const History& h) {
  std::string out = fmt::format("History of {}: {} from {}/runs (oldest first)\n", h.scenario,
                                overview(h), h.results_dir);
  for (const auto& w : h.warnings) out += "warning: " + w + "\n";
  if (const std::string note = interrupted_note(h); !note.empty()) out += note + "\n";
  for (std::size_t i = 0; i < h.series.size(); ++i) {
    const HistorySeries& s = h.series[i];
    out += h.series.size() > 1
               ? fmt::format("\nSeries {} of {}: {}\n", i + 1, h.series.size(), s.label)
               : fmt::format("\n{}\n", s.label);
    out += "\n" + text_table(s);
    const std::size_t half = s.runs.size() / 2;
    out += fmt::format(
        "\nTrend: median of the first {0} vs the last {0} run{1}; p95 per run, "
        "oldest to newest\n",
        std::max<std::size_t>(half, 1), half == 1 ? "" : "s");
    for (const auto& m : timeline_metrics()) {
      out += trend_line(metric_trend(s, m), s.runs.size());
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTML

namespace {

constexpr double kChartW = 640, kChartH = 200;
constexpr double kLeft = 64, kRight = 16, kTop = 16, kBottom = 28;

double chart_x(std::size_t i, std::size_t n) {
  if (n <= 1) return kLeft + (kChartW - kLeft - kRight) / 2;
  return kLeft + (kChartW - kLeft - kRight) * static_cast<double>(i) / static_cast<double>(n - 1);
}

double chart_y(double v, double top) {
  return kChartH - kBottom - (kChartH - kTop - kBottom) * (top > 0 ? v / top : 0);
}

// Polylines broken where a run has no samples, so a gap is not drawn as a trend.
std::string series(const std::vector<std::optional<double>>& values, double top,
                   const std::string& css_class) {
  std::string out;
  std::string points;
  auto flush = [&] {
    if (!points.empty())
      out += fmt::format("<polyline class=\"{}\" points=\"{}\"/>", css_class, points);
    points.clear();
  };
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) {
      flush();
      continue;
    }
    points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", chart_x(i, values.size()),
                          chart_y(*values[i], top));
  }
  flush();
  return out;
}

std::string dots(const HistorySeries& h, const MetricTrend& t, double top) {
  std::string out;
  for (std::size_t i = 0; i < t.p95.size(); ++i) {
    if (!t.p95[i]) continue;
    out += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\"><title>{}: p95 {}, p50 {} ({})</title>"
        "</circle>",
        chart_x(i, t.p95.size()), chart_y(*t.p95[i], top),
        html_escape(short_date(h.runs[i].result.started_at)), format_ms(*t.p95[i]),
        ms_or_missing(t.p50[i]), html_escape(h.runs[i].result.verdict));
  }
  return out;
}

std::string svg_chart(const HistorySeries& h, const MetricTrend& t) {
  double top = 0;
  for (const auto& v : t.p95) top = std::max(top, v.value_or(0));
  top *= 1.1;
  const double y0 = chart_y(0, top);
  std::string out = fmt::format(
      "<svg viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
      "aria-label=\"{2} p95 over the last {3} runs\">",
      kChartW, kChartH, html_escape(t.metric), t.p95.size());
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>", kLeft,
                     y0, kChartW - kRight);
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>", kLeft,
                     kTop, y0);
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", kLeft - 6, kTop + 4,
                     format_ms(top));
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>", kLeft - 6, y0);
  out += fmt::format("<text x=\"{}\" y=\"{}\">oldest</text>", kLeft, kChartH - 8);
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">newest</text>", kChartW - kRight,
                     kChartH - 8);
  out += series(t.p50, top, "p50") + series(t.p95, top, "p95") + dots(h, t, top);
  return out + "</svg>";
}

std::string trend_caption(const MetricTrend& t) {
  if (std::none_of(t.p95.begin(), t.p95.end(), [](const auto& v) { return v.has_value(); })) {
    return "no samples in these runs";
  }
  if (!t.first_p95) return "one run so far: no trend yet";
  return "p50 " + change(t.first_p50, t.last_p50) + ", p95 " + change(t.first_p95, t.last_p95);
}

std::string html_table(const HistorySeries& h) {
  std::string out = "<table><thead><tr>";
  for (const auto& c : table_header()) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr></thead><tbody>";
  for (const auto& run : h.runs) {
    const auto row = table_row(run.result);
    out += "<tr class=\"" + html_escape(run.result.verdict) + "\">";
    for (const auto& c : row) out += "<td>" + html_escape(c) + "</td>";
    out += "</tr>";
  }
  return out + "</tbody></table>";
}

constexpr const char* kStyle =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
    "text-align:left;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tr.fail td,tr.regression td,tr.error td{background:#fdecea}"
    "svg text{font-size:11px;fill:#555}.axis{stroke:#888}"
    "polyline{fill:none;stroke-width:2}.p95{stroke:#c0392b}.p50{stroke:#2980b9;"
    "stroke-dasharray:4 3}circle{fill:#c0392b}figure{margin:1.5em 0}";

}  // namespace

std::string render_history_html(const History& h) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>wslat history: {0}</title><style>{1}</style></head><body>\n"
      "<h1>History of {0}</h1><p>{2} from {3}/runs, oldest first.</p>\n",
      html_escape(h.scenario), kStyle, html_escape(overview(h)), html_escape(h.results_dir));
  for (const auto& w : h.warnings)
    out += "<p class=\"warning\">warning: " + html_escape(w) + "</p>\n";
  if (const std::string note = interrupted_note(h); !note.empty()) {
    out += "<p>" + html_escape(note) + "</p>\n";
  }
  for (std::size_t i = 0; i < h.series.size(); ++i) {
    const HistorySeries& s = h.series[i];
    out += "<section><h2>" +
           html_escape(h.series.size() > 1
                           ? fmt::format("Series {} of {}: {}", i + 1, h.series.size(), s.label)
                           : s.label) +
           "</h2>\n" + html_table(s) + "\n<h3>p95 over runs (solid; p50 dashed)</h3>\n";
    for (const auto& m : timeline_metrics()) {
      const MetricTrend t = metric_trend(s, m);
      const bool any = std::any_of(t.p95.begin(), t.p95.end(), [](const auto& v) { return v; });
      out += "<figure><figcaption>" + html_escape(m) + ": " + html_escape(trend_caption(t)) +
             "</figcaption>" + (any ? svg_chart(s, t) : std::string()) + "</figure>\n";
    }
    out += "</section>\n";
  }
  return out + "</body></html>\n";
}

}  // namespace wslat
