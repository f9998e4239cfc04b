// `wslat report RESULT [--format F] [-o FILE]`: re-render a stored result.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "commands.hpp"
#include "error.hpp"
#include "output.hpp"
#include "report.hpp"
#include "store.hpp"

namespace wslat::cli {

namespace {

struct ReportArgs {
  std::string result_file;
  std::string output;
  OutputArgs render;  // --format, --no-color
};

int run_report(const ReportArgs& a) {
  const ReportFormat format = parse_report_format(a.render.format);
  RunResult result;
  try {
    result = load_result_file(a.result_file);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError(a.result_file + ": not a wslat result: " + e.what());
  }
  RenderOptions opts;
  opts.color = a.output.empty() && want_color(a.render, format);
  const std::string out = render(result, format, opts);
  if (a.output.empty()) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else {
    write_output_file(a.output, out);
  }
  return exit_code::kPass;
}

}  // namespace

void add_report(CLI::App& app, Action& action) {
  auto args = std::make_shared<ReportArgs>();
  auto* sub = app.add_subcommand("report", "Re-render a stored result file");
  sub->add_option("RESULT", args->result_file, "Result JSON (schema wslat.result/1)")->required();
  sub->add_option("-o,--output", args->output, "Write to FILE (atomically) instead of stdout");
  add_output_options(*sub, args->render, /*exports=*/false);
  sub->callback([&action, args] { action = [args] { return run_report(*args); }; });
}

}  // namespace wslat::cli
