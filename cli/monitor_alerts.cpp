#include "monitor_alerts.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "http_client.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in a header

namespace wslat::cli {
namespace {

// Runs `command` with /bin/sh -c, the monitor's environment plus `vars`; waits up to
// `timeout_ms`, then kills it. "" when it exited 0.
std::string run_command(const std::string& command, const std::map<std::string, std::string>& vars,
                        long timeout_ms) {
  std::vector<std::string> env_text;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (vars.count(name) == 0) env_text.push_back(entry);
  }
  for (const auto& [name, value] : vars) {
    std::string entry = name;
    entry += '=';
    entry += value;
    env_text.push_back(std::move(entry));
  }
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 1);
  for (auto& s : env_text) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, envp.data());
  if (rc != 0) return fmt::format("--alert-command could not start: {}", std::strerror(rc));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return "--alert-command: lost track of the command";
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return fmt::format("--alert-command did not finish within {} s and was killed",
                         timeout_ms / 1000);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status)) return fmt::format("--alert-command exited {}", WEXITSTATUS(status));
  return fmt::format("--alert-command was killed by signal {}", WTERMSIG(status));
}

}  // namespace

std::string deliver_alert(const AlertDelivery& d, const AlertEvent& e, const AlertSubject& s,
                          const RunResult& probe) {
  const nlohmann::json payload = alert_payload(e, s, probe);
  std::string problems;
  if (!d.webhook.empty()) {
    // The URL is not repeated: webhook URLs often carry a token.
    const HttpOutcome r =
        http_send("POST", d.webhook, "application/json", payload.dump(), d.webhook_timeout_ms);
    if (!r.error.empty())
      problems += "--webhook: the " + e.state + " notification failed: " + r.error;
  }
  if (!d.command.empty()) {
    const std::string p =
        run_command(d.command, alert_environment(e, s, payload), d.command_timeout_ms);
    if (!p.empty()) problems += (problems.empty() ? "" : "; ") + p;
  }
  return problems;
}

}  // namespace wslat::cli
