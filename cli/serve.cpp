// `wslat serve`: the embedded WebSocket target with fault injection, until SIGINT/SIGTERM.
#include <pthread.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/core.h>

#include "commands.hpp"
#include "cpus.hpp"
#include "error.hpp"
#include "server.hpp"
#include "units.hpp"

namespace wslat::cli {
namespace {

// The grammar's raw values; durations stay strings so their errors come from lib/units.
struct ServeArgs {
  ServerOptions opts;
  std::string handshake_delay, welcome_delay, echo_delay, jitter;
  std::string request_timeout = "10s";
  std::optional<std::string> welcome;
  std::optional<int> close_after_open, reject;
};

Duration duration_arg(const std::string& text, const char* flag) {
  return text.empty() ? Duration{} : parse_duration_or_throw(text, flag);
}

ServerOptions to_options(const ServeArgs& a) {
  ServerOptions o = a.opts;
  o.handshake_delay = duration_arg(a.handshake_delay, "--handshake-delay");
  o.welcome_delay = duration_arg(a.welcome_delay, "--welcome-delay");
  o.echo_delay = duration_arg(a.echo_delay, "--echo-delay");
  o.jitter = duration_arg(a.jitter, "--jitter");
  o.request_timeout = duration_arg(a.request_timeout, "--request-timeout");
  o.welcome = a.welcome;
  if (a.close_after_open) {
    if (*a.close_after_open < 0 || *a.close_after_open > 65535) {
      throw UsageError(fmt::format("--close-after-open: {} is not a close code; use e.g. 1011",
                                   *a.close_after_open));
    }
    o.close_after_open = static_cast<std::uint16_t>(*a.close_after_open);
  }
  o.reject_status = a.reject;
  if (!a.welcome_delay.empty() && !a.welcome) {
    throw UsageError("--welcome-delay needs --welcome: give the message to send after the delay");
  }
  check_server_options(o, "serve");
  return o;
}

// Every connection is a descriptor: lift the soft limit to the hard one (Debian's 1024 is low).
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int serve(const ServeArgs& args) {
  EmbeddedServer server(to_options(args));
  raise_fd_limit();
  // Block the stop signals before the workers start so they inherit the mask and only this
  // thread receives them, in sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  server.start();
  fmt::print("listening on {}\n", server.url());
  std::fflush(stdout);
  int received = 0;
  sigwait(&stop_signals, &received);
  server.stop();
  return exit_code::kPass;
}

}  // namespace

void add_serve(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand(
      "serve", "Run the embedded WebSocket echo target (with fault injection) until interrupted");
  auto args = std::make_shared<ServeArgs>();
  // The cores it may run on by default (its affinity mask): one thread must not cap a benchmark,
  // and two event loops pinned to one core (taskset -c 0) would only take turns.
  args->opts.threads = default_threads();
  sub->add_option("--host", args->opts.host, "Address or name to listen on")->capture_default_str();
  sub->add_option("--port", args->opts.port, "Port (0 = ephemeral; the URL is printed first)")
      ->capture_default_str();
  sub->add_option("--handshake-delay", args->handshake_delay,
                  "Wait this long before answering the upgrade, e.g. 100ms");
  sub->add_option("--welcome", args->welcome,
                  "Text message (usually JSON) sent right after the connection opens");
  sub->add_option("--welcome-delay", args->welcome_delay, "Wait this long before the welcome");
  sub->add_option("--echo-delay", args->echo_delay, "Wait this long before each echo");
  sub->add_option("--jitter", args->jitter, "Add a uniform random [0, D) to every delay above");
  sub->add_option("--request-timeout", args->request_timeout,
                  "Close a connection that has not sent its whole upgrade request within D "
                  "(0 = never; not in --mode silent)")
      ->capture_default_str();
  sub->add_option("--close-after-open", args->close_after_open,
                  "Close with this code right after open (after the welcome), e.g. 1011");
  sub->add_option("--reject", args->reject, "Answer the upgrade with this HTTP status, e.g. 403");
  sub->add_option("--tls-cert", args->opts.tls_cert, "PEM certificate: serve wss://")
      ->check(CLI::ExistingFile);
  sub->add_option("--tls-key", args->opts.tls_key, "PEM private key for --tls-cert")
      ->check(CLI::ExistingFile);
  sub->add_option("--threads", args->opts.threads,
                  "Worker threads (default: the CPUs it may run on)")
      ->check(CLI::Range(1, kMaxWorkerThreads))
      ->capture_default_str();
  sub->add_option("--mode", args->opts.mode, "Hostile behaviour for tests")
      ->check(CLI::IsMember(server_modes()));
  sub->callback([args, &action] { action = [args] { return serve(*args); }; });
}

}  // namespace wslat::cli
