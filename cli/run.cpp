// `wslat run SCENARIO`: argument grammar, then the pipeline of lib/ (load, profile, run,
// assemble, compare, render, write).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/core.h>

#include "assemble.hpp"
#include "baseline.hpp"
#include "commands.hpp"
#include "connections.hpp"
#include "cpus.hpp"
#include "error.hpp"
#include "http_syntax.hpp"
#include "live.hpp"
#include "output.hpp"
#include "profile.hpp"
#include "pushgateway.hpp"
#include "redact.hpp"
#include "report.hpp"
#include "results_dir.hpp"
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
  // Kept as written, so that an out-of-range value is quoted as given (CLI11 saturates it).
  std::optional<std::string> connections, concurrency, max_concurrency;
  std::string rate, duration;
  std::optional<std::string> threads;
  int source_addresses = 0;
  std::int64_t trace = 0;
  std::vector<std::string> headers;
  bool insecure = false;
  bool deflate = false;
  std::string ca;
  std::string cert, key, sni, tls_min;
  std::string proxy;
  std::string baseline, save_baseline;
  std::string push;  // --push: a Pushgateway (cli/pushgateway.hpp)
  // --export-csv / --export-ndjson: per-connection records (lib/connections.hpp)
  std::string export_csv, export_ndjson;
  GateArgs gate;
  std::string results_dir = "results";
  bool results_dir_fallback = false;  // not given, and the current folder is not writable
  bool no_save = false;
  std::string shard;
  std::vector<std::string> threshold_flags;
  bool quiet = false;
  OutputArgs output;
};

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int /*signo*/) {
  if (g_stop.exchange(true)) _exit(exit_code::kInterrupted);  // second signal: leave at once
}

// Ctrl-C, kill, a dropped ssh session (SIGHUP) and Ctrl-\ or a CI cancel (SIGQUIT) all
// stop the run politely and keep what was measured.
void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
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
  if (const auto why = reserved_header_problem(name, value)) throw UsageError("--" + *why);
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

// The bounds the scenario file puts on its load block, so that a flag cannot ask for more.
constexpr std::int64_t kMaxConnections = 100'000'000;
constexpr std::int64_t kMaxConcurrency = 1'000'000;

// A count option: a whole number from 1 to `max`.
std::optional<std::int64_t> count_flag(const std::optional<std::string>& text, const char* flag,
                                       std::int64_t max) {
  if (!text) return std::nullopt;
  std::int64_t v = 0;
  const char* end = text->data() + text->size();
  const auto res = std::from_chars(text->data(), end, v);
  if (text->empty() || res.ec != std::errc() || res.ptr != end || v < 1 || v > max) {
    throw UsageError(fmt::format("{} {}: expected a whole number from 1 to {}", flag, *text, max));
  }
  return v;
}

