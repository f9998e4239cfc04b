// `wslat compare CURRENT BASELINE`: the regression verdict between two stored results.
#include <memory>
#include <utility>

#include <fmt/core.h>

#include "baseline.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "store.hpp"

namespace wslat::cli {

namespace {

struct CompareArgs {
  std::string current_file, baseline_file;
  GateArgs gate;
  OutputArgs output;
};

int run_compare(const CompareArgs& a) {
  parse_report_format(a.output.format);
  survive_closed_streams();
  const CompareOptions opts = compare_options(a.gate);
  for (const auto& path : a.output.export_paths()) check_writable_file(path);
  RunResult current = load_result_file(a.current_file);
  const RunResult baseline = load_result_file(a.baseline_file);
  current.comparison = compare_results(current, baseline, opts, a.baseline_file);
  // compare was not interrupted: an interrupted input is judged on what it measured, and said.
  const std::pair<bool, const std::string*> sides[] = {{current.interrupted, &a.current_file},
                                                       {baseline.interrupted, &a.baseline_file}};
  for (const auto& [interrupted, file] : sides) {
    if (interrupted) {
      current.warnings.push_back(
          fmt::format("{} is an interrupted run: it measured only part of its load", *file));
    }
  }
  decide_verdict(current, false);
  write_outputs(current, a.output);
  return current.exit_code;
}

}  // namespace

void add_compare(CLI::App& app, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  auto* sub = app.add_subcommand(
      "compare", "Regression verdict of a result against a baseline (exit 2 on regression)");
  sub->add_option("CURRENT", args->current_file, "Result file of the run to judge")->required();
  sub->add_option("BASELINE", args->baseline_file, "Result file to compare against")->required();
  add_gate_options(*sub, args->gate);
  add_output_options(*sub, args->output);
  sub->callback([&action, args] { action = [args] { return run_compare(*args); }; });
}

}  // namespace wslat::cli
