// wslat: WebSocket connection latency, judged against thresholds and baselines.
#include <cstdio>
#include <exception>

#include <fmt/core.h>

#include "build_info.hpp"
#include "cli_model.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "output.hpp"

// The function-try-block turns what the handlers inside cannot catch (a failure while setting up
// the command line or while formatting their message) into exit code 3 instead of an abort.
int main(int argc, char** argv) try {
  CLI::App app{"wslat: how long it takes to connect to a WebSocket service and get an answer"};
  const wslat::BuildInfo& build = wslat::build_info();
  app.set_version_flag("--version", fmt::format("wslat {}\ncommit {}\nbuild {}", build.version,
                                                build.commit, build.build));
  app.require_subcommand(1);
  wslat::cli::Action action;
  wslat::cli::add_run(app, action);
  wslat::cli::add_serve(app, action);
  wslat::cli::add_monitor(app, action);
  wslat::cli::add_validate(app, action);
  wslat::cli::add_compare(app, action);
  wslat::cli::add_report(app, action);
  wslat::cli::add_history(app, action);
  wslat::cli::add_merge(app, action);
  wslat::cli::add_init(app, action);
  wslat::cli::add_schema(app, action);
  wslat::cli::add_completions(app, action);
  wslat::cli::add_manpage(app, action);
  wslat::cli::one_value_per_flag(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : wslat::exit_code::kUsage;
  }
  try {
    return action ? action() : wslat::exit_code::kUsage;
  } catch (const wslat::Error& e) {
    std::fflush(stdout);
    wslat::cli::print_stderr(fmt::format("wslat: {}\n", e.what()));  // never throws
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    wslat::cli::print_stderr(fmt::format("wslat: internal error: {}\n", e.what()));
    return wslat::exit_code::kCouldNotRun;
  }
} catch (...) {
  std::fputs("wslat: internal error\n", stderr);
  return wslat::exit_code::kCouldNotRun;
}
