// The command line as data, read from the CLI11 app itself: the shell completions and the man
// page are generated from it, so neither can drift from `--help`.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace wslat::cli {

// What a value of an option or positional argument is, for completion.
enum class ValueKind {
  kNone,      // a flag: takes no value
  kText,      // free text (a URL, a duration, a number): nothing to complete
  kChoice,    // one of `choices`
  kScenario,  // a scenario file (*.json)
  kFile,      // any file
  kDir,       // a folder
};

struct ArgInfo {
  std::vector<std::string> names;  // options: "--format", "-f" (long first); positional: "SCENARIO"
  bool positional = false;
  std::string description;
  std::string value_name;     // "SCENARIO", "TEXT", "INT", ... (empty for a flag)
  std::string value_check;    // what CLI11 checks the value against, e.g. "INT in [1 - 256]"
  std::string default_value;  // as --help shows it (empty: none)
  ValueKind kind = ValueKind::kNone;
  std::vector<std::string> choices;
  bool required = false;
  bool repeatable = false;  // an option given several times, or a positional taking several
};

struct CommandInfo {
  std::string name;
  std::string description;
  std::vector<ArgInfo> options;      // in --help order, -h/--help included
  std::vector<ArgInfo> positionals;  // in order
};

struct CliInfo {
  std::string name;  // "wslat"
  std::string description;
  std::vector<ArgInfo> options;       // global options (--help, --version)
  std::vector<CommandInfo> commands;  // visible subcommands, in --help order
};

// Hidden subcommands (empty group) are left out, as --help leaves them out.
CliInfo describe(const CLI::App& app);

std::string bash_completion(const CliInfo& cli);
std::string zsh_completion(const CliInfo& cli);
std::string fish_completion(const CliInfo& cli);

// wslat(1) in roff (man macros): synopsis, every subcommand with its options, exit status.
std::string man_page(const CliInfo& cli, const std::string& version);

// Makes every option of `app` and its subcommands that can be given several times take its
// values from one word per flag: `--threshold A --threshold B`, never `--threshold A B`. CLI11
// lets a vector option keep taking words, so `run --threshold 'e2e: p95 < 2s' scenario.json
// --env test` took the scenario as a second threshold. Call after every subcommand is added.
void one_value_per_flag(CLI::App& app);

// The shells `wslat completions` knows.
const std::vector<std::string>& completion_shells();

}  // namespace wslat::cli
