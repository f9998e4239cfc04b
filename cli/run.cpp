// `wslat run SCENARIO`: argument grammar, then the pipeline of lib/ (load, profile, run,
// assemble, compare, render, write).
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include <fmt/core.h>

#include "assemble.hpp"
#include "baseline.hpp"
#include "commands.hpp"
#include "error.hpp"
#include "http_syntax.hpp"
#include "output.hpp"
#include "profile.hpp"
#include "report.hpp"
#include "runner.hpp"
#include "server.hpp"
#include "store.hpp"

namespace wslat::cli {
namespace {

struct RunArgs {
  std::string scenario;
  std::string target;
  std::optional<std::string> env;
  bool conservative = false;
  std::optional<std::int64_t> connections, concurrency, max_concurrency;
  std::string rate, duration;
  int threads = 0;
  int source_addresses = 0;
  std::vector<std::string> headers;
  bool insecure = false;
  std::string ca;
  std::string baseline, save_baseline;
  GateArgs gate;
  std::string results_dir = "results";
  bool no_save = false;
  std::string shard;
  std::vector<std::string> threshold_flags;
  bool quiet = false;
  OutputArgs output;
};

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
  if (g_stop.exchange(true)) _exit(exit_code::kInterrupted);  // second signal: leave at once
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// The message names the header but never quotes its value (it may be a token).
std::pair<std::string, std::string> parse_header_flag(const std::string& flag) {
  const auto colon = flag.find(':');
  if (colon == std::string::npos || colon == 0) {
    throw UsageError(std::string("--header: ") +
                     (colon == 0 ? "the name before ':' is empty" : "no ':' in the argument") +
                     ": expected 'Name: value', e.g. --header 'X-Trace: 1'");
  }
  std::string name = flag.substr(0, colon);
  if (const auto why = header_name_problem(name)) {
    throw UsageError("--header " + quote_escaped(name) + ": not a valid header name: " + *why);
  }
  std::string value = flag.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  if (const auto why = header_value_problem(value)) {
    throw UsageError("--header " + quote_escaped(name) + ": " + *why);
  }
  return {std::move(name), std::move(value)};
}

// --target is checked as the scenario's "target" is, before anything runs. The URL is not
// quoted back: it may carry a token in its query.
void check_target_flag(const std::string& target) {
  if (target.empty() || target == "embedded") return;
  std::string problem;
  if (!parse_ws_url(target, &problem)) {
    throw UsageError("--target: not a WebSocket URL: " + problem +
                     "; expected ws://HOST[:PORT]/PATH, wss://HOST[:PORT]/PATH or embedded");
  }
}

// Load overrides from the command line: --rate/--duration switch to the open model.
Load effective_load(const Scenario& s, const RunArgs& a) {
  Load load = s.load;
  if (a.connections) load.connections = *a.connections;
  if (a.concurrency) load.concurrency = *a.concurrency;
  if (a.max_concurrency) load.max_concurrency = *a.max_concurrency;
  if (!a.rate.empty()) {
    load.rate = parse_rate_or_throw(a.rate, "--rate");
    load.stages.clear();
  }
  if (!a.duration.empty()) load.duration = parse_duration_or_throw(a.duration, "--duration");
  if (load.rate && !load.duration) {
    throw UsageError("--rate needs a duration: add --duration (e.g. --duration 30s) or "
                     "\"duration\" under \"load\" in the scenario");
  }
  if (load.connections < 1 || load.concurrency < 1 || load.max_concurrency < 1) {
    throw UsageError("--connections, --concurrency and --max-concurrency must be at least 1");
  }
  return load;
}

std::string resolve_target(const Scenario& s, const Profile& p, const RunArgs& a) {
  if (!a.target.empty()) return a.target;
  const auto o = s.environments.find(p.name);
  if (!p.conservative && o != s.environments.end() && o->second.target) return *o->second.target;
  return s.target;
}

// One descriptor per live connection (two when the embedded server runs in-process), plus
// headroom. Raises the soft limit up to the hard limit; if even the hard limit is too low, a
// closed-model run fails before starting and an open-model run lowers max_concurrency.
void ensure_fd_limit(Load& load, bool embedded, std::vector<std::string>& warnings) {
  const std::int64_t per_connection = embedded ? 2 : 1;
  const std::int64_t live = load.open_model() ? load.max_concurrency : load.concurrency;
  const auto needed = static_cast<rlim_t>(live * per_connection + 64);
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= needed) return;
  rlimit raised = lim;
  raised.rlim_cur = needed;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < needed) raised.rlim_max = needed;
  // Raising the hard limit needs privileges (root may); otherwise settle for the hard limit.
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = lim;
    raised.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &raised);
  }
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur >= needed) return;
  const auto fit = static_cast<std::int64_t>((lim.rlim_cur > 64 ? lim.rlim_cur - 64 : 1)) /
                   per_connection;
  if (!load.open_model()) {
    throw RunError(fmt::format(
        "{} concurrent connections need about {} file descriptors, but this process may open "
        "only {} (hard limit): raise it (ulimit -n {} as root, LimitNOFILE= for a service, "
        "--ulimit nofile= for a container) or lower --concurrency to {}",
        live, needed, lim.rlim_cur, needed, fit));
  }
  load.max_concurrency = std::max<std::int64_t>(1, fit);
  warnings.push_back(fmt::format(
      "max_concurrency lowered from {} to {}: the file descriptor limit is {} (raise ulimit -n "
      "to keep more connections open)", live, load.max_concurrency, lim.rlim_cur));
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

