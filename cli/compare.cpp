// `wslat compare CURRENT BASELINE`: the regression verdict between two stored results.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include <fmt/core.h>

#include "baseline.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "report.hpp"
#include "store.hpp"
#include "units.hpp"

namespace wslat::cli {

namespace {

struct CompareArgs {
  std::string current_file, baseline_file;
  std::string tolerance = "10%";
  std::string noise_floor = "0.5ms";
  double alpha = 0.01;
  std::vector<std::string> gate;
  bool force = false;
  std::string format = "text";
  std::string export_json, export_junit, export_markdown, export_html;
  bool no_color = false;
};

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

CompareOptions compare_options(const CompareArgs& a) {
  CompareOptions o;
  o.tolerance = parse_percent(a.tolerance, "--tolerance");
  o.noise_floor_ms = to_ms(parse_duration_or_throw(a.noise_floor, "--noise-floor"));
  if (!(a.alpha > 0 && a.alpha < 1)) {
    throw UsageError(
        fmt::format("--alpha: {} is not a significance level; give a number "
                    "between 0 and 1, e.g. 0.01",
                    a.alpha));
  }
  o.alpha = a.alpha;
  o.gate = a.gate;
  o.force = a.force;
  return o;
}

bool want_color(const CompareArgs& a, ReportFormat f) {
  if (a.no_color || f != ReportFormat::kText) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

void export_reports(const CompareArgs& a, const RunResult& r) {
  const std::pair<const std::string*, ReportFormat> exports[] = {
      {&a.export_json, ReportFormat::kJson},
      {&a.export_junit, ReportFormat::kJunit},
      {&a.export_markdown, ReportFormat::kMarkdown},
      {&a.export_html, ReportFormat::kHtml}};
  for (const auto& [path, format] : exports) {
    if (!path->empty()) write_file_atomic(*path, render(r, format));
  }
}

// CI step summaries (GitHub Actions) get the Markdown report appended, as `run` does.
void append_step_summary(const RunResult& r) {
  const char* summary = std::getenv("GITHUB_STEP_SUMMARY");
  if (summary == nullptr || *summary == '\0') return;
  std::ofstream out(summary, std::ios::app);
  out << render(r, ReportFormat::kMarkdown);
  if (!out) {
    fmt::print(stderr, "wslat: warning: cannot append to GITHUB_STEP_SUMMARY file {}\n", summary);
  }
}

int run_compare(const CompareArgs& a) {
  const ReportFormat format = parse_report_format(a.format);
  const CompareOptions opts = compare_options(a);
  RunResult current = load_result_file(a.current_file);
  const RunResult baseline = load_result_file(a.baseline_file);
  current.comparison = compare_results(current, baseline, opts, a.baseline_file);
  decide_verdict(current);
  // The text report lists warnings itself; machine formats keep stdout clean.
  if (format != ReportFormat::kText) {
    for (const auto& w : current.comparison->warnings)
      fmt::print(stderr, "wslat: warning: {}\n", w);
  }
  RenderOptions ropts;
  ropts.color = want_color(a, format);
  const std::string out = render(current, format, ropts);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  export_reports(a, current);
  append_step_summary(current);
  return current.exit_code;
}

}  // namespace

void add_compare(CLI::App& app, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  auto* sub = app.add_subcommand(
      "compare", "Regression verdict of a result against a baseline (exit 2 on regression)");
  sub->add_option("CURRENT", args->current_file, "Result file of the run to judge")->required();
  sub->add_option("BASELINE", args->baseline_file, "Result file to compare against")->required();
  sub->add_option("--tolerance", args->tolerance, "Relative slow-down that counts, e.g. 10%")
      ->capture_default_str();
  sub->add_option("--noise-floor", args->noise_floor, "Absolute slow-down that counts, e.g. 0.5ms")
      ->capture_default_str();
  sub->add_option("--alpha", args->alpha, "Mann-Whitney significance level")->capture_default_str();
  sub->add_option("--gate", args->gate,
                  "Metrics the gate watches (default: handshake,e2e,perceived + thresholded)")
      ->delimiter(',');
  sub->add_flag("--force", args->force, "Compare even if the scenario file changed");
  sub->add_option("--format,-f", args->format, "text | json | junit | markdown | html")
      ->capture_default_str();
  sub->add_option("--export-json", args->export_json, "Also write the JSON result to FILE");
  sub->add_option("--export-junit", args->export_junit, "Also write a JUnit report to FILE");
  sub->add_option("--export-markdown", args->export_markdown, "Also write Markdown to FILE");
  sub->add_option("--export-html", args->export_html, "Also write an HTML report to FILE");
  sub->add_flag("--no-color", args->no_color, "No ANSI colours in the text report");
  sub->callback([&action, args] { action = [args] { return run_compare(*args); }; });
}

}  // namespace wslat::cli
