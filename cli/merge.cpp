#include "commands.hpp"
#include "error.hpp"

namespace wslat::cli {

void add_merge(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("merge", "(not built yet)");
  sub->callback([&action] { action = [] () -> int { throw UsageError("merge: not built yet"); }; });
}

}  // namespace wslat::cli
