#include "cli_model.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "report.hpp"
#include "server.hpp"

namespace wslat::cli {
namespace {

// The values the tool accepts where an option takes one of a few names. Each list is checked
// against the names the tool's own error message offers (tests/install/check_completions.sh),
// so a new profile or format cannot be left out of the completions unnoticed.
const std::vector<std::string> kProfiles{"production", "staging", "development", "local", "test"};
const std::vector<std::string> kHistoryFormats{"text", "html"};

std::vector<std::string> report_format_names() {
  std::vector<std::string> names;
  for (const auto& f : report_formats()) names.emplace_back(f.name);
  return names;
}

// Options naming a file to complete: these, and every --export-NAME (report_formats()).
const std::set<std::string> kFileOptions{"--ca",      "--cert",   "--key",      "--tls-cert",
                                         "--tls-key", "--output", "--baseline", "--save-baseline"};

bool is_file_option(const std::string& name) {
  return kFileOptions.count(name) != 0 || name.rfind("--export-", 0) == 0;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void classify(const std::string& command, const CLI::Option& opt, ArgInfo& a) {
  if (!a.positional && opt.get_expected_max() == 0) {  // a flag (CLI11's add_flag: expected(0))
    a.kind = ValueKind::kNone;
    a.repeatable = false;
    return;
  }
  const std::string& name = a.names.front();
  if (a.positional) {
    if (command == "completions") {
      a.kind = ValueKind::kChoice;
      a.choices = completion_shells();
    } else {
      a.kind = name == "SCENARIO" ? ValueKind::kScenario
               : name == "URL"    ? ValueKind::kText
                                  : ValueKind::kFile;
    }
    return;
  }
  if (name == "--env") {
    a.kind = ValueKind::kChoice;
    a.choices = kProfiles;
  } else if (name == "--format") {
    a.kind = ValueKind::kChoice;
    a.choices = command == "history" ? kHistoryFormats : report_format_names();
  } else if (name == "--mode") {
    a.kind = ValueKind::kChoice;
    a.choices = server_modes();
  } else if (name == "--results-dir") {
    a.kind = ValueKind::kDir;
  } else if (is_file_option(name)) {
    a.kind = ValueKind::kFile;
  } else {
    a.kind = ValueKind::kText;
  }
}

ArgInfo arg_info(const std::string& command, const CLI::Option& opt) {
  ArgInfo a;
  a.positional = !opt.nonpositional();
  if (a.positional) {
    a.names.push_back(upper(opt.get_name()));
    a.value_name = a.names.front();
  } else {
    for (const auto& l : opt.get_lnames()) a.names.push_back("--" + l);
    for (const auto& s : opt.get_snames()) a.names.push_back("-" + s);
    // CLI11 appends its validators' descriptions: "TEXT:{a,b}", "INT:INT in [1 - 256]".
    const std::string type = opt.get_type_name().empty() ? "VALUE" : opt.get_type_name();
    const auto colon = type.find(':');
    a.value_name = type.substr(0, colon);
    if (colon != std::string::npos) a.value_check = type.substr(colon + 1);
    a.default_value = opt.get_default_str();
  }
  a.description = opt.get_description();
  a.required = opt.get_required();
  a.repeatable = opt.get_expected_max() > 1 || opt.get_items_expected_max() > 1;
  classify(command, opt, a);
  if (a.kind == ValueKind::kNone) {
    a.value_name.clear();
    a.default_value.clear();
  }
  return a;
}

void read_options(const CLI::App& app, const std::string& command, std::vector<ArgInfo>& options,
                  std::vector<ArgInfo>* positionals) {
  for (const CLI::Option* opt : app.get_options()) {
    ArgInfo a = arg_info(command, *opt);
    if (a.positional) {
      if (positionals != nullptr) positionals->push_back(std::move(a));
    } else {
      options.push_back(std::move(a));
    }
  }
}

}  // namespace

const std::vector<std::string>& completion_shells() {
  static const std::vector<std::string> shells{"bash", "zsh", "fish"};
  return shells;
}

void one_value_per_flag(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (opt->nonpositional()) opt->allow_extra_args(false);  // a positional may still take several
  }
  for (CLI::App* sub : app.get_subcommands({})) one_value_per_flag(*sub);
}

CliInfo describe(const CLI::App& app) {
  CliInfo cli;
  cli.name = "wslat";  // not app.get_name(): CLI11 sets that to argv[0], a path
  cli.description = app.get_description();
  read_options(app, "", cli.options, nullptr);
  const auto visible =
      app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); });
  for (const CLI::App* sub : visible) {
    CommandInfo c;
    c.name = sub->get_name();
    c.description = sub->get_description();
    read_options(*sub, c.name, c.options, &c.positionals);
    cli.commands.push_back(std::move(c));
  }
  return cli;
}

}  // namespace wslat::cli
