#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "error.hpp"
#include "profile.hpp"
#include "scenario.hpp"

using namespace std::chrono_literals;

namespace {

// A fake process environment, so tests never depend on the machine's variables.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::optional<std::string> operator()(const std::string& name) const {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }
};

wslat::ProfileChoice choose(const FakeEnv& env, std::optional<std::string> cli = std::nullopt,
                            bool conservative = false,
                            const wslat::Scenario& scenario = wslat::Scenario()) {
  return wslat::choose_profile(cli, conservative, scenario, env);
}

}  // namespace

TEST_CASE("builtin profiles follow the README's Profiles table") {
  struct Row {
    const char* name;
    double multiplier, margin;
  };
  for (const Row r :
       {Row{"production", 1.0, 0.2}, Row{"staging", 0.7, 0.1}, Row{"development", 0.5, 0.0},
        Row{"local", 0.3, 0.0}, Row{"test", 0.3, 0.0}}) {
    const wslat::Profile p = wslat::builtin_profile(r.name);
    CAPTURE(r.name);
    CHECK(p.name == r.name);
    CHECK(p.multiplier == doctest::Approx(r.multiplier));
    CHECK(p.margin == doctest::Approx(r.margin));
    CHECK_FALSE(p.conservative);
  }
}

TEST_CASE("aliases and case map to canonical names") {
  CHECK(wslat::canonical_profile_name("prod") == "production");
  CHECK(wslat::canonical_profile_name("stage") == "staging");
  CHECK(wslat::canonical_profile_name("dev") == "development");
  CHECK(wslat::canonical_profile_name("Production") == "production");
  CHECK(wslat::canonical_profile_name("local") == "local");
  CHECK_FALSE(wslat::canonical_profile_name("qa").has_value());
  CHECK_FALSE(wslat::canonical_profile_name("").has_value());
}

TEST_CASE("detection order: --env, WSLAT_ENV, ENVIRONMENT, CI, local") {
  FakeEnv env{{{"WSLAT_ENV", "staging"}, {"ENVIRONMENT", "development"}, {"CI", "true"}}};
  auto c = choose(env, std::string("prod"));
  CHECK(c.profile.name == "production");
  CHECK(c.profile.source == "--env");

  c = choose(env);
  CHECK(c.profile.name == "staging");
  CHECK(c.profile.source == "WSLAT_ENV");

  env.vars.erase("WSLAT_ENV");
  c = choose(env);
  CHECK(c.profile.name == "development");
  CHECK(c.profile.source == "ENVIRONMENT");

  env.vars.erase("ENVIRONMENT");
  c = choose(env);
  CHECK(c.profile.name == "test");
  CHECK(c.profile.source == "CI");

  env.vars.erase("CI");
  c = choose(env);
  CHECK(c.profile.name == "local");
  CHECK(c.profile.source == "default");
  CHECK(c.warnings.empty());
}

TEST_CASE("an unknown --env is a usage error listing the profiles") {
  CHECK_THROWS_WITH_AS(choose(FakeEnv{}, std::string("qa")),
                       doctest::Contains("production (prod), staging (stage)"), wslat::UsageError);
}

TEST_CASE("an unknown name in WSLAT_ENV or ENVIRONMENT warns and detection goes on") {
  const auto c = choose(FakeEnv{{{"WSLAT_ENV", "qa"}, {"ENVIRONMENT", "Prod"}}});
  CHECK(c.profile.name == "production");
  CHECK(c.profile.source == "ENVIRONMENT");
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].find("WSLAT_ENV=\"qa\"") != std::string::npos);

  const auto both = choose(FakeEnv{{{"WSLAT_ENV", "qa"}, {"ENVIRONMENT", "uat"}, {"CI", "1"}}});
  CHECK(both.profile.name == "test");
  CHECK(both.warnings.size() == 2);
}

TEST_CASE("an empty variable or CI=false does not count as set") {
  const auto c = choose(FakeEnv{{{"WSLAT_ENV", ""}, {"CI", "false"}}});
  CHECK(c.profile.name == "local");
  CHECK(c.warnings.empty());
}

TEST_CASE("--conservative and WSLAT_FORCE_CONSERVATIVE force production budgets") {
  const auto cli = choose(FakeEnv{}, std::string("dev"), true);
  CHECK(cli.profile.name == "production");
  CHECK(cli.profile.multiplier == 1.0);
  CHECK(cli.profile.margin == doctest::Approx(0.2));
  CHECK(cli.profile.conservative);
  CHECK(cli.profile.source.find("--conservative") != std::string::npos);
  CHECK(cli.profile.source.find("development") != std::string::npos);

  for (const char* on : {"true", "TRUE", "1", "yes", "Yes"}) {
    CAPTURE(on);
    const auto c = choose(FakeEnv{{{"WSLAT_FORCE_CONSERVATIVE", on}, {"CI", "1"}}});
    CHECK(c.profile.conservative);
    CHECK(c.profile.name == "production");
    CHECK(c.profile.source.find("WSLAT_FORCE_CONSERVATIVE") != std::string::npos);
  }
  for (const char* off : {"false", "0", "no", ""}) {
    CAPTURE(off);
    const auto c = choose(FakeEnv{{{"WSLAT_FORCE_CONSERVATIVE", off}}});
    CHECK_FALSE(c.profile.conservative);
    CHECK(c.warnings.empty());
  }
  const auto odd = choose(FakeEnv{{{"WSLAT_FORCE_CONSERVATIVE", "maybe"}}});
  CHECK_FALSE(odd.profile.conservative);
  CHECK(odd.warnings.size() == 1);
}

