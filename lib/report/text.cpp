// The text report (default): what a person at a terminal reads after a run.
#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "common.hpp"
#include "metrics.hpp"
#include "report.hpp"
#include "units.hpp"

namespace wslat {

namespace {

using report::ordered_metrics;

constexpr const char* kBold = "1";
constexpr const char* kRed = "31";
constexpr const char* kGreen = "32";
constexpr const char* kYellow = "33";
constexpr const char* kDim = "2";

class Painter {
 public:
  explicit Painter(bool color) : color_(color) {}
  std::string operator()(const std::string& s, const char* code) const {
    if (!color_ || code == nullptr || s.empty()) return s;
    return fmt::format("\x1b[{}m{}\x1b[0m", code, s);
  }

 private:
  bool color_;
};

// Terminal columns of a UTF-8 string (every code point counts one: enough for the glyphs
// used here).
std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(const std::string& s, std::size_t width, bool right) {
  const std::size_t w = display_width(s);
  if (w >= width) return s;
  const std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

// Columns aligned on display width; colour is applied after padding so that escape codes
// never disturb the alignment.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<bool> right_aligned)
      : right_(std::move(right_aligned)) {
    add(std::move(header), std::vector<const char*>(right_.size(), kBold));
  }
  void add(std::vector<std::string> cells, std::vector<const char*> styles = {}) {
    cells.resize(right_.size());
    styles.resize(right_.size(), nullptr);
    rows_.push_back({std::move(cells), std::move(styles)});
  }
  std::string render(const Painter& paint, const std::string& indent) const {
    std::vector<std::size_t> widths(right_.size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t c = 0; c < widths.size(); ++c) {
        widths[c] = std::max(widths[c], display_width(row.cells[c]));
      }
    }
    std::string out;
    for (const auto& row : rows_) out += render_row(row, widths, paint, indent);
    return out;
  }

