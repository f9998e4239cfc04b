// `wslat merge R1 R2 ... -o OUT`: combine the results of shards run on several machines.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <fmt/core.h>

#include "baseline.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "output.hpp"
#include "report.hpp"
#include "store.hpp"

namespace wslat::cli {

namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output;
  OutputArgs report;
};

int run_merge(const MergeArgs& a) {
  parse_report_format(a.report.format);
  survive_closed_streams();
  // Fail before reading many large files if the result could not be stored anyway.
  check_writable_file(a.output);
  for (const auto& path : a.report.export_paths()) check_writable_file(path);
  std::vector<RunResult> parts;
  parts.reserve(a.inputs.size());
  for (const auto& f : a.inputs) parts.push_back(load_result_file(f));
  const RunResult merged = merge_results(parts, a.inputs);
  write_output_file(a.output, render_json(merged));
  write_outputs(merged, a.report);
  if (a.report.format != "json") {
    print_stderr(fmt::format("wslat: merged {} result{} ({} shard{}) into {}\n", parts.size(),
                             parts.size() == 1 ? "" : "s", merged.shards,
                             merged.shards == 1 ? "" : "s", a.output));
  }
  return merged.exit_code;
}

}  // namespace

void add_merge(CLI::App& app, Action& action) {
  auto args = std::make_shared<MergeArgs>();
  auto* sub = app.add_subcommand(
      "merge", "Combine shard results exactly (histograms add up); exit with the merged verdict");
  sub->add_option("RESULTS", args->inputs, "Result files of the shards")->required();
  sub->add_option("-o,--output", args->output, "Where to write the merged result JSON")->required();
  add_output_options(*sub, args->report);
  sub->callback([&action, args] { action = [args] { return run_merge(*args); }; });
}

}  // namespace wslat::cli
