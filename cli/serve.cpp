#include "commands.hpp"
#include "error.hpp"

namespace wslat::cli {

void add_serve(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("serve", "(not built yet)");
  sub->callback([&action] { action = [] () -> int { throw UsageError("serve: not built yet"); }; });
}

}  // namespace wslat::cli