// Load from the command line: options of one model replace the scenario's load block (values
// not given are kept when the scenario uses the same model); options of both models at once,
// or options that cannot apply, are errors, so that no option is ever silently ignored.
Load effective_load(const Scenario& s, const RunArgs& a) {
  const auto connections = count_flag(a.connections, "--connections", kMaxConnections);
  const auto concurrency = count_flag(a.concurrency, "--concurrency", kMaxConcurrency);
  const auto max_concurrency = count_flag(a.max_concurrency, "--max-concurrency", kMaxConcurrency);
  const bool closed = connections || concurrency;
  const bool open = !a.rate.empty() || !a.duration.empty() || max_concurrency;
  if (closed && open) {
    throw UsageError(
        "--connections/--concurrency (closed model) cannot be combined with "
        "--rate/--duration/--max-concurrency (open model): give the options of one model");
  }
  Load load = s.load;
  const Load defaults;
  if (closed) {
    if (load.open_model()) {
      if (!connections) {
        throw UsageError(
            "--concurrency: the scenario's load is open (rate or stages); add --connections N to "
            "run the closed model instead");
      }
      load = defaults;
    }
    if (connections) load.connections = *connections;
    if (concurrency) load.concurrency = *concurrency;
    return load;
  }
  if (!open) return load;
  const char* given = !a.duration.empty() ? "--duration" : "--max-concurrency";
  if (a.rate.empty()) {
    if (!load.open_model()) {
      throw UsageError(fmt::format(
          "{} belongs to the open model, but the scenario's load is closed (connections, "
          "concurrency): add --rate R (and --duration D) to run the open model",
          given));
    }
    if (!load.stages.empty() && !a.duration.empty()) {
      throw UsageError(
          "--duration: the scenario's load is made of stages, each with its own duration; give "
          "--rate R too to replace the stages by a constant rate, or edit the stages");
    }
  } else {
    const Load scenario = load;
    load = defaults;
    load.rate = parse_rate_or_throw(a.rate, "--rate");
    if (scenario.rate) load.duration = scenario.duration;  // a rate-based scenario's duration
    if (scenario.open_model()) load.max_concurrency = scenario.max_concurrency;
  }
  if (!a.duration.empty()) load.duration = parse_duration_or_throw(a.duration, "--duration");
  if (max_concurrency) load.max_concurrency = *max_concurrency;
  if (load.rate && !load.duration) {
    throw UsageError(
        "--rate needs a duration: add --duration (e.g. --duration 30s) or "
        "\"duration\" under \"load\" in the scenario");
  }
  return load;
}

int worker_threads(const std::optional<std::string>& text) {
  if (const auto n = count_flag(text, "--threads", kMaxWorkerThreads)) {
    return static_cast<int>(*n);
  }
  return default_threads();
}

// --target, else the profile's override, else the scenario's own.
std::string chosen_target(const Scenario& s, const Profile& p, const RunArgs& a) {
  if (!a.target.empty()) return a.target;
  return profile_target(s, p).value_or(s.target);
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
  const auto fit =
      static_cast<std::int64_t>((lim.rlim_cur > 64 ? lim.rlim_cur - 64 : 1)) / per_connection;
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
      "to keep more connections open)",
      live, load.max_concurrency, lim.rlim_cur));
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

void print_progress(const LiveSample& p, bool tty) {
  const std::string where = p.total > 0 ? fmt::format("{}/{} connections", p.done, p.total)
                                        : fmt::format("{:.1f}s/{:.1f}s", p.elapsed_s, p.duration_s);
  const std::string line = fmt::format("wslat: {} · {:.1f}/s · {} errors · p95 handshake {}", where,
                                       p.achieved_rate, p.failed, format_ms(p.p95_handshake_ms()));
  print_stderr(tty ? "\r\033[2K" + line : line + "\n");
}

// The progress line on stderr: on a terminal one line rewritten in place, else a line every 5 s;
// only for runs lasting more than a second, never for the final sample.
class ProgressLine : public LiveOutput {
 public:
  explicit ProgressLine(bool tty) : tty_(tty) {}
  void sample(const LiveSample& p) override {
    if (p.final || p.elapsed_s < 1.0) return;
    if (!tty_ && p.elapsed_s - last_plain_s_ < 5.0) return;
    last_plain_s_ = p.elapsed_s;
    printed_ = true;
    print_progress(p, tty_);
  }
  void finish() override {
    if (printed_ && tty_) print_stderr("\r\033[2K");
  }

 private:
  bool tty_;
  bool printed_ = false;
  double last_plain_s_ = -10;
};

// Every live output this run asked for (lib/live.hpp says how to add one).
LiveOutputs live_outputs(const RunArgs& a) {
  LiveOutputs outputs;
  if (!a.quiet) outputs.add(std::make_unique<ProgressLine>(isatty(STDERR_FILENO) != 0));
  return outputs;
}

