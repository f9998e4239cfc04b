// `wslat history SCENARIO`: the trend of the stored runs of a scenario.
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "error.hpp"
#include "history.hpp"
#include "json_text.hpp"
#include "results_dir.hpp"
#include "store.hpp"

namespace wslat::cli {

namespace {

namespace fs = std::filesystem;

struct HistoryArgs {
  std::string scenario;
  std::string results_dir = "results";
  std::size_t last = 20;
  std::string format = "text";
  std::string output;
  bool include_interrupted = false;
};

// SCENARIO is a scenario file (its "name" is used) or a bare scenario name.
std::string scenario_name(const std::string& arg) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(arg), ec)) return arg;
  const std::string text = read_text_file(arg);
  const auto j = try_parse_json_bounded(text);
  if (!j || !j->is_object() || !j->contains("name") || !j->at("name").is_string()) {
    throw UsageError(
        fmt::format("{}: cannot find the scenario's \"name\" in it; give a valid "
                    "scenario file or the bare scenario name",
                    arg));
  }
  return j->at("name").get<std::string>();
}

std::string known_scenarios(const std::string& results_dir) {
  std::string list;
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(results_dir) / "runs", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory(ec)) list += (list.empty() ? "" : ", ") + it->path().filename().string();
  }
  return list.empty() ? std::string("none") : list;
}

int run_history(const HistoryArgs& a) {
  if (a.format != "text" && a.format != "html") {
    throw UsageError(
        fmt::format("--format: '{}' is not a history format; use text or html", a.format));
  }
  if (a.last == 0) throw UsageError("--last: give at least 1 run");
  const std::string name = scenario_name(a.scenario);
  const History h = load_history(a.results_dir, name, a.last, a.include_interrupted);
  if (h.series.empty() && h.warnings.empty() && h.interrupted_skipped == 0) {
    throw UsageError(fmt::format(
        "no stored runs of scenario {} in {}/runs/{} (scenarios with runs there: {}); run "
        "`wslat run` without --no-save, or point --results-dir at the right folder",
        name, a.results_dir, safe_file_name(name), known_scenarios(a.results_dir)));
  }
  // The text report on stdout lists skipped files itself.
  if (a.format != "text" || !a.output.empty()) {
    for (const auto& w : h.warnings) fmt::print(stderr, "wslat: warning: {}\n", w);
  }
  const std::string out = a.format == "html" ? render_history_html(h) : render_history_text(h);
  if (!a.output.empty()) {
    write_output_file(a.output, out);
    return exit_code::kPass;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return exit_code::kPass;
}

}  // namespace

void add_history(CLI::App& app, Action& action) {
  auto args = std::make_shared<HistoryArgs>();
  auto* sub = app.add_subcommand("history", "Trend of the stored runs of a scenario");
  sub->add_option("SCENARIO", args->scenario, "Scenario file or scenario name")->required();
  auto* results_dir = sub->add_option("--results-dir", args->results_dir, kResultsDirHelp);
  sub->add_option("--last", args->last, "How many of the latest runs to show")
      ->capture_default_str();
  sub->add_option("--format,-f", args->format, "text | html")->capture_default_str();
  sub->add_option("-o,--output", args->output, "Write to FILE (atomically) instead of stdout");
  sub->add_flag("--include-interrupted", args->include_interrupted,
                "Show interrupted runs too (left out by default: they measured part of the load)");
  sub->callback([&action, args, results_dir] {
    action = [args, results_dir] {
      if (results_dir->count() == 0) args->results_dir = default_results_dir().path;
      return run_history(*args);
    };
  });
}

}  // namespace wslat::cli
