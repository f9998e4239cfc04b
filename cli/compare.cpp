#include "commands.hpp"
#include "error.hpp"

namespace wslat::cli {

void add_compare(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("compare", "(not built yet)");
  sub->callback([&action] { action = [] () -> int { throw UsageError("compare: not built yet"); }; });
}

}  // namespace wslat::cli