// The baseline to compare with, loaded before anything runs (a bad file fails fast).
std::optional<std::pair<std::string, RunResult>> load_baseline(const RunArgs& a, const Scenario& s,
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

// Every file the run will write, checked before connecting: writable (user-named files in an
// existing directory), and room for all of them at their largest.
void check_outputs(const RunArgs& a, const std::string& save_baseline,
                   const std::string& runs_dir) {
  std::vector<PlannedFile> planned;
  for (const auto& [format, path] : a.output.exports) {
    if (path.empty()) continue;
    check_writable_file(path);
    planned.push_back({path, max_export_bytes(format)});
  }
  // Their size grows with the run: checked for writing only (opened before the run).
  for (const auto* path : {&a.export_csv, &a.export_ndjson}) {
    if (!path->empty()) check_writable_file(*path);
  }
  const std::uintmax_t result_bytes = max_export_bytes(ReportFormat::kJson);
  if (!save_baseline.empty()) {
    if (a.save_baseline == "auto") {
      check_writable_dir(std::filesystem::path(save_baseline).parent_path().string());
    } else {
      check_writable_file(save_baseline);
    }
    planned.push_back({save_baseline, result_bytes});
  }
  if (!a.no_save) {
    check_writable_dir(runs_dir);
    planned.push_back({runs_dir + "/run.json", result_bytes});
  }
  check_free_space(planned);
}

// Writes the baseline and stores the run even when an export failed, then reports every
// failure (exit 3). A closed stdout or stderr is only a warning: the verdict's code stands.
void store_result(const RunArgs& a, const RunResult& result, const std::string& save_baseline,
                  ConnectionExport* connections) {
  OutputWrites writes;
  writes.attempt([&] { write_outputs(result, a.output); });
  if (connections != nullptr) writes.attempt([&] { connections->commit(); });
  // Rendered only for a file that keeps it: with --no-save and no baseline, stdout's report is
  // the only rendering (a 300-connection run spent ~7.5 k instructions per connection on it).
  std::string stored;
  if (!save_baseline.empty() || !a.no_save) stored = render_json(result);
  if (!save_baseline.empty()) {
    // A partial or failed run would make every later comparison meaningless.
    if (result.interrupted || result.opened == 0) {
      print_stderr(
          fmt::format("wslat: warning: not saving the baseline {}: the run was {}\n", save_baseline,
                      result.interrupted ? "interrupted" : "unable to open any connection"));
    } else if (a.save_baseline == "auto") {
      writes.attempt([&] { write_file_atomic(save_baseline, stored); });
    } else {
      writes.attempt([&] { write_output_file(save_baseline, stored); });
    }
  }
  if (!a.no_save) {
    writes.attempt([&] {
      const std::string path =
          write_run_file(a.results_dir, result.scenario_name, result.started_at, stored);
      if (a.results_dir_fallback) {
        print_stderr(
            fmt::format("wslat: the current folder is not writable: stored the run in {}\n", path));
      }
    });
  }
  writes.finish();
}

// The context the result is assembled in: profile, thresholds (the scenario's, or the defaults
// it can reach, then --threshold), --header and the warnings so far.
RunContext plan_context(const RunArgs& a, const Scenario& scenario, const ProfileChoice& choice) {
  std::vector<ThresholdSpec> flags;
  for (const auto& f : a.threshold_flags) flags.push_back(parse_threshold_flag(f));
  RunContext ctx;
  ctx.scenario = &scenario;
  ctx.profile = choice.profile;
  ctx.thresholds = merge_thresholds(applicable_thresholds(scenario), flags);
  ctx.warnings = choice.warnings;
  for (const auto& h : a.headers) ctx.extra_headers.push_back(parse_header_flag(h));
  return ctx;
}

// What the runner needs but the target: effective timeouts and load, shard, threads, TLS and
// extra headers. The effective timeouts and the shard go into `ctx` too (the result shows them).
// The HTTP CONNECT proxy for `target`, as curl chooses one: --proxy (none: "none"), else
// https_proxy / HTTPS_PROXY for wss://, http_proxy for ws:// (not HTTP_PROXY, as curl), unless
// no_proxy / NO_PROXY lists the host ("*": every host; "example.com" or ".example.com": it
// and its subdomains). Loopback targets (localhost, 127.x, ::1) never use the environment's.
std::string choose_proxy(const std::string& flag, const std::string& target) {
  if (flag == "none") return {};
  if (!flag.empty()) return flag;
  const auto url = parse_ws_url(target, nullptr);
  if (!url) return {};
  const auto env = [](const char* name) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread
    return std::string(v == nullptr ? "" : v);
  };
  std::string host = url->host;
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0) return {};
  const char* variable = url->secure ? "https_proxy" : "http_proxy";
  std::string proxy = env(variable);
  if (proxy.empty() && url->secure) proxy = env(variable = "HTTPS_PROXY");
  if (proxy.empty()) return {};
  std::string no_proxy = env("no_proxy");
  if (no_proxy.empty()) no_proxy = env("NO_PROXY");
  std::size_t at = 0;
  while (at <= no_proxy.size()) {
    const std::size_t end = std::min(no_proxy.find(',', at), no_proxy.size());
    std::string entry = no_proxy.substr(at, end - at);
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    for (auto& c : entry) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    if (entry == "*" ||
        (!entry.empty() &&
         (host == entry || (host.size() > entry.size() &&
                            host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
                            host[host.size() - entry.size() - 1] == '.')))) {
      return {};
    }
    at = end + 1;
  }
  if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;  // curl's "host:port"
  // A proxy spoken to over TLS (curl's https:// proxy) is not implemented: said here, where
  // the variable's name is known (--proxy's is refused in plan_proxy).
  if (proxy.rfind("https://", 0) == 0) {
    throw UsageError(std::string(variable) + "=" + quote_escaped(redact(proxy, {})) +
                     ": https:// proxies (TLS to the proxy) are not supported; use http:// "
                     "(wss:// stays encrypted end to end through the CONNECT tunnel), or "
                     "--proxy none to connect directly");
  }
  return proxy;
}

