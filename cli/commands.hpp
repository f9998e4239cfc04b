// Subcommands: each file adds its grammar to the app and, when chosen, sets `action`.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace wslat::cli {

using Action = std::function<int()>;

void add_run(CLI::App& app, Action& action);
void add_serve(CLI::App& app, Action& action);
void add_monitor(CLI::App& app, Action& action);
void add_validate(CLI::App& app, Action& action);
void add_compare(CLI::App& app, Action& action);
void add_report(CLI::App& app, Action& action);
void add_history(CLI::App& app, Action& action);
void add_merge(CLI::App& app, Action& action);
void add_init(CLI::App& app, Action& action);
void add_schema(CLI::App& app, Action& action);
// Generated from `app` itself, so added last: `wslat completions SHELL`, hidden `wslat manpage`.
void add_completions(CLI::App& app, Action& action);
void add_manpage(CLI::App& app, Action& action);

}  // namespace wslat::cli
