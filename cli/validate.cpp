#include "commands.hpp"
#include "error.hpp"

namespace wslat::cli {

void add_validate(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("validate", "(not built yet)");
  sub->callback([&action] { action = [] () -> int { throw UsageError("validate: not built yet"); }; });
}

}  // namespace wslat::cli