RunOptions plan_run(const RunArgs& a, const Scenario& scenario, RunContext& ctx) {
  RunOptions opts;
  opts.timeouts = plan_timeouts(scenario.timeouts, ctx.profile);
  ctx.timeouts = opts.timeouts.effective;
  opts.load = effective_load(scenario, a);
  if (!a.shard.empty()) {
    opts.shard = parse_shard(a.shard);
    ctx.shard = a.shard;
  }
  opts.threads = worker_threads(a.threads);
  opts.source_addresses = a.source_addresses;
  opts.insecure = a.insecure;
  opts.permessage_deflate = a.deflate || scenario.permessage_deflate;
  if (!scenario.permessage_deflate_offer.empty()) {
    opts.deflate_offer = scenario.permessage_deflate_offer;
  }
  opts.trace_connections = a.trace;
  opts.ca_file = a.ca;
  // The flags override the scenario's "tls" block (a --cert/--key pair as a whole).
  const auto beside_scenario = [&scenario](const std::string& path) {
    if (path.empty() || path.front() == '/') return path;
    const auto slash = scenario.file.rfind('/');
    return slash == std::string::npos ? path : scenario.file.substr(0, slash + 1) + path;
  };
  const bool cert_flags = !a.cert.empty() || !a.key.empty();
  opts.cert_file = cert_flags ? a.cert : beside_scenario(scenario.tls.cert);
  opts.key_file = cert_flags ? a.key : beside_scenario(scenario.tls.key);
  opts.sni = a.sni.empty() ? scenario.tls.sni : a.sni;
  opts.tls_min = a.tls_min.empty() ? scenario.tls.min_version : a.tls_min;
  opts.extra_headers = ctx.extra_headers;
  return opts;
}

// Sets ctx.target to the URL to measure: the chosen target, or the embedded server started here
// (with the scenario's "embedded" block) when none is named.
void start_target(const RunArgs& a, const Scenario& scenario, RunContext& ctx,
                  std::optional<EmbeddedServer>& embedded) {
  ctx.target = chosen_target(scenario, ctx.profile, a);
  if (!ctx.target.empty() && ctx.target != "embedded") return;
  const nlohmann::json block =
      scenario.embedded.is_null() ? nlohmann::json::object() : scenario.embedded;
  embedded.emplace(server_options_from_json(block, scenario.file + ": /embedded"));
  embedded->start();
  ctx.target = embedded->url();
}

