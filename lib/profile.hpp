// Environment profiles: scenario durations are written for production; a profile scales
// thresholds by `multiplier` and timeouts by multiplier * (1 + margin).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "timeouts.hpp"

namespace wslat {

struct Scenario;

struct Profile {
  std::string name;  // canonical: production, staging, development, local, test
  double multiplier = 1.0;
  double margin = 0.0;
  bool conservative = false;  // forced to production budgets by --conservative / env
  std::string source;  // how it was chosen: "--env", "WSLAT_ENV", "ENVIRONMENT", "CI", "default"
};

// Canonical name for a name or alias (prod, stage, dev), or nullopt when unknown.
std::optional<std::string> canonical_profile_name(const std::string& name);
// The built-in numbers of a canonical profile.
Profile builtin_profile(const std::string& canonical_name);

struct ProfileChoice {
  Profile profile;
  std::vector<std::string> warnings;  // e.g. unknown name in WSLAT_ENV, skipped
};

// Detection order: --env (unknown -> UsageError), WSLAT_ENV, ENVIRONMENT (unknown -> warning,
// go on), "test" when CI is set (non-empty), else "local". `conservative` (from
// --conservative) or WSLAT_FORCE_CONSERVATIVE=true forces production numbers, keeping the
// detected name visible in `source`. Scenario overrides under "environments" apply last
// (not when conservative).
ProfileChoice choose_profile(
    const std::optional<std::string>& cli_env, bool cli_conservative, const Scenario& scenario,
    const std::function<std::optional<std::string>(const std::string&)>& env);

// The target the scenario's override for this profile names (environments.<name>.target);
// nullopt when it names none, and always under --conservative (production budgets, as written).
std::optional<std::string> profile_target(const Scenario& scenario, const Profile& p);

Duration scale_threshold(Duration d, const Profile& p);  // d * multiplier

// The one rule for timeouts: every timeout, and every step's own `within`, × multiplier ×
// (1 + margin), with a note saying where that came from for every message that shows one
// ("× 0.3, profile local, chosen by default"). Built once per run; `validate` and `run` read it.
TimeoutPlan plan_timeouts(const Timeouts& written, const Profile& p);

}  // namespace wslat