void print_progress(const RunOptions::Progress& p, bool tty) {
  const std::string where =
      p.total > 0 ? fmt::format("{}/{} connections", p.done, p.total)
                  : fmt::format("{:.1f}s/{:.1f}s", p.elapsed_s, p.duration_s);
  const std::string line =
      fmt::format("wslat: {} · {:.1f}/s · {} errors · p95 handshake {}", where, p.achieved_rate,
                  p.errors, format_ms(p.live_p95_handshake_ms));
  if (tty) {
    fmt::print(stderr, "\r\033[2K{}", line);
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
}

struct Progress {
  bool enabled = false;
  bool tty = false;
  bool printed = false;
  double last_plain_s = -10;

  void operator()(const RunOptions::Progress& p) {
    if (!enabled || p.elapsed_s < 1.0) return;  // only runs lasting more than a second
    if (!tty && p.elapsed_s - last_plain_s < 5.0) return;
    last_plain_s = p.elapsed_s;
    printed = true;
    print_progress(p, tty);
  }
  void finish() const {
    if (printed && tty) fmt::print(stderr, "\r\033[2K");
  }
};

// The baseline to compare with, loaded before anything runs (a bad file fails fast).
std::optional<std::pair<std::string, RunResult>> load_baseline(const RunArgs& a,
                                                               const Scenario& s,
                                                               const Profile& p,
                                                               std::vector<std::string>& warnings) {
  if (a.baseline.empty()) return std::nullopt;
  std::string path = a.baseline;
  if (path == "auto") {
    path = baseline_path(a.results_dir, s.name, p.name);
    if (::access(path.c_str(), F_OK) != 0) {
      warnings.push_back("no baseline yet at " + path +
                         ": record one with --save-baseline auto; nothing was compared");
      return std::nullopt;
    }
  }
  RunResult base = load_result_file(path);
  if (base.scenario_sha256 != s.sha256 && !a.gate.force) {
    // compare_results says the same after the run; saying it now saves the run.
    CompareOptions probe;
    RunResult current;
    current.scenario_name = s.name;
    current.scenario_sha256 = s.sha256;
    compare_results(current, base, probe, path);
  }
  return std::make_pair(path, std::move(base));
}

int run_command(const RunArgs& a) {
  parse_report_format(a.output.format);  // a typo fails now, not after the run
  check_target_flag(a.target);
  const Scenario scenario = load_scenario(a.scenario, process_env());
  ProfileChoice choice = choose_profile(a.env, a.conservative, scenario, process_env());
  const Profile& profile = choice.profile;

  std::vector<ThresholdSpec> flags;
  for (const auto& f : a.threshold_flags) flags.push_back(parse_threshold_flag(f));
  RunContext ctx;
  ctx.scenario = &scenario;
  ctx.profile = profile;
  ctx.thresholds = merge_thresholds(applicable_thresholds(scenario), flags);
  ctx.timeouts = effective_timeouts(scenario.timeouts, profile);
  ctx.warnings = choice.warnings;
  for (const auto& h : a.headers) ctx.extra_headers.push_back(parse_header_flag(h));

  RunOptions opts;
  opts.timeouts = ctx.timeouts;
  opts.timeout_scale = profile.multiplier * (1.0 + profile.margin);
  opts.load = effective_load(scenario, a);
  if (!a.shard.empty()) {
    opts.shard = parse_shard(a.shard);
    ctx.shard = a.shard;
  }
  opts.threads = a.threads > 0 ? a.threads
                               : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  opts.source_addresses = a.source_addresses;
  opts.insecure = a.insecure;
  opts.ca_file = a.ca;
  opts.extra_headers = ctx.extra_headers;
  const CompareOptions compare_opts = compare_options(a.gate);

  // Everything that could stop us from keeping the result is checked before connecting.
  const std::string save_baseline = a.save_baseline == "auto"
                                        ? baseline_path(a.results_dir, scenario.name, profile.name)
                                        : a.save_baseline;
  std::vector<std::string> outputs = a.output.export_paths();
  if (!save_baseline.empty()) outputs.push_back(save_baseline);
  for (const auto& path : outputs) check_writable_file(path);
  if (!a.no_save) check_writable_dir(a.results_dir + "/runs/" + safe_file_name(scenario.name));
  auto baseline = load_baseline(a, scenario, profile, ctx.warnings);

  std::optional<EmbeddedServer> embedded;
  ctx.target = resolve_target(scenario, profile, a);
  if (ctx.target.empty() || ctx.target == "embedded") {
    const nlohmann::json block =
        scenario.embedded.is_null() ? nlohmann::json::object() : scenario.embedded;
    embedded.emplace(server_options_from_json(block, scenario.file + ": /embedded"));
    embedded->start();
    ctx.target = embedded->url();
  }
  opts.target = ctx.target;
  ensure_fd_limit(opts.load, embedded.has_value(), ctx.warnings);

  Progress progress;
  progress.enabled = !a.quiet;
  progress.tty = isatty(STDERR_FILENO) != 0;
  opts.on_progress = [&progress](const RunOptions::Progress& p) { progress(p); };
  g_stop = false;
  install_signal_handlers();
  opts.stop_requested = &g_stop;
  ctx.started_at = utc_timestamp(std::chrono::system_clock::now());
  ctx.host = host_name();
  RawRun raw = run_scenario(scenario, opts);
  progress.finish();
  if (embedded) embedded->stop();

  RunResult result = assemble_result(ctx, std::move(raw));
  if (baseline) {
    result.comparison = compare_results(result, baseline->second, compare_opts, baseline->first);
    decide_verdict(result);
  }
  write_outputs(result, a.output);
  const std::string stored = render_json(result);
  if (!save_baseline.empty()) {
    // A partial or failed run would make every later comparison meaningless.
    if (result.interrupted || result.opened == 0) {
      fmt::print(stderr, "wslat: warning: not saving the baseline {}: the run was {}\n",
                 save_baseline, result.interrupted ? "interrupted" : "unable to open any connection");
    } else {
      write_file_atomic(save_baseline, stored);
    }
  }
  if (!a.no_save) {
    write_file_atomic(run_result_path(a.results_dir, scenario.name, result.started_at), stored);
  }
  return result.exit_code;
}

}  // namespace

