#include "commands.hpp"
#include "error.hpp"

namespace wslat::cli {

void add_run(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("run", "(not built yet)");
  sub->callback([&action] { action = [] () -> int { throw UsageError("run: not built yet"); }; });
}

}  // namespace wslat::cli
