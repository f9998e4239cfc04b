#include "commands.hpp"
#include "error.hpp"

namespace wslat::cli {

void add_history(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("history", "(not built yet)");
  sub->callback([&action] { action = [] () -> int { throw UsageError("history: not built yet"); }; });
}

}  // namespace wslat::cli
