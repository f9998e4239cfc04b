// Report options shared by run, compare and merge: --format (stdout) and --export-* files.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "result.hpp"

namespace wslat::cli {

struct OutputArgs {
  std::string format = "text";
  std::string export_json, export_junit, export_markdown, export_html;
  std::vector<std::string> export_paths() const;  // the non-empty ones
};

void add_output_options(CLI::App& sub, OutputArgs& out);

// Prints the report in `format` on stdout (colours only on a TTY without NO_COLOR), writes
// every --export-* file atomically, and appends the Markdown summary to $GITHUB_STEP_SUMMARY
// when it is set.
void write_outputs(const RunResult& r, const OutputArgs& out, bool quiet);

}  // namespace wslat::cli
