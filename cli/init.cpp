// `wslat init URL [FILE]`: a commented starter scenario for a service, never written over an
// existing file.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "error.hpp"
#include "http_syntax.hpp"
#include "output.hpp"
#include "scenario.hpp"
#include "store.hpp"

namespace wslat::cli {
namespace {

struct InitArgs {
  std::string url;
  std::string file = "scenario.json";
};

// The scenario's name from the host: letters, digits, '.', '_' and '-' kept, others '-'.
std::string name_from_host(const std::string& host) {
  std::string name;
  for (const char c : host) {
    const bool keep =
        std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
    name += keep ? c : '-';
  }
  return name.empty() ? "starter" : name;
}

// As the shipped examples are laid out: one line per key, per step, per description line.
std::string layout(const nlohmann::ordered_json& s) {
  std::string out = "{\n";
  std::size_t i = 0;
  for (const auto& [key, value] : s.items()) {
    out += fmt::format("  {}: ", nlohmann::json(key).dump());
    if (value.is_array() && !value.empty()) {
      out += "[\n";
      for (std::size_t j = 0; j < value.size(); ++j) {
        out += "    " + value[j].dump() + (j + 1 < value.size() ? ",\n" : "\n");
      }
      out += "  ]";
    } else {
      out += value.dump();
    }
    out += ++i < s.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

// Comments go in "description", the one key the format ignores.
std::string starter_scenario(const std::string& url, const std::string& host) {
  nlohmann::ordered_json s;
  s["name"] = name_from_host(host);
  s["description"] = {
      "Written by `wslat init`. Check it with `wslat validate FILE`, run it with `wslat run "
      "FILE`; the format is in docs/scenario-format.md (installed: /usr/share/doc/wslat).",
      "steps: open the connection, wait for the server's first message (its welcome; remove "
      "that expect if your service sends none), send one request, wait for the reply, close.",
      "Change the request and the reply's matcher (text, json subset, regex or any) to what "
      "your service speaks; mark 'ready' ends the perceived latency.",
      "thresholds: wslat's defaults, written out; profiles (--env) scale them."};
  s["target"] = url;
  s["load"] = {{"connections", 1}, {"concurrency", 1}};
  s["steps"] = nlohmann::ordered_json::array(
      {{{"connect", nlohmann::ordered_json::object()}},
       {{"expect", {{"any", true}, {"within", "2s"}, {"mark", "ready"}}}},
       {{"send", {{"text", "hello"}}}},
       {{"expect", {{"text", "hello"}, {"within", "1s"}}}},
       {{"close", {{"code", 1000}}}}});
  nlohmann::ordered_json thresholds = nlohmann::ordered_json::object();
  for (const auto& t : default_thresholds()) thresholds[t.metric].push_back(t.expr);
  s["thresholds"] = thresholds;
  return layout(s);
}

// Written to a temporary file, then linked to its name: link() fails when the name exists, so
// an existing file is never replaced, even one created meanwhile, and nothing is half-written.
void write_new_file(const std::string& path, const std::string& content) {
  if (::access(path.c_str(), F_OK) == 0) {
    throw UsageError(
        fmt::format("{} already exists: wslat init never overwrites a file; give "
                    "another name (wslat init URL FILE) or remove it",
                    path));
  }
  const std::string tmp = fmt::format("{}.init-{}.tmp", path, ::getpid());
  write_file_atomic(tmp, content);
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0) {
    if (err == EEXIST) {
      throw UsageError(fmt::format("{} already exists: wslat init never overwrites a file", path));
    }
    throw RunError(fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
}

int run_init(const InitArgs& a) {
  std::string problem;
  const auto url = parse_ws_url(a.url, &problem);
  if (!url) {
    throw UsageError("init: not a WebSocket URL: " + problem +
                     "; expected ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH");
  }
  write_new_file(a.file, starter_scenario(a.url, url->host));
  print_stdout(
      fmt::format("wrote {}: check it with `wslat validate {}`, run it with `wslat run "
                  "{}`\n",
                  a.file, a.file, a.file));
  return exit_code::kPass;
}

}  // namespace

void add_init(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand(
      "init", "Write a commented starter scenario for a WebSocket URL (never overwrites a file)");
  auto args = std::make_shared<InitArgs>();
  sub->add_option("URL", args->url, "ws:// or wss:// URL of the service")->required();
  sub->add_option("FILE", args->file, "Scenario file to create")->capture_default_str();
  sub->callback([args, &action] { action = [args] { return run_init(*args); }; });
}

}  // namespace wslat::cli
