// The Markdown report (GitHub-flavoured): PR comments and $GITHUB_STEP_SUMMARY.
#include <fmt/core.h>

#include "common.hpp"
#include "report.hpp"
#include "units.hpp"

namespace wslat {

namespace {

// Scenario names, targets and server messages are not ours: escape everything Markdown or
// the HTML GitHub allows could interpret, and keep table cells on one line.
std::string md(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '|':
      case '#':
      case '~':
        out += '\\';
        out += c;
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& c : cells) out += " " + c + " |";
  return out + "\n";
}

std::string title(const RunResult& r) {
  const char* icon = r.exit_code == 0 ? "✅" : "❌";
  return fmt::format("## {} wslat: {} — {}\n\n", icon, md(r.scenario_name), r.verdict);
}

std::string overview(const RunResult& r) {
  std::string out =
      "**Target** " + md(r.target) + " · **Profile** " + md(report::describe_profile(r)) + "  \n";
  out += "**Connections** " + report::describe_connections(r) + " in " + format_ms(r.duration_ms) +
         " · **Load** " + md(report::describe_load(r)) + "  \n";
  out += "**Started** " + md(r.started_at);
  if (!r.host.empty()) out += " on " + md(r.host);
  if (!r.tool_version.empty()) out += " · wslat " + md(r.tool_version);
  return out + "\n\n";
}

std::string phase_table(const RunResult& r) {
  if (r.metrics.empty()) return "_No latency samples: no connection got far enough._\n\n";
  std::string out = row({"phase", "count", "p50", "p95", "p99", "max"});
  out += "|---|---:|---:|---:|---:|---:|\n";
  for (const auto& name : report::ordered_metrics(r)) {
    const Summary& s = r.metrics.at(name).summary;
    out += row({md(name), std::to_string(s.count), format_ms(s.p50), format_ms(s.p95),
                format_ms(s.p99), format_ms(s.max)});
  }
  out += "\n";
  for (const auto& [name, what] : r.step_metrics) out += "- `" + md(name) + "`: " + md(what) + "\n";
  return out + (r.step_metrics.empty() ? "" : "\n");
}

std::string thresholds_table(const RunResult& r) {
  if (r.thresholds.empty()) return "";
  std::string out = "### Thresholds\n\n" + row({"", "metric", "threshold", "limit", "actual"});
  out += "|---|---|---|---:|---:|\n";
  for (const auto& t : r.thresholds) {
    std::string actual = report::format_threshold_actual(t);
    if (!t.detail.empty()) actual += " (" + md(t.detail) + ")";
    out += row({t.pass ? "✅" : "❌", md(t.metric), md(t.expr),
                report::format_threshold_value(t, t.limit), actual});
  }
  return out + "\n";
}

std::string comparison_table(const RunResult& r) {
  if (!r.comparison) return "";
  const Comparison& c = *r.comparison;
  std::string out = "### Comparison with baseline\n\n" + md(c.baseline_file);
  if (!c.baseline_started_at.empty()) out += " (" + md(c.baseline_started_at) + ")";
  out += fmt::format(": a regression is slower by > {:g}% and > {}, p < {:g}.\n\n",
                     c.tolerance * 100.0, format_ms(c.noise_floor_ms), c.alpha);
  out += row({"metric", "baseline p50", "p50", "Δ p50", "baseline p95", "p95", "Δ p95", "p-value",
              "verdict"});
  out += "|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const auto& m : c.metrics) {
    const std::string verdict = m.verdict == "regressed" ? "❌ **regressed**" : md(m.verdict);
    out += row(
        {md(m.metric) + (m.gated ? "" : " (info)"), format_ms(m.baseline_p50),
         format_ms(m.current_p50),
         report::format_delta_ms(m.delta_p50_ms) + " (" + report::format_pct(m.delta_p50_pct) + ")",
         format_ms(m.baseline_p95), format_ms(m.current_p95),
         report::format_delta_ms(m.delta_p95_ms) + " (" + report::format_pct(m.delta_p95_pct) + ")",
         report::format_p_value(m.p_value), verdict});
  }
  return out + "\n";
}

std::string counters_table(const RunResult& r) {
  if (r.counters.empty()) return "";
  std::string out = "### Counters\n\n" +
                    row({"counter", "total", "min/conn", "mean/conn", "max/conn"}) +
                    "|---|---:|---:|---:|---:|\n";
  for (const auto& name : report::ordered_counters(r)) {
    std::vector<std::string> cells = report::counter_cells(name, r.counters.at(name));
    cells[0] = md(cells[0]);  // a name from a result file: any text
    out += row(cells);
  }
  return out + "\n";
}

std::string errors_table(const RunResult& r) {
  if (r.errors.empty()) return "";
  std::string out = "### Errors\n\n" + row({"category", "count", "example"});
  out += "|---|---:|---|\n";
  for (const auto& [category, count] : r.errors) {
    auto ex = r.error_examples.find(category);
    out += row(
        {md(category), std::to_string(count), ex == r.error_examples.end() ? "" : md(ex->second)});
  }
  return out + "\n";
}

std::string warnings_list(const RunResult& r) {
  const std::vector<std::string> all = all_warnings(r);
  if (all.empty()) return "";
  std::string out = "### Warnings\n\n";
  for (const auto& w : all) out += "- ⚠️ " + md(w) + "\n";
  return out + "\n";
}

}  // namespace

std::string render_markdown(const RunResult& r) {
  return title(r) + overview(r) + phase_table(r) + counters_table(r) + thresholds_table(r) +
         comparison_table(r) + errors_table(r) + warnings_list(r) +
         "**Verdict: " + md(report::describe_verdict(r)) + "**\n";
}

}  // namespace wslat
