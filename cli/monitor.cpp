// `wslat monitor SCENARIO`: runs the scenario again and again (one probe every --every, with
// jitter), adds every probe up (lib/monitor.hpp) and serves the totals at /metrics in the
// Prometheus text format (lib/prometheus.hpp, docs/monitoring.md). A probe is a whole run of
// the scenario through the same pipeline as `wslat run` (run_scenario, assemble_result); a
// probe that cannot reach the target is a sample with its error categories, never an exit.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
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
#include "http_client.hpp"
#include "http_syntax.hpp"
#include "metrics_http.hpp"
#include "monitor.hpp"
#include "monitor_alerts.hpp"
#include "monitor_history.hpp"
#include "monitor_probe.hpp"
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
  std::string target;
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
  if (!a.target.empty() && a.target != "embedded") {
    std::string problem;
    if (!parse_ws_url(a.target, &problem)) {
      throw UsageError("--target: not a WebSocket URL: " + problem +
                       "; expected ws://HOST[:PORT]/PATH, wss://HOST[:PORT]/PATH or embedded");
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
  ctx.target = !a.target.empty() ? a.target
                                 : profile_target(scenario, ctx.profile).value_or(scenario.target);
  if (ctx.target.empty() || ctx.target == "embedded") {
    const nlohmann::json block =
        scenario.embedded.is_null() ? nlohmann::json::object() : scenario.embedded;
    embedded.emplace(server_options_from_json(block, scenario.file + ": /embedded"));
    embedded->start();
    ctx.target = embedded->url();
  }
  opts.target = ctx.target;

  std::mutex mutex;
  MonitorTotals totals;  // guarded by `mutex`: the endpoint's thread renders it
  ProbeHistory history;  // the dashboard's last hour, guarded by `mutex` too
  totals.total.scenario_name = scenario.name;
  totals.total.target = redact(ctx.target, scenario.secrets);
  totals.total.profile_name = ctx.profile.name;
  g_stop = false;
  install_signal_handlers();
  ProbeHandler probe_handler;
  if (!a.scenarios_dir.empty()) {
    probe_handler = [&a, &settings](const std::optional<std::string>& target,
                                    const std::optional<std::string>& name) {
      return serve_probe_request(a.scenarios_dir, settings, target, name);
    };
  }
  MetricsEndpoint endpoint(
      listen,
      [&] {
        const std::lock_guard<std::mutex> lock(mutex);
        return render_prometheus(totals.total, totals.stats);
      },
      probe_handler,
      [&](const std::string& path) -> std::optional<HttpReply> {
        if (path != "/" && path != "/api/samples") return std::nullopt;
        nlohmann::json samples;
        {
          const std::lock_guard<std::mutex> lock(mutex);
          samples = history.to_json(std::chrono::duration<double>(every).count());
          if (history.size() == 0) {  // before the first probe: who is being probed
            samples["scenario"] = totals.total.scenario_name;
            samples["target"] = totals.total.target;
            samples["profile"] = totals.total.profile_name;
          }
        }
        if (path == "/") return HttpReply{200, dashboard_page(samples), "text/html; charset=utf-8"};
        return HttpReply{200, samples.dump(), "application/json"};
      });
  // The first line on stdout names the address (with the port bound, for --listen HOST:0).
  print_stdout(fmt::format("wslat: metrics at {} (probing {} every {}{})\n", endpoint.url(),
                           scenario.name, format_duration(every),
                           for_duration ? " for " + format_duration(*for_duration) : ""));
  for (const auto& w : ctx.warnings) print_stderr(fmt::format("wslat: warning: {}\n", w));

  using std::chrono::steady_clock;
  std::optional<steady_clock::time_point> deadline;
  if (for_duration) deadline = steady_clock::now() + *for_duration;
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  while (!g_stop && (!deadline || steady_clock::now() < *deadline)) {
    const auto probe_start = steady_clock::now();
    const auto started = std::chrono::system_clock::now();
    ctx.started_at = utc_timestamp(started);
    RawRun raw = run_scenario(scenario, opts);
    if (raw.interrupted) break;  // a signal cut this probe short: not a sample
    RunResult probe = assemble_result(ctx, std::move(raw));
    if (baseline) {
      probe.comparison = compare_results(probe, *baseline, compare_opts, a.baseline);
      decide_verdict(probe);
    }
    {
      const std::lock_guard<std::mutex> lock(mutex);
      totals.add_probe(probe, unix_seconds(started));
      history.add(probe, unix_seconds(started));
      if (!a.quiet) print_stderr(describe_probe(totals, probe));
    }
    if (alerts) {
      const auto event =
          alerts->observe(probe_failure_reasons(probe), monotonic_seconds(), probe.started_at);
      if (event) {
        const AlertSubject subject{probe.scenario_name, probe.target, probe.profile_name, ctx.host};
        print_stderr(alert_summary(*event, subject) + "\n");  // even with -q
        const std::string problems = deliver_alert(delivery, *event, subject, probe);
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
  sub->add_option("--target", args->target, "ws:// or wss:// URL (overrides the scenario)");
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