TEST_CASE("scenario environment overrides apply to the chosen profile, not when conservative") {
  wslat::Scenario s;
  s.environments["staging"].multiplier = 0.8;
  s.environments["dev"].margin = 0.5;
  const auto staging = choose(FakeEnv{}, std::string("stage"), false, s);
  CHECK(staging.profile.multiplier == doctest::Approx(0.8));
  CHECK(staging.profile.margin == doctest::Approx(0.1));
  const auto dev = choose(FakeEnv{{{"ENVIRONMENT", "development"}}}, std::nullopt, false, s);
  CHECK(dev.profile.multiplier == doctest::Approx(0.5));
  CHECK(dev.profile.margin == doctest::Approx(0.5));
  const auto local = choose(FakeEnv{}, std::nullopt, false, s);
  CHECK(local.profile.multiplier == doctest::Approx(0.3));
  const auto forced = choose(FakeEnv{}, std::string("staging"), true, s);
  CHECK(forced.profile.multiplier == 1.0);
}

TEST_CASE("thresholds scale by the multiplier, timeouts also by the margin") {
  const wslat::Profile prod = wslat::builtin_profile("production");
  const wslat::Profile local = wslat::builtin_profile("local");
  const wslat::Profile staging = wslat::builtin_profile("staging");
  CHECK(wslat::scale_threshold(3s, prod) == 3s);
  CHECK(wslat::scale_threshold(3s, local) == 900ms);
  wslat::Timeouts written;
  written.message = 10s;
  CHECK(wslat::plan_timeouts(written, staging).effective.message == 7700ms);
  CHECK(wslat::plan_timeouts(written, local).effective.message == 3s);
  const wslat::TimeoutPlan plan = wslat::plan_timeouts(wslat::Timeouts(), prod);
  const wslat::Timeouts& t = plan.effective;
  CHECK(t.connect == 6s);
  CHECK(t.handshake == 6s);
  CHECK(t.message == 6s);
  CHECK(t.close == 2400ms);
  CHECK(plan.written.close == 2s);
}

TEST_CASE(
    "timeout plan: a step's within scales by the same rule; the message timeout is its "
    "default; messages say where the factor came from") {
  wslat::Profile prod = wslat::builtin_profile("production");
  prod.source = "--env";
  const wslat::TimeoutPlan plan = wslat::plan_timeouts(wslat::Timeouts(), prod);
  CHECK(plan.factor == doctest::Approx(1.2));
  const wslat::ScaledTimeout within = plan.wait(500ms);
  CHECK(within.written == 500ms);
  CHECK(within.effective == 600ms);
  const wslat::ScaledTimeout fallback = plan.wait(std::nullopt);
  CHECK(fallback.written == 5s);
  CHECK(fallback.effective == 6s);
  CHECK(plan.describe(within) == "600ms (500ms × 1.2, profile production, chosen by --env)");
  // Saturates instead of overflowing (a within near the largest duration).
  CHECK(plan.wait(wslat::Duration::max()).effective == wslat::Duration::max());

  const wslat::TimeoutPlan same = wslat::unscaled_timeouts(wslat::Timeouts());
  CHECK(same.note.empty());
  CHECK(same.describe(same.wait(500ms)) == "500ms");
  wslat::Profile dev = wslat::builtin_profile("development");
  dev.multiplier = 1.0;  // a scenario override that leaves timeouts as written
  CHECK(wslat::plan_timeouts(wslat::Timeouts(), dev).note.empty());
}

TEST_CASE("profile_target: the override's target for the chosen profile, never when conservative") {
  wslat::Scenario s;
  s.target = "ws://written.example/ws";
  s.environments["staging"].target = "ws://staging.example/ws";
  s.environments["dev"].multiplier = 0.8;  // an alias key, as a hand-built scenario may have
  s.environments["dev"].target = "ws://dev.example/ws";
  const auto staging = choose(FakeEnv{}, std::string("stage"), false, s).profile;
  CHECK(wslat::profile_target(s, staging) == "ws://staging.example/ws");
  const auto dev = choose(FakeEnv{}, std::string("development"), false, s).profile;
  CHECK(dev.multiplier == doctest::Approx(0.8));
  CHECK(wslat::profile_target(s, dev) == "ws://dev.example/ws");  // same lookup as the override
  CHECK_FALSE(wslat::profile_target(s, choose(FakeEnv{}, std::string("local"), false, s).profile));
  CHECK_FALSE(wslat::profile_target(s, choose(FakeEnv{}, std::string("stage"), true, s).profile));
}
