// Report options shared by run, compare, merge and report: --format (stdout), --export-*
// files, --no-color; and the regression-gate options shared by run and compare.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "baseline.hpp"
#include "report.hpp"
#include "result.hpp"

namespace wslat::cli {

struct OutputArgs {
  std::string format = "text";
  std::map<ReportFormat, std::string> exports;  // --export-NAME FILE (report_formats())
  bool no_color = false;
  std::vector<std::string> export_paths() const;  // the non-empty ones
};

// `exports`: also offer --export-NAME for every report format that has one.
void add_output_options(CLI::App& sub, OutputArgs& out, bool exports = true);

// Colours only for the text format on a TTY, without --no-color or NO_COLOR.
bool want_color(const OutputArgs& out, ReportFormat format);

// Prints the report in `format` on stdout (warnings go to stderr for machine formats, the text
// report lists them itself), writes every --export-* file (store.hpp write_output_file), and
// appends the Markdown summary to $GITHUB_STEP_SUMMARY when it is set. A closed stdout is a
// warning; an export that cannot be written does not stop the others: RunError at the end
// names every one that failed.
void write_outputs(const RunResult& r, const OutputArgs& out);

// Writes that must not stop each other: each one runs even when an earlier one failed. A closed
// stdout or stderr (BrokenStream) is only a warning; finish() throws one RunError naming every
// other failure.
class OutputWrites {
 public:
  void attempt(const std::function<void()>& write);
  void finish() const;

 private:
  std::vector<std::string> failed_;
};

// Upper bound of the size of a report in `format` of any run (see output.cpp), for checking
// free space before the run.
std::uintmax_t max_export_bytes(ReportFormat format);

// stdout and stderr may lose their reader at any time (`| head`, a dropped ssh session):
// commands that write files call survive_closed_streams() first (SIGPIPE ignored), then
// writes to the streams go through these, which never throw; a failure is remembered.
void survive_closed_streams();
bool print_stdout(const std::string& text);  // false when it could not be written
void print_stderr(const std::string& text);
bool stderr_failed();

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
