// `wslat validate SCENARIO`: lint a scenario and show what it means under the chosen profile:
// effective thresholds and timeouts, and the worst case a user could wait before a step gives
// up (the incident's 85 s was such a sum of individually "reasonable" timeouts).
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "commands.hpp"
#include "error.hpp"
#include "profile.hpp"
#include "redact.hpp"
#include "scenario.hpp"
#include "threshold.hpp"
#include "units.hpp"

namespace wslat::cli {
namespace {

struct ValidateOptions {
  std::string path;
  std::string env;  // empty: detect
  bool conservative = false;
};

std::string describe_load(const Load& load) {
  if (!load.open_model()) {
    return fmt::format("{} connection{}, {} at once", load.connections,
                       load.connections == 1 ? "" : "s", load.concurrency);
  }
  std::string out;
  if (load.rate) out = "arrivals at " + format_rate(*load.rate);
  if (load.duration) out += " for " + format_duration(*load.duration);
  for (std::size_t i = 0; i < load.stages.size(); ++i) {
    out +=
        fmt::format("{}{} → {}", i == 0 ? (out.empty() ? "stages " : ", then stages ") : ", ",
                    format_duration(load.stages[i].duration), format_rate(load.stages[i].target));
  }
  return out + fmt::format(" (at most {} at once)", load.max_concurrency);
}

// The role mix: which connections run which steps, and the rooms.
void print_roles(const Scenario& s) {
  if (s.roles.empty() && !s.has_rooms()) return;
  std::int64_t sum = 0;
  for (const Role& r : s.roles) sum += r.count;
  const std::int64_t cycle = s.room_size > 0 ? s.room_size : sum;
  if (s.room_size > 0) {
    const std::int64_t n = s.load.open_model() ? 0 : s.load.connections;
    fmt::print("rooms      {} connections each (connection i is in room i / {}, ${{room}}){}\n",
               s.room_size, s.room_size,
               n > 0 ? fmt::format("; {} connections: {} room(s), the last {}", n,
                                   (n + s.room_size - 1) / s.room_size,
                                   n % s.room_size == 0 ? "full" : "partial")
                     : "");
  }
  if (s.rooms_by) {
    fmt::print(
        "rooms      by \"{}\": connections with the same value share a room (${{room}} is "
        "the value)\n",
        s.rooms_by->text);
  }
  // With "by", a member's slot is its position in its room.
  const char* slot_of = s.rooms_by ? "position in room" : "i";
  std::int64_t first = 0;
  for (const Role& r : s.roles) {
    fmt::print(
        "role       {}: {} of every {} (slots {}..{} of {} % {}), {} steps after unrolling\n",
        r.name, r.count, cycle, first, first + r.count - 1, slot_of, cycle,
        flatten(r.steps).size());
    first += r.count;
  }
}

void print_summary(const Scenario& s, const Profile& p) {
  // A profile override may point the scenario elsewhere (not under --conservative).
  const auto custom = profile_target(s, p);
  const std::string written = custom.value_or(s.target);
  const std::string origin = custom ? " (from environments." + p.name + ")" : "";
  const std::string target = written.empty() || written == "embedded"
                                 ? "embedded (in-process server on loopback)"
                                 : redact(written, s.secrets);
  fmt::print("scenario   {} ({})\n", s.name, s.file);
  fmt::print("target     {}{}\n", target, origin);
  if (s.roles.empty()) {
    fmt::print("steps      {} ({} after unrolling repeats, connect included)\n", s.steps.size(),
               flatten(s.steps).size());
  }
  print_roles(s);
  fmt::print("load       {}\n", describe_load(s.load));
  if (s.data) {
    static constexpr const char* kOrders[] = {"sequential", "random", "unique"};
    const std::size_t rows = s.data->table->rows.size();
    fmt::print(
        "data       {}: {} row{}, {} order{}\n", s.data->path, rows, rows == 1 ? "" : "s",
        kOrders[static_cast<int>(s.data->order)],
        s.data->order == DataFeed::Order::kRandom ? fmt::format(" (seed {})", s.data->seed) : "");
  }
  fmt::print("profile    {}: thresholds ×{}, timeouts ×{} × (1 + {}%) (chosen by {})\n", p.name,
             p.multiplier, p.multiplier, p.margin * 100.0, p.source);
}

// Prints the thresholds and returns the effective perceived limit (p95 preferred).
std::optional<Duration> print_thresholds(const Scenario& s, const Profile& p) {
  fmt::print("\nthresholds (as written → effective{})\n",
             s.thresholds_defaulted ? "; the defaults, the file has none" : "");
  std::optional<Duration> perceived;
  bool perceived_is_p95 = false;
  for (const auto& spec : s.thresholds) {
    const Threshold t = parse_threshold(spec.metric, spec.expr, spec.pointer);
    std::string effective = "unchanged (not a duration)";
    if (t.kind == Threshold::Kind::kLatency) {
      const Duration limit = scale_threshold(t.limit, p);
      effective = fmt::format("{} {}", op_text(t.op), format_duration(limit));
      const bool upper = t.op == Threshold::Op::kLess || t.op == Threshold::Op::kLessEqual;
      if (t.metric == "perceived" && upper &&
          (!perceived || (!perceived_is_p95 && t.stat == "p95"))) {
        perceived = limit;
        perceived_is_p95 = t.stat == "p95";
      }
    }
    fmt::print("  {:<14} {:<18} → {}\n", spec.metric, spec.expr, effective);
  }
  if (s.thresholds.empty()) fmt::print("  (none: \"thresholds\" is empty)\n");
  return perceived;
}

void print_timeouts(const TimeoutPlan& t) {
  fmt::print("\ntimeouts (as written → effective{})\n", t.note.empty() ? "" : ": " + t.note);
  for (const TimeoutField& f : kTimeoutFields) {
    fmt::print("  {:<14} {:<18} → {}\n", f.name, format_duration(t.written.*f.field),
               format_duration(t.effective.*f.field));
  }
}

TimeoutBudget print_budget(const Scenario& s, const TimeoutPlan& timeouts) {
  TimeoutBudget budget = worst_case_budget(s, timeouts);
  const std::string& note = timeouts.note;
  fmt::print("\nworst-case timeout budget (every step waits until its timeout{})\n",
             note.empty() ? "" : "; scaled " + note);
  for (const auto& item : budget.items) {
    fmt::print("  {:<28} {:<30} {:>10}\n", item.pointer, item.what, format_duration(item.duration));
  }
  fmt::print("  {:<28} {:<30} {:>10}\n", "total", "", format_duration(budget.total));
  return budget;
}

int run_validate(const ValidateOptions& opts) {
  const EnvLookup env = process_env();
  const Scenario s = load_scenario(opts.path, env);
  check_data_rows(s, s.load);
  const std::optional<std::string> cli_env =
      opts.env.empty() ? std::nullopt : std::optional<std::string>(opts.env);
  const ProfileChoice choice = choose_profile(cli_env, opts.conservative, s, env);
  for (const auto& warning : choice.warnings) fmt::print(stderr, "warning: {}\n", warning);
  const Profile& p = choice.profile;

  print_summary(s, p);
  const auto perceived_threshold = print_thresholds(s, p);
  const TimeoutPlan timeouts = plan_timeouts(s.timeouts, p);
  print_timeouts(timeouts);
  const TimeoutBudget budget = print_budget(s, timeouts);

  const Duration perceived =
      perceived_threshold.value_or(scale_threshold(std::chrono::seconds(2), p));
  if (budget.total > perceived) {
    fmt::print(
        "\nwarning: worst-case timeout budget {} exceeds the perceived threshold {} ({}): "
        "a user could wait {:.0f}× the target before wslat reports a timeout; lower the "
        "timeouts and \"within\" values toward the target\n",
        format_duration(budget.total), format_duration(perceived),
        perceived_threshold && !s.thresholds_defaulted
            ? "the scenario's perceived threshold under " + p.name
            : "the default perceived p95 < 2s under " + p.name,
        to_ms(budget.total) / std::max(to_ms(perceived), 1e-9));
  }
  fmt::print("\n{}: valid\n", s.file);
  return exit_code::kPass;
}

}  // namespace

void add_validate(CLI::App& app, Action& action) {
  auto opts = std::make_shared<ValidateOptions>();
  auto* sub = app.add_subcommand(
      "validate",
      "Check a scenario file (every problem at once, with line:column) and print its effective "
      "thresholds, timeouts and worst-case timeout budget");
  sub->add_option("scenario", opts->path, "Scenario file (JSON)")->required();
  sub->add_option("--env", opts->env,
                  "Environment profile: production (prod), staging (stage), development (dev), "
                  "local, test");
  sub->add_flag("--conservative", opts->conservative,
                "Use production budgets whatever the environment (the emergency switch)");
  sub->callback([&action, opts] { action = [opts] { return run_validate(*opts); }; });
}

}  // namespace wslat::cli
