// `wslat merge R1 R2 ... -o OUT`: combine the results of shards run on several machines.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <fmt/core.h>

#include "baseline.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "report.hpp"
#include "store.hpp"

namespace wslat::cli {

namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string format = "text";
  bool no_color = false;
};

bool want_color(const MergeArgs& a, ReportFormat f) {
  if (a.no_color || f != ReportFormat::kText) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

int run_merge(const MergeArgs& a) {
  const ReportFormat format = parse_report_format(a.format);
  // Fail before reading many large files if the result could not be stored anyway.
  check_writable_file(a.output);
  std::vector<RunResult> parts;
  parts.reserve(a.inputs.size());
  for (const auto& f : a.inputs) parts.push_back(load_result_file(f));
  const RunResult merged = merge_results(parts, a.inputs);
  write_file_atomic(a.output, to_json(merged).dump(2) + "\n");
  RenderOptions ropts;
  ropts.color = want_color(a, format);
  const std::string out = render(merged, format, ropts);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (format != ReportFormat::kJson) {
    fmt::print(stderr, "wslat: merged {} result{} ({} shard{}) into {}\n", parts.size(),
               parts.size() == 1 ? "" : "s", merged.shards, merged.shards == 1 ? "" : "s",
               a.output);
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
  sub->add_option("--format,-f", args->format,
                  "Report on stdout: text | json | junit | markdown | html")
      ->capture_default_str();
  sub->add_flag("--no-color", args->no_color, "No ANSI colours in the text report");
  sub->callback([&action, args] { action = [args] { return run_merge(*args); }; });
}

}  // namespace wslat::cli
