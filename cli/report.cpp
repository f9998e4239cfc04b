// `wslat report RESULT [--format F] [-o FILE]`: re-render a stored result.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "commands.hpp"
#include "error.hpp"
#include "report.hpp"
#include "store.hpp"

namespace wslat::cli {

namespace {

struct ReportArgs {
  std::string result_file;
  std::string format = "text";
  std::string output;
  bool no_color = false;
};

// Colours only for a person looking at a terminal (and never when NO_COLOR is set).
bool want_color(const ReportArgs& a) {
  if (a.no_color || !a.output.empty()) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

int run_report(const ReportArgs& a) {
  const ReportFormat format = parse_report_format(a.format);
  RunResult result;
  try {
    result = load_result_file(a.result_file);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError(a.result_file + ": not a wslat result: " + e.what());
  }
  RenderOptions opts;
  opts.color = want_color(a);
  const std::string out = render(result, format, opts);
  if (a.output.empty()) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else {
    write_file_atomic(a.output, out);
  }
  return exit_code::kPass;
}

}  // namespace

void add_report(CLI::App& app, Action& action) {
  auto args = std::make_shared<ReportArgs>();
  auto* sub = app.add_subcommand("report", "Re-render a stored result file");
  sub->add_option("RESULT", args->result_file, "Result JSON (schema wslat.result/1)")->required();
  sub->add_option("--format,-f", args->format, "text | json | junit | markdown | html")
      ->capture_default_str();
  sub->add_option("-o,--output", args->output, "Write to FILE (atomically) instead of stdout");
  sub->add_flag("--no-color", args->no_color, "No ANSI colours in the text report");
  sub->callback([&action, args] { action = [args] { return run_report(*args); }; });
}

}  // namespace wslat::cli
