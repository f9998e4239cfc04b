// Report options shared by run, compare, merge and report: --format (stdout), --export-*
// files, --no-color; and the regression-gate options shared by run and compare.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "baseline.hpp"
#include "report.hpp"
#include "result.hpp"

namespace wslat::cli {

struct OutputArgs {
  std::string format = "text";
  std::string export_json, export_junit, export_markdown, export_html;
  bool no_color = false;
  std::vector<std::string> export_paths() const;  // the non-empty ones
};

// `exports`: also offer --export-json/-junit/-markdown/-html.
void add_output_options(CLI::App& sub, OutputArgs& out, bool exports = true);

// Colours only for the text format on a TTY, without --no-color or NO_COLOR.
bool want_color(const OutputArgs& out, ReportFormat format);

// Prints the report in `format` on stdout (warnings go to stderr for machine formats, the text
// report lists them itself), writes every --export-* file atomically, and appends the
// Markdown summary to $GITHUB_STEP_SUMMARY when it is set.
void write_outputs(const RunResult& r, const OutputArgs& out);

struct GateArgs {
  std::string tolerance = "10%";
  std::string noise_floor = "0.5ms";
  double alpha = 0.01;
  std::vector<std::string> gate;
  bool force = false;
};

void add_gate_options(CLI::App& sub, GateArgs& gate);
// Validates and converts; throws UsageError naming the option.
CompareOptions compare_options(const GateArgs& gate);

}  // namespace wslat::cli