 private:
  struct Row {
    std::vector<std::string> cells;
    std::vector<const char*> styles;
  };
  std::string render_row(const Row& row, const std::vector<std::size_t>& widths,
                         const Painter& paint, const std::string& indent) const {
    std::string line = indent;
    for (std::size_t c = 0; c < widths.size(); ++c) {
      const bool last = c + 1 == widths.size();
      // The last left-aligned column is not padded: no trailing blanks.
      const std::string cell =
          last && !right_[c] ? row.cells[c] : pad(row.cells[c], widths[c], right_[c]);
      line += (c == 0 ? "" : "  ") + paint(cell, row.styles[c]);
    }
    return line + "\n";
  }
  std::vector<bool> right_;
  std::vector<Row> rows_;
};

std::string header(const RunResult& r, const Painter& paint) {
  std::string out =
      paint("wslat", kBold) + "  " + paint(r.scenario_name, kBold) + "  ->  " + r.target + "\n";
  Table t({"", ""}, {false, false});
  t.add({"profile", report::describe_profile(r)});
  t.add({"connections", report::describe_connections(r) + " in " + format_ms(r.duration_ms)});
  t.add({"load", report::describe_load(r)});
  std::string started = r.started_at;
  if (!r.host.empty()) started += " on " + r.host;
  if (!r.tool_version.empty()) started += " (wslat " + r.tool_version + ")";
  if (r.shards > 1) started += fmt::format(", merged from {} shards", r.shards);
  if (!r.shard.empty()) started += ", shard " + r.shard;
  t.add({"started", started});
  std::string rows = t.render(paint, "  ");
  return out + rows.substr(rows.find('\n') + 1);  // drop the empty header row
}

std::string phase_table(const RunResult& r, const Painter& paint) {
  if (r.metrics.empty()) return "no latency samples: no connection got far enough\n";
  Table t({"phase", "count", "p50", "p95", "p99", "max"}, {false, true, true, true, true, true});
  for (const auto& name : ordered_metrics(r)) {
    const Summary& s = r.metrics.at(name).summary;
    t.add({name, std::to_string(s.count), format_ms(s.p50), format_ms(s.p95), format_ms(s.p99),
           format_ms(s.max)});
  }
  std::string out = t.render(paint, "");
  for (const auto& [name, what] : r.step_metrics)
    out.append("  ").append(name).append(": ").append(what).append("\n");
  return out;
}

std::string thresholds_section(const RunResult& r, const Painter& paint) {
  if (r.thresholds.empty()) return "";
  Table t({"", "", ""}, {false, false, false});
  for (const auto& th : r.thresholds) {
    std::string detail = report::threshold_limit_actual(th);
    // The explanation (scaling, sample count) matters when it failed; else it is noise.
    if (!th.pass && !th.detail.empty()) detail += " (" + th.detail + ")";
    t.add({th.pass ? "✓" : "✗", th.metric + " " + th.expr, detail},
          {th.pass ? kGreen : kRed, nullptr, nullptr});
  }
  std::string rows = t.render(paint, "  ");
  return "\n" + paint("thresholds", kBold) + "\n" + rows.substr(rows.find('\n') + 1);
}

std::string counters_section(const RunResult& r, const Painter& paint) {
  if (r.counters.empty()) return "";
  Table t({"counter", "total", "min/conn", "mean/conn", "max/conn"},
          {false, true, true, true, true});
  for (const auto& name : report::ordered_counters(r)) {
    t.add(report::counter_cells(name, r.counters.at(name)));
  }
  return "\n" + t.render(paint, "");
}

std::string errors_section(const RunResult& r, const Painter& paint) {
  if (r.errors.empty()) return "";
  Table t({"", "", ""}, {false, true, false});
  for (const auto& [category, count] : r.errors) {
    auto ex = r.error_examples.find(category);
    t.add(
        {category, std::to_string(count), ex == r.error_examples.end() ? "" : "e.g. " + ex->second},
        {kRed, nullptr, kDim});
  }
  std::string rows = t.render(paint, "  ");
  return "\n" + paint("errors", kBold) + "\n" + rows.substr(rows.find('\n') + 1);
}

const char* verdict_style(const std::string& verdict) {
  if (verdict == "regressed") return kRed;
  if (verdict == "improved") return kGreen;
  if (verdict == "inconclusive" || verdict == "slower") return kYellow;
  return nullptr;
}

std::string delta(double ms, double pct) {
  return report::format_delta_ms(ms) + " (" + report::format_pct(pct) + ")";
}

std::string comparison_section(const RunResult& r, const Painter& paint) {
  if (!r.comparison) return "";
  const Comparison& c = *r.comparison;
  std::string out = "\n" + paint("comparison with baseline", kBold) + " " + c.baseline_file;
  if (!c.baseline_started_at.empty()) out += " (" + c.baseline_started_at + ")";
  out += fmt::format("\n  regression when slower by > {:g}% and > {}, p < {:g}\n",
                     c.tolerance * 100.0, format_ms(c.noise_floor_ms), c.alpha);
  Table t({"metric", "gate", "base p50", "p50", "Δ p50", "base p95", "p95", "Δ p95", "p-value",
           "verdict"},
          {false, false, true, true, true, true, true, true, true, false});
  for (const auto& m : c.metrics) {
    t.add({m.metric, m.gated ? "yes" : "info", format_ms(m.baseline_p50), format_ms(m.current_p50),
           delta(m.delta_p50_ms, m.delta_p50_pct), format_ms(m.baseline_p95),
           format_ms(m.current_p95), delta(m.delta_p95_ms, m.delta_p95_pct),
           report::format_p_value(m.p_value), m.verdict},
          {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
           verdict_style(m.verdict)});
  }
  out += t.render(paint, "  ");
  for (const auto& m : c.metrics) {
    if (m.verdict != "unchanged" && !m.reason.empty())
      out += "  " + m.metric + ": " + m.reason + "\n";
  }
  return out;
}

// One line per phase: eight heights of block over log-spaced bins from min to max.
std::string sparkline(const report::LogBins& bins) {
  static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  std::string line;
  for (std::int64_t c : bins.counts) {
    if (c == 0) {
      line += " ";
      continue;
    }
    const double f = static_cast<double>(c) / static_cast<double>(bins.max_count);
    line += kBlocks[std::clamp(static_cast<int>(std::ceil(f * 8.0)) - 1, 0, 7)];
  }
  return line;
}

std::string distribution_section(const RunResult& r, const Painter& paint) {
  Table t({"", "", "", ""}, {false, true, false, false});
  bool any = false;
  for (const std::string& name : timeline_metrics()) {
    auto it = r.metrics.find(name);
    if (it == r.metrics.end() || it->second.histogram.empty()) continue;
    const report::LogBins bins = report::log_bins(it->second.histogram, 32);
    t.add({name, format_ms(bins.lo_ms), sparkline(bins), format_ms(bins.hi_ms)});
    any = true;
  }
  if (!any) return "";
  std::string rows = t.render(paint, "  ");
  return "\n" + paint("distribution", kBold) + " (log scale, min to max)\n" +
         rows.substr(rows.find('\n') + 1);
}

std::string warnings_section(const RunResult& r, const Painter& paint) {
  const std::vector<std::string> all = all_warnings(r);
  if (all.empty()) return "";
  std::string out = "\n" + paint("warnings", kBold) + "\n";
  for (const auto& w : all) out += "  " + paint("!", kYellow) + " " + w + "\n";
  return out;
}

std::string verdict_line(const RunResult& r, const Painter& paint) {
  std::string v = report::describe_verdict(r);
  const char* style = r.exit_code == 0 ? kGreen : kRed;
  std::string word = r.verdict;
  std::transform(word.begin(), word.end(), word.begin(),
                 [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
  return "\nverdict: " + paint(word, style) + v.substr(r.verdict.size()) + "\n";
}

}  // namespace

std::string render_text(const RunResult& r, const RenderOptions& opts) {
  const Painter paint(opts.color);
  return header(r, paint) + "\n" + phase_table(r, paint) + counters_section(r, paint) +
         thresholds_section(r, paint) + errors_section(r, paint) + comparison_section(r, paint) +
         distribution_section(r, paint) + warnings_section(r, paint) + verdict_line(r, paint);
}

}  // namespace wslat
