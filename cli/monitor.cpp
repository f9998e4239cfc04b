// `wslat monitor SCENARIO`: runs the scenario again and again (one probe every --every, with
// jitter), adds every probe up (lib/monitor.hpp) and serves the totals at /metrics in the
// Prometheus text format (lib/prometheus.hpp, docs/monitoring.md). A probe is a whole run of
// the scenario through the same pipeline as `wslat run` (run_scenario, assemble_result); a
// probe that cannot reach the target is a sample with its error categories, never an exit.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <fmt/core.h>

#include "alerts.hpp"
#include "assemble.hpp"
#include "baseline.hpp"
#include "commands.hpp"
#include "dashboard.hpp"
#include "error.hpp"
#include "event_stream.hpp"
#include "http_client.hpp"
#include "http_syntax.hpp"
#include "metrics_http.hpp"
#include "monitor.hpp"
#include "monitor_alerts.hpp"
#include "monitor_history.hpp"
#include "monitor_probe.hpp"
#include "monitor_window.hpp"
#include "output.hpp"
#include "profile.hpp"
#include "redact.hpp"
#include "report.hpp"
#include "results_dir.hpp"
#include "runner.hpp"
#include "server.hpp"
#include "store.hpp"

namespace wslat::cli {
namespace {

struct MonitorArgs {
  std::string scenario;
  std::vector<std::string> targets;
  std::string window = "5m";
  std::optional<std::string> env;
  bool conservative = false;
  std::string every = "30s";
  std::string jitter = "10%";
  std::string for_duration;
  std::string listen = "127.0.0.1:9469";
  bool allow_remote = false;
  bool save = false;
  std::string results_dir = "results";
  std::vector<std::string> threshold_flags;
  bool insecure = false;
  std::string ca;
  bool quiet = false;
  std::string baseline;
  std::string scenarios_dir;
  std::int64_t alert_after = 3;
  bool alert_after_given = false;
  std::string alert_min_interval = "5m";
  std::string webhook;
  std::string alert_command;
  std::int64_t live_clients = 8;
};

std::atomic<bool> g_stop{false};

extern "C" void on_monitor_signal(int /*signo*/) {
  if (g_stop.exchange(true)) _exit(exit_code::kInterrupted);  // second signal: leave at once
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_monitor_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
}

// "10%" -> 0.10; from 0% to 100% (100%: a pause anywhere from 0 to twice --every).
double parse_jitter(const std::string& text) {
  const std::string usage =
      "--jitter " + text + ": expected a percentage from 0% to 100%, e.g. --jitter 10%";
  if (text.size() < 2 || text.back() != '%') throw UsageError(usage);
  const std::string number = text.substr(0, text.size() - 1);
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !(v >= 0 && v <= 100)) throw UsageError(usage);
  return v / 100.0;
}

Duration positive_duration(const std::string& text, const char* flag) {
  const Duration d = parse_duration_or_throw(text, flag);
  if (d <= Duration::zero()) {
    throw UsageError(fmt::format("{} {}: must be longer than 0, e.g. 30s", flag, text));
  }
  return d;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

double unix_seconds(std::chrono::system_clock::time_point t) {
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()) /
         1e3;
}

// Waits until `until`, `deadline` or a signal, whichever comes first, in short slices (a signal
// handler can only set a flag).
void pause_until(std::chrono::steady_clock::time_point until,
                 std::optional<std::chrono::steady_clock::time_point> deadline) {
  using std::chrono::steady_clock;
  if (deadline && *deadline < until) until = *deadline;
  while (!g_stop && steady_clock::now() < until) {
    const auto left = until - steady_clock::now();
    std::this_thread::sleep_for(
        std::min<steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
}

std::string describe_probe(const MonitorTotals& t, const RunResult& probe) {
  std::string s = fmt::format("wslat: probe {}: {} of {} connections opened", t.stats.probes,
                              probe.opened, probe.attempted);
  if (probe.failed > 0) {
    std::string categories;
    for (const auto& [category, count] : probe.errors) {
      categories += fmt::format("{}{} {}", categories.empty() ? "" : ", ", count, category);
    }
    s += fmt::format(", {} failed ({})", probe.failed, categories);
  }
  const auto hs = probe.metrics.find("handshake");
  if (hs != probe.metrics.end()) {
    s += ", handshake p50 " +
         format_ms(static_cast<double>(hs->second.histogram.value_at_percentile(50)) / 1e6);
  }
  const auto breached = std::count_if(probe.thresholds.begin(), probe.thresholds.end(),
                                      [](const ThresholdOutcome& o) { return !o.pass; });
  if (breached > 0) s += fmt::format(", {} threshold(s) breached", breached);
  return s + "\n";
}

// --alert-after, --alert-min-interval, --webhook, --alert-command: checked before anything runs.
std::optional<AlertTracker> alert_tracker(const MonitorArgs& a) {
  const bool deliver = !a.webhook.empty() || !a.alert_command.empty();
  if (!deliver) {
    if (a.alert_after_given) {
      throw UsageError(
          "--alert-after: alerts need somewhere to go: add --webhook URL and/or --alert-command "
          "CMD");
    }
    return std::nullopt;
  }
  if (a.alert_after < 1 || a.alert_after > 1'000'000) {
    throw UsageError(fmt::format(
        "--alert-after {}: expected a number of probes from 1 to 1000000, e.g. --alert-after 3",
        a.alert_after));
  }
  const Duration interval =  // "0": no rate limit (a bare 0 needs no unit)
      a.alert_min_interval == "0"
          ? Duration::zero()
          : parse_duration_or_throw(a.alert_min_interval, "--alert-min-interval");
  if (interval < Duration::zero()) {
    throw UsageError("--alert-min-interval " + a.alert_min_interval + ": must not be negative");
  }
  if (!a.webhook.empty()) {
    const std::string problem = http_url_problem(a.webhook);
    if (!problem.empty()) {
      throw UsageError("--webhook: " + problem + ", e.g. --webhook http://127.0.0.1:9000/hook");
    }
  }
  return AlertTracker(a.alert_after, std::chrono::duration<double>(interval).count());
}

constexpr std::size_t kMaxTargets = 64;

struct TargetState {
  explicit TargetState(double window_s) : window(window_s) {}
  RunContext ctx;
  RunOptions opts;
  std::string shown;  // the URL with the scenario's secrets redacted: label and ?target=
  MonitorTotals totals;
  ProbeHistory history;
  RollingWindow window;
  std::optional<AlertTracker> alerts;
};

// /api/samples "window": the rolling window's p50/p95 per phase, in ms.
nlohmann::json window_json(const RollingWindow& w) {
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& [name, p] : w.phases()) {
    phases[name] = {{"count", p.count}, {"p50_ms", p.p50_s * 1e3}, {"p95_ms", p.p95_s * 1e3}};
  }
  return {{"seconds", w.window_s()},
          {"probes", w.probes()},
          {"failed_probes", w.failed_probes()},
          {"phases", phases}};
}

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int monitor_command(const MonitorArgs& a) {
  survive_closed_streams();
  std::optional<AlertTracker> alerts = alert_tracker(a);
  const AlertDelivery delivery{a.webhook, a.alert_command};
  const Duration every = positive_duration(a.every, "--every");
  const double jitter = parse_jitter(a.jitter);
  std::optional<Duration> for_duration;
  if (!a.for_duration.empty()) for_duration = positive_duration(a.for_duration, "--for");
  const ListenAddress listen = parse_listen_address(a.listen, a.allow_remote);
  if (a.live_clients < 1 || a.live_clients > 16) {
    throw UsageError(fmt::format(
        "--live-clients {}: expected from 1 to 16 (the listener serves 32 connections at once, "
        "and scrapes need some), e.g. --live-clients 8",
        a.live_clients));
  }
  const double window_s =
      std::chrono::duration<double>(positive_duration(a.window, "--window")).count();
  if (a.targets.size() > kMaxTargets) {
    throw UsageError(
        fmt::format("--target: {} targets; one monitor probes at most {} (run more "
                    "monitors, or scrape /probe with --scenarios)",
                    a.targets.size(), kMaxTargets));
  }
  for (std::size_t i = 0; i < a.targets.size(); ++i) {
    const std::string& t = a.targets[i];
    if (t == "embedded" && a.targets.size() > 1) {
      throw UsageError("--target embedded: only as the one target of a monitor");
    }
    if (t != "embedded") {
      std::string problem;
      if (!parse_ws_url(t, &problem)) {
        throw UsageError(
            fmt::format("--target {}: not a WebSocket URL: {}; expected ws://HOST[:PORT]/PATH, "
                        "wss://HOST[:PORT]/PATH or embedded",
                        t, problem));
      }
    }
    if (std::find(a.targets.begin(), a.targets.begin() + static_cast<std::ptrdiff_t>(i), t) !=
        a.targets.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw UsageError("--target " + t + ": given twice; name each target once");
    }
  }

  const Scenario scenario = load_scenario(a.scenario, process_env());
  ProbeSettings settings;
  settings.env = a.env;
  settings.conservative = a.conservative;
  settings.threshold_flags = a.threshold_flags;
  settings.insecure = a.insecure;
  settings.ca = a.ca;
  settings.host = host_name();
  settings.stop_requested = &g_stop;
  ProbePlan plan = plan_probe(scenario, settings);
  RunContext& ctx = plan.ctx;
  RunOptions& opts = plan.opts;
  if (!a.scenarios_dir.empty()) {
    struct stat st {};
    if (::stat(a.scenarios_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw UsageError("--scenarios " + a.scenarios_dir +
                       ": not a folder; name the folder whose scenario files /probe may run");
    }
  }
  const std::string runs_dir = a.results_dir + "/runs/" + safe_file_name(scenario.name);
  // --baseline: every probe is compared with it (the regression gate of `wslat run`); a
  // baseline of another scenario fails now, as it would in `wslat run`.
  std::optional<RunResult> baseline;
  const CompareOptions compare_opts;
  if (!a.baseline.empty()) {
    baseline = load_result_file(a.baseline);
    RunResult stub;
    stub.scenario_name = scenario.name;
    stub.scenario_sha256 = scenario.sha256;
    compare_results(stub, *baseline, compare_opts, a.baseline);
  }
  if (a.save) check_writable_dir(runs_dir);

  std::optional<EmbeddedServer> embedded;
  std::vector<std::string> urls = a.targets;
  if (urls.empty()) {
    urls.push_back(profile_target(scenario, ctx.profile).value_or(scenario.target));
  }
  if (urls.size() == 1 && (urls[0].empty() || urls[0] == "embedded")) {
    const nlohmann::json block =
        scenario.embedded.is_null() ? nlohmann::json::object() : scenario.embedded;
    embedded.emplace(server_options_from_json(block, scenario.file + ": /embedded"));
    embedded->start();
    urls[0] = embedded->url();
  }

  std::mutex mutex;
  // One per target, probed in turn; each its own totals (rendered with a target label), history
  // (the dashboard's last hour), rolling window and alert episode. Guarded by `mutex`: the
  // endpoint's threads read them.
  std::vector<TargetState> states;
  states.reserve(urls.size());
  for (const auto& url : urls) {
    TargetState& t = states.emplace_back(window_s);
    t.ctx = ctx;
    t.opts = opts;
    t.ctx.target = url;
    t.opts.target = url;
    t.shown = redact(url, scenario.secrets);
    t.totals.total.scenario_name = scenario.name;
    t.totals.total.target = t.shown;
    t.totals.total.profile_name = ctx.profile.name;
    t.alerts = alerts;
  }
  // The state whose dashboard is asked for (?target=, as shown): the first when not given.
  const auto state_of = [&](const std::optional<std::string>& target) -> const TargetState* {
    if (!target || target->empty()) return &states.front();
    for (const auto& t : states) {
      if (t.shown == *target) return &t;
    }
    return nullptr;
  };
  g_stop = false;
  install_signal_handlers();
  ProbeHandler probe_handler;
  if (!a.scenarios_dir.empty()) {
    probe_handler = [&a, &settings](const std::optional<std::string>& target,
                                    const std::optional<std::string>& name) {
      return serve_probe_request(a.scenarios_dir, settings, target, name);
    };
  }
  const double every_s = std::chrono::duration<double>(every).count();
  // What /api/samples?target= has: the page's state, and the first event of every live client.
  // Called with `mutex` held.
  const auto samples_json = [&](const TargetState& t, std::size_t newest) {
    nlohmann::json samples = t.history.to_json(every_s, newest);
    if (t.history.size() == 0) {  // before the first probe: who is being probed
      samples["scenario"] = t.totals.total.scenario_name;
      samples["target"] = t.totals.total.target;
      samples["profile"] = t.totals.total.profile_name;
    }
    samples["targets"] = nlohmann::json::array();
    for (const auto& other : states) samples["targets"].push_back(other.shown);
    samples["window"] = window_json(t.window);
    return samples;
  };
  // nullopt: no such target.
  const auto samples_of =
      [&](const std::optional<std::string>& target) -> std::optional<nlohmann::json> {
    const std::lock_guard<std::mutex> lock(mutex);
    const TargetState* t = state_of(target);
    if (t == nullptr) return std::nullopt;
    return samples_json(*t, std::numeric_limits<std::size_t>::max());
  };
  // Declared before the endpoint, which closes it when it stops.
  EventStream events(static_cast<std::size_t>(a.live_clients), [&](const std::string& target) {
    auto j = samples_of(target);
    if (!j) j = samples_of(std::nullopt);
    return j->dump();
  });
  MetricsEndpoint endpoint(
      listen,
      [&] {
        const std::lock_guard<std::mutex> lock(mutex);
        std::vector<std::string> parts;
        parts.reserve(states.size());
        for (const auto& t : states) {
          parts.push_back(render_prometheus(t.totals.total, t.totals.stats, &t.window));
        }
        return merge_prometheus_expositions(parts);
      },
      probe_handler,
      [&](const std::string& path,
          const std::optional<std::string>& target) -> std::optional<HttpReply> {
        if (path != "/" && path != "/api/samples") return std::nullopt;
        const auto found = samples_of(target);
        if (!found) {
          return HttpReply{404,
                           "no such target: " + *target + " (see \"targets\" in /api/samples)\n",
                           "text/plain"};
        }
        const nlohmann::json& samples = *found;
        if (path == "/") return HttpReply{200, dashboard_page(samples), "text/html; charset=utf-8"};
        return HttpReply{200, samples.dump(), "application/json"};
      },
      &events);
  // The first line on stdout names the address (with the port bound, for --listen HOST:0).
  print_stdout(fmt::format(
      "wslat: metrics at {} (probing {}{} every {}{})\n", endpoint.url(), scenario.name,
      states.size() > 1 ? fmt::format(" at {} targets", states.size()) : "", format_duration(every),
      for_duration ? " for " + format_duration(*for_duration) : ""));
  for (const auto& w : ctx.warnings) print_stderr(fmt::format("wslat: warning: {}\n", w));

  using std::chrono::steady_clock;
  std::optional<steady_clock::time_point> deadline;
  if (for_duration) deadline = steady_clock::now() + *for_duration;
  std::mt19937_64 rng(std::random_device{}());
  const auto probe_target = [&](TargetState& t) {
    const auto started = std::chrono::system_clock::now();
    t.ctx.started_at = utc_timestamp(started);
    RawRun raw = run_scenario(scenario, t.opts);
    if (raw.interrupted) return;  // a signal cut this probe short: not a sample
    RunResult probe = assemble_result(t.ctx, std::move(raw));
    if (baseline) {
      probe.comparison = compare_results(probe, *baseline, compare_opts, a.baseline);
      decide_verdict(probe);
    }
    std::string event;
    {
      const std::lock_guard<std::mutex> lock(mutex);
      t.totals.add_probe(probe, unix_seconds(started));
      t.history.add(probe, unix_seconds(started));
      t.window.add(probe, unix_seconds(started));
      if (!a.quiet) {
        print_stderr((states.size() > 1 ? "[" + t.shown + "] " : std::string()) +
                     describe_probe(t.totals, probe));
      }
      event = samples_json(t, 1).dump();
    }
    events.publish("probe", event);  // the live dashboards' update: this probe only
    if (t.alerts) {
      const auto alert =
          t.alerts->observe(probe_failure_reasons(probe), monotonic_seconds(), probe.started_at);
      if (alert) {
        const AlertSubject subject{probe.scenario_name, probe.target, probe.profile_name, ctx.host};
        print_stderr(alert_summary(*alert, subject) + "\n");  // even with -q
        const std::string problems = deliver_alert(delivery, *alert, subject, probe);
        if (!problems.empty()) print_stderr("wslat: warning: " + problems + "\n");
      }
    }
    if (a.save) {
      try {
        write_run_file(a.results_dir, probe.scenario_name, probe.started_at, render_json(probe));
      } catch (const Error& e) {  // the monitor goes on; the next probe tries again
        print_stderr(fmt::format("wslat: warning: probe not saved: {}\n", e.what()));
      }
    }
  };
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  while (!g_stop && (!deadline || steady_clock::now() < *deadline)) {
    const auto probe_start = steady_clock::now();
    // Every target once, in turn: one probe each.
    for (auto& t : states) {
      if (g_stop || (deadline && steady_clock::now() >= *deadline)) break;
      probe_target(t);
    }
    pause_until(probe_start + jittered_interval(every, jitter, uniform(rng)), deadline);
  }
  if (embedded) embedded->stop();
  return exit_code::kPass;
}

}  // namespace

void add_monitor(CLI::App& app, Action& action) {
  auto args = std::make_shared<MonitorArgs>();
  auto* sub = app.add_subcommand(
      "monitor", "Probe a scenario repeatedly and serve Prometheus metrics at /metrics");
  sub->add_option("scenario", args->scenario, "Scenario file (JSON)")->required();
  // One URL per --target (a vector option would otherwise also take the scenario after it).
  sub->add_option("--target", args->targets,
                  "ws:// or wss:// URL (overrides the scenario); repeat to probe several in turn")
      ->allow_extra_args(false);
  sub->add_option("--window", args->window,
                  "Rolling window of the p50/p95 gauges and the dashboard's summary, e.g. 5m")
      ->capture_default_str();
  sub->add_option("--env", args->env, "Profile: production|staging|development|local|test");
  sub->add_flag("--conservative", args->conservative, "Force production budgets");
  sub->add_option("--every", args->every, "Start a probe this often, e.g. 30s")
      ->capture_default_str();
  sub->add_option("--jitter", args->jitter, "Vary each pause by up to this much, e.g. 10%")
      ->capture_default_str();
  sub->add_option("--for", args->for_duration, "Stop after this long, e.g. 10m (default: never)");
  sub->add_option("--listen", args->listen, "Serve /metrics on HOST:PORT (port 0: any free one)")
      ->capture_default_str();
  sub->add_flag("--allow-remote", args->allow_remote,
                "Allow a --listen address that is not loopback");
  sub->add_flag("--save", args->save, "Store every probe under the results folder");
  auto* results_dir = sub->add_option("--results-dir", args->results_dir, kResultsDirHelp);
  sub->add_option("--threshold", args->threshold_flags, "'METRIC: EXPR' (repeatable)");
  sub->add_flag("--insecure", args->insecure, "Do not verify TLS certificates");
  sub->add_option("--ca", args->ca, "Trust the CA certificates in this PEM file");
  sub->add_flag("--quiet,-q", args->quiet, "No line per probe on stderr");
  sub->add_option("--scenarios", args->scenarios_dir,
                  "Serve /probe?target=URL&scenario=NAME for the scenario files of this folder");
  sub->add_option("--baseline", args->baseline,
                  "Compare every probe with this result file (a regression fails the probe)");
  auto* after = sub->add_option("--alert-after", args->alert_after,
                                "Alert after this many failing probes in a row (default 3)");
  sub->add_option("--alert-min-interval", args->alert_min_interval,
                  "At most one alert this often, e.g. 5m (recoveries are never held back)")
      ->capture_default_str();
  sub->add_option("--live-clients", args->live_clients,
                  "Dashboards served live updates at once (/api/events), from 1 to 16")
      ->capture_default_str();
  sub->add_option("--webhook", args->webhook, "POST alerts (JSON) to this http(s) URL");
  sub->add_option("--alert-command", args->alert_command,
                  "Run this shell command on each alert (WSLAT_ALERT_* in its environment)");
  sub->callback([args, results_dir, after, &action] {
    args->alert_after_given = after->count() > 0;
    action = [args, results_dir] {
      if (results_dir->count() == 0) args->results_dir = default_results_dir().path;
      return monitor_command(*args);
    };
  });
}

}  // namespace wslat::cli
