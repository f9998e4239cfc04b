#include "profile.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "error.hpp"
#include "scenario.hpp"
#include "units.hpp"

namespace wslat {
namespace {

struct Builtin {
  const char* name;
  const char* alias;  // "" when none
  double multiplier;
  double margin;
};

// The README's Profiles table: scenario durations are written for production.
constexpr std::array<Builtin, 5> kProfiles{{{"production", "prod", 1.0, 0.20},
                                            {"staging", "stage", 0.7, 0.10},
                                            {"development", "dev", 0.5, 0.0},
                                            {"local", "", 0.3, 0.0},
                                            {"test", "", 0.3, 0.0}}};

constexpr const char* kAcceptedNames =
    "production (prod), staging (stage), development (dev), local, test";

std::string normalized(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) == 0) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

bool is_set(const std::optional<std::string>& v) { return v.has_value() && !v->empty(); }

// Detected profile before the conservative switch and scenario overrides.
Profile detect(const std::optional<std::string>& cli_env,
               const std::function<std::optional<std::string>(const std::string&)>& env,
               std::vector<std::string>& warnings) {
  if (cli_env) {
    const auto name = canonical_profile_name(*cli_env);
    if (!name) {
      throw UsageError(
          fmt::format("--env: \"{}\" is not a known environment profile; use one of: {}", *cli_env,
                      kAcceptedNames));
    }
    Profile p = builtin_profile(*name);
    p.source = "--env";
    return p;
  }
  for (const char* variable : {"WSLAT_ENV", "ENVIRONMENT"}) {
    const auto value = env(variable);
    if (!is_set(value)) continue;
    if (const auto name = canonical_profile_name(*value)) {
      Profile p = builtin_profile(*name);
      p.source = variable;
      return p;
    }
    // Other tools set these variables too: a foreign value must not stop the run.
    warnings.push_back(fmt::format("{}=\"{}\" is not a wslat profile ({}); ignored", variable,
                                   *value, kAcceptedNames));
  }
  const auto ci = env("CI");
  // CI=false / CI=0 is how people switch CI detection off.
  if (is_set(ci) && normalized(*ci) != "false" && normalized(*ci) != "0") {
    Profile p = builtin_profile("test");
    p.source = "CI";
    return p;
  }
  Profile p = builtin_profile("local");
  p.source = "default";
  return p;
}

// WSLAT_FORCE_CONSERVATIVE: true/1/yes switch it on, false/0/no/empty leave it off.
bool forced_by_env(const std::function<std::optional<std::string>(const std::string&)>& env,
                   std::vector<std::string>& warnings) {
  const auto value = env("WSLAT_FORCE_CONSERVATIVE");
  if (!is_set(value)) return false;
  const std::string v = normalized(*value);
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v != "false" && v != "0" && v != "no") {
    warnings.push_back(fmt::format(
        "WSLAT_FORCE_CONSERVATIVE=\"{}\" is not true/1/yes or false/0/no; treated as false",
        *value));
  }
  return false;
}

// The scenario's override for a profile (keys are canonical once parsed; aliases work too).
const ProfileOverride* override_for(const Scenario& scenario, const std::string& name) {
  for (const auto& [key, custom] : scenario.environments) {
    if (canonical_profile_name(key) == name) return &custom;
  }
  return nullptr;
}

void apply_overrides(Profile& p, const Scenario& scenario) {
  const ProfileOverride* custom = override_for(scenario, p.name);
  if (custom == nullptr) return;
  if (custom->multiplier) p.multiplier = *custom->multiplier;
  if (custom->margin) p.margin = *custom->margin;
}

}  // namespace

std::optional<std::string> canonical_profile_name(const std::string& name) {
  const std::string n = normalized(name);
  for (const Builtin& b : kProfiles) {
    if (n == b.name || (*b.alias != '\0' && n == b.alias)) return std::string(b.name);
  }
  return std::nullopt;
}

Profile builtin_profile(const std::string& canonical_name) {
  for (const Builtin& b : kProfiles) {
    if (canonical_name == b.name) return Profile{b.name, b.multiplier, b.margin, false, ""};
  }
  throw std::invalid_argument("builtin_profile: unknown profile " + canonical_name);
}

ProfileChoice choose_profile(
    const std::optional<std::string>& cli_env, bool cli_conservative, const Scenario& scenario,
    const std::function<std::optional<std::string>(const std::string&)>& env) {
  ProfileChoice choice;
  Profile detected = detect(cli_env, env, choice.warnings);
  const bool forced_env = forced_by_env(env, choice.warnings);
  if (!cli_conservative && !forced_env) {
    apply_overrides(detected, scenario);
    choice.profile = detected;
    return choice;
  }
  // The emergency switch: production budgets whatever was detected, no scenario overrides.
  choice.profile = builtin_profile("production");
  choice.profile.conservative = true;
  choice.profile.source = fmt::format(
      "{} (detected: {} from {})", cli_conservative ? "--conservative" : "WSLAT_FORCE_CONSERVATIVE",
      detected.name, detected.source);
  return choice;
}

std::optional<std::string> profile_target(const Scenario& scenario, const Profile& p) {
  const ProfileOverride* custom = p.conservative ? nullptr : override_for(scenario, p.name);
  return custom == nullptr ? std::nullopt : custom->target;
}

Duration scale_threshold(Duration d, const Profile& p) { return scale_duration(d, p.multiplier); }

TimeoutPlan plan_timeouts(const Timeouts& written, const Profile& p) {
  const double factor = p.multiplier * (1.0 + p.margin);
  std::string note;
  if (factor != 1.0) {
    note = fmt::format("× {:g}, profile {}, chosen by {}", factor, p.name,
                       p.source.empty() ? "default" : p.source);
  }
  return scaled_timeouts(written, factor, std::move(note));
}

}  // namespace wslat
