#include "commands.hpp"
#include "error.hpp"

namespace wslat::cli {

void add_report(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("report", "(not built yet)");
  sub->callback([&action] { action = [] () -> int { throw UsageError("report: not built yet"); }; });
}

}  // namespace wslat::cli
