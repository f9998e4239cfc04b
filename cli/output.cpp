#include "output.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <fmt/core.h>

#include "error.hpp"
#include "store.hpp"
#include "units.hpp"

namespace wslat::cli {

std::vector<std::string> OutputArgs::export_paths() const {
  std::vector<std::string> out;
  for (const auto* p : {&export_json, &export_junit, &export_markdown, &export_html}) {
    if (!p->empty()) out.push_back(*p);
  }
  return out;
}

void add_output_options(CLI::App& sub, OutputArgs& out, bool exports) {
  sub.add_option("--format,-f", out.format, "Report on stdout: text|json|junit|markdown|html")
      ->capture_default_str();
  if (exports) {
    sub.add_option("--export-json", out.export_json, "Also write the JSON result to this file");
    sub.add_option("--export-junit", out.export_junit, "Also write a JUnit XML report");
    sub.add_option("--export-markdown", out.export_markdown, "Also write a Markdown summary");
    sub.add_option("--export-html", out.export_html, "Also write a self-contained HTML report");
  }
  sub.add_flag("--no-color", out.no_color, "No ANSI colours in the text report");
}

bool want_color(const OutputArgs& out, ReportFormat format) {
  if (out.no_color || format != ReportFormat::kText) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

void write_outputs(const RunResult& r, const OutputArgs& out) {
  const ReportFormat format = parse_report_format(out.format);
  if (format != ReportFormat::kText) {
    for (const auto& w : r.warnings) fmt::print(stderr, "wslat: warning: {}\n", w);
    if (r.comparison) {
      for (const auto& w : r.comparison->warnings) fmt::print(stderr, "wslat: warning: {}\n", w);
    }
  }
  RenderOptions opts;
  opts.color = want_color(out, format);
  const std::string text = render(r, format, opts);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (!out.export_json.empty()) write_file_atomic(out.export_json, render_json(r));
  if (!out.export_junit.empty()) write_file_atomic(out.export_junit, render_junit(r));
  if (!out.export_markdown.empty()) write_file_atomic(out.export_markdown, render_markdown(r));
  if (!out.export_html.empty()) write_file_atomic(out.export_html, render_html(r));
  if (const char* summary = std::getenv("GITHUB_STEP_SUMMARY"); summary && *summary) {
    std::ofstream f(summary, std::ios::app);
    f << render_markdown(r) << "\n";
    if (!f) fmt::print(stderr, "wslat: warning: cannot append to GITHUB_STEP_SUMMARY={}\n", summary);
  }
}

void add_gate_options(CLI::App& sub, GateArgs& gate) {
  sub.add_option("--tolerance", gate.tolerance, "Relative slow-down that counts, e.g. 10%")
      ->capture_default_str();
  sub.add_option("--noise-floor", gate.noise_floor, "Absolute slow-down that counts, e.g. 0.5ms")
      ->capture_default_str();
  sub.add_option("--alpha", gate.alpha, "Mann-Whitney significance level")->capture_default_str();
  sub.add_option("--gate", gate.gate,
                 "Metrics the gate watches (default: handshake,e2e,perceived + thresholded)")
      ->delimiter(',');
  sub.add_flag("--force", gate.force, "Compare even with a baseline of another scenario version");
}

namespace {

// "10%" -> 0.10. A bare number is ambiguous (0.1 or 10 %?), so the sign is required.
double parse_percent(const std::string& text, const std::string& what) {
  const std::string usage = fmt::format(
      "{}: '{}' is not a percentage; write it with a % sign, e.g. 10% or 2.5%", what, text);
  if (text.size() < 2 || text.back() != '%') throw UsageError(usage);
  const std::string number = text.substr(0, text.size() - 1);
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(v) || v < 0) {
    throw UsageError(usage);
  }
  return v / 100.0;
}

}  // namespace

CompareOptions compare_options(const GateArgs& gate) {
  CompareOptions o;
  o.tolerance = parse_percent(gate.tolerance, "--tolerance");
  o.noise_floor_ms = to_ms(parse_duration_or_throw(gate.noise_floor, "--noise-floor"));
  if (!(gate.alpha > 0 && gate.alpha < 1)) {
    throw UsageError(fmt::format(
        "--alpha: {} is not a significance level; give a number between 0 and 1, e.g. 0.01",
        gate.alpha));
  }
  o.alpha = gate.alpha;
  o.gate = gate.gate;
  o.force = gate.force;
  return o;
}

}  // namespace wslat::cli
