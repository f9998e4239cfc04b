// Integration-test harness: run the real wslat binary (or any program) with a deadline,
// capture its output, and start `wslat serve` on an ephemeral loopback port.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wslat::test {

// True in ASan and TSan builds: their shadow memory makes address-space limits and resident
// memory figures the sanitizer's, not wslat's.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

struct ProcessResult {
  int exit_code = -1;  // -1 when killed at the deadline
  bool timed_out = false;
  std::string out, err;
  double wall_ms = 0;
};

// Runs `argv` (argv[0] is a path or a name on PATH) with extra environment variables
// (value "" with unset=true in `unset_env` removes a variable), killing it at `deadline`.
ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::milliseconds deadline = std::chrono::seconds(60),
                          const std::map<std::string, std::string>& env = {},
                          const std::vector<std::string>& unset_env = {});

// The variables that choose wslat's environment profile or make it write a CI summary: a test's
// wslat runs without them unless the test sets them.
inline const std::vector<std::string> kCleanedEnvironment = {
    "WSLAT_ENV", "ENVIRONMENT", "CI", "WSLAT_FORCE_CONSERVATIVE", "GITHUB_STEP_SUMMARY"};

// Runs the wslat binary under test with `args`. The environment is cleaned of
// kCleanedEnvironment unless given in `env`.
ProcessResult run_wslat(const std::vector<std::string>& args,
                        std::chrono::milliseconds deadline = std::chrono::seconds(60),
                        const std::map<std::string, std::string>& env = {});

// A background process whose first stdout line announces a URL, e.g. `wslat serve --port 0`
// ("listening on ws://127.0.0.1:PORT/"). Killed (SIGTERM, then SIGKILL) on destruction.
class BackgroundServer {
 public:
  // Starts argv and waits (up to 10 s) for a first line containing a URL, or "READY <port>"
  // (the npm peers; the URL is then ws://127.0.0.1:<port>/); throws on failure.
  explicit BackgroundServer(const std::vector<std::string>& argv);
  ~BackgroundServer();
  BackgroundServer(const BackgroundServer&) = delete;
  BackgroundServer& operator=(const BackgroundServer&) = delete;
  const std::string& url() const { return url_; }  // e.g. ws://127.0.0.1:40123/
  int port() const { return port_; }
  int pid() const { return pid_; }

 private:
  void stop();  // SIGTERM, a bounded wait, then SIGKILL; closes the output pipe

  int pid_ = -1;
  int out_fd_ = -1;
  std::string url_;
  int port_ = 0;
};

// A loopback port that refuses connections for this object's life: a TCP socket bound to
// 127.0.0.1:0 that never listens. Unlike the port of a stopped server, no other process (a
// test running in parallel) can take it meanwhile.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int port() const { return port_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// `wslat serve --port 0 <args>`.
BackgroundServer start_serve(const std::vector<std::string>& args = {});

// A scenario file NAME.json (no target: give --target): 2 connections, 2 at once, each sending
// "hi", expecting it back and closing with 1000; timeouts 5 s (close 2 s). The keys of `extra`
// replace or add top-level keys.
std::string hi_scenario_file(const std::string& name,
                             const nlohmann::json& extra = nlohmann::json::object());

// Writes `content` to a fresh file in a per-test temp directory and returns its path.
std::string write_temp_file(const std::string& name, const std::string& content);
std::string temp_dir();  // a fresh directory (created once per process)
// A new, empty directory under temp_dir() named NAME-XXXXXX (unique on every call).
std::string fresh_temp_dir(const std::string& name);

// The whole content of a file ("" when it cannot be read).
std::string read_file(const std::string& path);
// Every regular file under `dir`, recursively, as paths.
std::vector<std::string> files_under(const std::string& dir);

std::string wslat_binary();
std::string source_dir();

}  // namespace wslat::test