void add_run(CLI::App& app, Action& action) {
  auto args = std::make_shared<RunArgs>();
  auto* sub = app.add_subcommand("run", "Run a scenario, print a report, exit with the verdict");
  sub->add_option("scenario", args->scenario, "Scenario file (JSON)")->required();
  sub->add_option("--target", args->target, "ws:// or wss:// URL (overrides the scenario)");
  sub->add_option("--env", args->env, "Profile: production|staging|development|local|test");
  sub->add_flag("--conservative", args->conservative, "Force production budgets");
  sub->add_option("--connections", args->connections, "Closed model: connections in total");
  sub->add_option("--concurrency", args->concurrency, "Closed model: connections at once");
  sub->add_option("--rate", args->rate, "Open model: arrival rate, e.g. 20/s");
  sub->add_option("--duration", args->duration, "Open model: how long to keep the rate, e.g. 30s");
  sub->add_option("--max-concurrency", args->max_concurrency, "Open model: live connections cap");
  sub->add_option("--threads", args->threads, "Worker threads (default: cores)");
  sub->add_option("--source-addresses", args->source_addresses,
                  "Spread connections over 127.0.0.1..N (loopback targets; default: as needed "
                  "beyond ~20k connections)");
  sub->add_option("--header", args->headers, "Extra request header 'Name: value' (repeatable)");
  sub->add_flag("--insecure", args->insecure, "Do not verify TLS certificates");
  sub->add_option("--ca", args->ca, "Trust the CA certificates in this PEM file");
  sub->add_option("--baseline", args->baseline, "Compare with this baseline file, or 'auto'");
  sub->add_option("--save-baseline", args->save_baseline, "Save the result as a baseline ('auto')");
  add_gate_options(*sub, args->gate);
  sub->add_option("--results-dir", args->results_dir, "Results folder (default results)");
  sub->add_flag("--no-save", args->no_save, "Do not store the run under the results folder");
  sub->add_option("--shard", args->shard, "Run the I-th of N equal parts of the load: I/N");
  sub->add_option("--threshold", args->threshold_flags, "'METRIC: EXPR' (repeatable)");
  sub->add_flag("--quiet,-q", args->quiet, "No progress line");
  add_output_options(*sub, args->output);
  sub->callback([args, &action] { action = [args] { return run_command(*args); }; });
}

}  // namespace wslat::cli
