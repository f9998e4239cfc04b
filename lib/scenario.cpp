// Scenario files: read, parse with located errors, check (scenario_check.cpp and the files it
// names), and the default thresholds. docs/design.md maps where each part lives.
#include "scenario.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/core.h>

#include "digest.hpp"
#include "json_text.hpp"
#include "metrics.hpp"
#include "scenario_check.hpp"

namespace wslat {
namespace {

using nlohmann::json;
using scenario_detail::line_column;

std::string sha256_hex(const std::string& bytes) {
  std::string out;
  for (const unsigned char b : sha256(bytes)) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& file, const EnvLookup& env) {
  json doc;
  try {
    doc = parse_json_bounded(text);
  } catch (const JsonTooDeep& e) {
    const auto [line, column] = line_column(text, e.offset());
    throw ScenarioError({{file, line, column, "", std::string("invalid JSON: ") + e.what()}});
  } catch (const json::parse_error& e) {
    throw ScenarioError({scenario_detail::syntax_issue(text, file, e)});
  } catch (const json::out_of_range& e) {
    // e.g. 1e999 (found by fuzzing)
    throw ScenarioError({scenario_detail::overflow_issue(text, file, e)});
  }
  Scenario s = scenario_detail::Checker(text, file, env).check(doc);
  s.sha256 = sha256_hex(text);
  return s;
}

Scenario load_scenario(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UsageError(fmt::format("cannot read scenario file {}: {}", path, std::strerror(errno)));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return parse_scenario(bytes.str(), path, env);
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::vector<ThresholdSpec> default_thresholds() {
  std::vector<ThresholdSpec> out;
  for (const MetricDef& m : kMetricRegistry) {
    if (m.default_threshold.empty()) continue;
    out.push_back({std::string(m.name), std::string(m.default_threshold), "default"});
  }
  return out;
}

std::vector<const std::vector<Step>*> Scenario::step_lists() const {
  if (roles.empty()) return {&steps};
  std::vector<const std::vector<Step>*> out;
  for (const Role& r : roles) out.push_back(&r.steps);
  return out;
}

RoomsBy::Place RoomsBy::place(std::int64_t connection) const {
  if (connection < 0) return {};
  const std::lock_guard<std::mutex> lock(mu_);
  while (static_cast<std::int64_t>(places_.size()) <= connection) {
    TemplateContext ctx;
    ctx.connection = static_cast<std::int64_t>(places_.size());
    ctx.row = data ? data->row(ctx.connection) : nullptr;
    std::string key;
    try {
      key = expand(by, ctx);
    } catch (const TemplateError&) {  // a ":number" data value that is not one
      key = expand_shown(by);
    }
    const auto [it, added] = ids_.emplace(std::move(key), static_cast<std::int64_t>(names_.size()));
    if (added) {
      names_.push_back(it->first);
      sizes_.push_back(0);
    }
    const auto room = static_cast<std::size_t>(it->second);
    places_.push_back({it->second, sizes_[room]++});
  }
  return places_[static_cast<std::size_t>(connection)];
}

std::string RoomsBy::name(std::int64_t room) const {
  const std::lock_guard<std::mutex> lock(mu_);
  return room >= 0 && static_cast<std::size_t>(room) < names_.size()
             ? names_[static_cast<std::size_t>(room)]
             : std::string();
}

std::size_t Scenario::role_of(std::int64_t connection) const {
  if (roles.empty()) return 0;
  std::int64_t sum = 0;
  for (const Role& r : roles) sum += r.count;
  const std::int64_t cycle = room_size > 0 ? room_size : sum;
  if (cycle <= 0) return 0;  // counts are at least 1 (checked): only a hand-built Scenario
  std::int64_t slot = (rooms_by ? rooms_by->place(connection).position : connection) % cycle;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (slot < roles[i].count) return i;
    slot -= roles[i].count;
  }
  return roles.size() - 1;
}

}  // namespace wslat