// Runs the scenario with its live outputs (the progress line) and the signal handlers (a signal
// stops the run politely); records when and where it started in `ctx`.
RawRun measure(const RunArgs& a, const Scenario& scenario, RunOptions opts, RunContext& ctx) {
  LiveOutputs live = live_outputs(a);
  // None (--quiet, no --push): no callback, so a run with one worker thread has nothing to do
  // beside it and runs on this thread (run_workers).
  if (!live.empty()) opts.on_progress = live.callback();
  g_stop = false;
  install_signal_handlers();
  opts.stop_requested = &g_stop;
  ctx.started_at = utc_timestamp(std::chrono::system_clock::now());
  ctx.host = host_name();
  RawRun raw = run_scenario(scenario, opts);
  live.finish();
  return raw;
}

int run_command(const RunArgs& a) {
  parse_report_format(a.output.format);  // a typo fails now, not after the run
  survive_closed_streams();
  check_target_flag(a.target);
  check_push_url(a.push);
  Scenario scenario = load_scenario(a.scenario, process_env());
  const ProfileChoice choice = choose_profile(a.env, a.conservative, scenario, process_env());
  const Profile& profile = choice.profile;
  RunContext ctx = plan_context(a, scenario, choice);
  RunOptions opts = plan_run(a, scenario, ctx);
  check_data_rows(scenario, opts.load);  // "unique" rows for every connection the flags plan
  const CompareOptions compare_opts = compare_options(a.gate);

  // Everything that could stop us from keeping the result is checked before connecting.
  const std::string save_baseline = a.save_baseline == "auto"
                                        ? baseline_path(a.results_dir, scenario.name, profile.name)
                                        : a.save_baseline;
  check_outputs(a, save_baseline, a.results_dir + "/runs/" + safe_file_name(scenario.name));
  auto baseline = load_baseline(a, scenario, profile, ctx.warnings);

  std::optional<EmbeddedServer> embedded;
  start_target(a, scenario, ctx, embedded);
  opts.target = ctx.target;
  opts.proxy = choose_proxy(a.proxy, ctx.target);
  if (!opts.proxy.empty()) {  // its password is redacted like the target's
    const auto scheme = opts.proxy.find("://");
    const auto proxy = parse_ws_url(
        "ws://" + opts.proxy.substr(scheme == std::string::npos ? 0 : scheme + 3), nullptr);
    if (proxy && !proxy->password.empty()) scenario.secrets.push_back(proxy->password);
  }
  // A password in the target's user info is a secret like ${env:...} values: redacted wherever
  // it shows, decoded (%40 -> @) or as written in the URL.
  if (const auto url = parse_ws_url(ctx.target, nullptr); url && !url->password.empty()) {
    scenario.secrets.push_back(url->password);
  }
  ensure_fd_limit(opts.load, embedded.has_value(), ctx.warnings);
  // --export-csv / --export-ndjson: opened now (temp files beside them), filled as connections
  // finish, published with the other outputs.
  std::optional<ConnectionExport> connections;
  if (!a.export_csv.empty() || !a.export_ndjson.empty()) {
    ConnectionColumns cols;
    for (const Role& role : scenario.roles) cols.roles.push_back(role.name);
    cols.rooms = scenario.has_rooms();
    cols.secrets = scenario.secrets;
    connections.emplace(std::move(cols), a.export_csv, a.export_ndjson);
    opts.connections = &*connections;
  }
  RawRun raw = measure(a, scenario, std::move(opts), ctx);
  if (embedded) embedded->stop();

  RunResult result = assemble_result(ctx, std::move(raw));
  if (baseline) {
    result.comparison = compare_results(result, baseline->second, compare_opts, baseline->first);
    decide_verdict(result);
  }
  if (stderr_failed()) {  // said where the report (stdout) and the stored result will show it
    result.warnings.push_back(
        "stderr was closed during the run: progress lines and warnings written there were lost");
  }
  store_result(a, result, save_baseline, connections ? &*connections : nullptr);
  if (!a.push.empty()) {  // after the result is safe; a failed push does not change the verdict
    const std::string problem = push_result(a.push, result);
    if (!problem.empty()) print_stderr("wslat: warning: --push failed: " + problem + "\n");
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
  sub->add_option("--connections", args->connections,
                  "Closed model: connections in total, 1..100000000")
      ->type_name("INT");
  sub->add_option("--concurrency", args->concurrency,
                  "Closed model: connections at once, 1..1000000")
      ->type_name("INT");
  sub->add_option("--rate", args->rate, "Open model: arrival rate, e.g. 20/s");
  sub->add_option("--duration", args->duration, "Open model: how long to keep the rate, e.g. 30s");
  sub->add_option("--max-concurrency", args->max_concurrency,
                  "Open model: live connections cap, 1..1000000")
      ->type_name("INT");
  sub->add_option("--threads", args->threads,
                  "Worker threads, 1..256 (default: the CPUs wslat may run on)")
      ->type_name("INT");
  sub->add_option("--source-addresses", args->source_addresses,
                  "Spread connections over 127.0.0.1..N (loopback targets; default: as needed "
                  "beyond ~20k connections)");
  sub->add_option("--header", args->headers, "Extra request header 'Name: value' (repeatable)");
  sub->add_flag("--insecure", args->insecure, "Do not verify TLS certificates");
  sub->add_flag("--deflate", args->deflate,
                "Offer permessage-deflate compression (RFC 7692), as browsers do");
  sub->add_option("--ca", args->ca, "Trust the CA certificates in this PEM file");
  sub->add_option("--cert", args->cert,
                  "Client certificate (PEM chain) for mutual TLS; with --key");
  sub->add_option("--key", args->key, "Private key (PEM) of the --cert client certificate");
  sub->add_option("--sni", args->sni,
                  "TLS server name to send and verify instead of the target's host");
  sub->add_option("--tls-min", args->tls_min, "Lowest TLS version to accept: 1.2 or 1.3");
  sub->add_option("--proxy", args->proxy,
                  "HTTP CONNECT proxy http://[USER:PASS@]HOST:PORT, or 'none' (default: "
                  "http_proxy/https_proxy, no_proxy)");
  sub->add_option("--baseline", args->baseline, "Compare with this baseline file, or 'auto'");
  sub->add_option("--save-baseline", args->save_baseline, "Save the result as a baseline ('auto')");
  add_gate_options(*sub, args->gate);
  auto* results_dir = sub->add_option("--results-dir", args->results_dir, kResultsDirHelp);
  sub->add_flag("--no-save", args->no_save, "Do not store the run under the results folder");
  sub->add_option("--push", args->push,
                  "PUT the run's metrics to this Prometheus Pushgateway, e.g. http://host:9091");
  sub->add_option("--shard", args->shard, "Run the I-th of N equal parts of the load: I/N");
  sub->add_option("--threshold", args->threshold_flags, "'METRIC: EXPR' (repeatable)");
  sub->add_flag("--quiet,-q", args->quiet, "No progress line");
  sub->add_option("--trace", args->trace,
                  "Print every frame of the first N connections on stderr (time, direction, "
                  "kind, size, shortened redacted payload)")
      ->type_name("N")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000}));
  sub->add_option("--export-csv", args->export_csv,
                  "Write one CSV row per connection: index, start, every phase, outcome")
      ->type_name("FILE");
  sub->add_option("--export-ndjson", args->export_ndjson,
                  "Write one JSON line per connection: index, start, every phase, outcome")
      ->type_name("FILE");
  add_output_options(*sub, args->output);
  sub->callback([args, results_dir, &action] {
    action = [args, results_dir] {
      if (results_dir->count() == 0) {
        const ResultsDir d = default_results_dir();
        args->results_dir = d.path;
        args->results_dir_fallback = d.fallback;
      }
      return run_command(*args);
    };
  });
}

}  // namespace wslat::cli
