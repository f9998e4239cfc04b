// Ctrl-C during `wslat run`: the first SIGINT stops the run politely (open connections close
// within the close timeout) and still writes every output marked "interrupted", exit 130; a
// second SIGINT leaves at once and never leaves a half-written file behind. SIGTERM, SIGHUP
// and SIGQUIT do the same; a reader of stdout or stderr going away loses nothing.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The wslat binary as a child we can signal while reading its output (the harness's
// run_process only returns once the child is gone).
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    std::array<int, 2> out{}, err{};
    // Close-on-exec: the child must not hold the read ends, or it never sees its reader go.
    if (::pipe2(out.data(), O_CLOEXEC) != 0 || ::pipe2(err.data(), O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe");
    }
    std::vector<std::string> argv{wslat_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) exec_child(argv, out[1], err[1]);
    ::close(out[1]);
    ::close(err[1]);
    fds_ = {out[0], err[0]};
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (const int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void signal(int sig) const { ::kill(pid_, sig); }
  // The reader of stdout (0) or stderr (1) goes away, as `| head` or a closed terminal does.
  void close_stream(int which) {
    auto& fd = fds_[static_cast<std::size_t>(which)];
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  // Reads output for at most `ms`; false once both pipes are closed (the child is done).
  bool pump(int ms) {
    if (fds_[0] < 0 && fds_[1] < 0) return false;
    // poll() skips negative descriptors: a closed pipe simply drops out.
    std::array<pollfd, 2> polled{{{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}}};
    if (::poll(polled.data(), polled.size(), ms) <= 0) return true;
    std::array<char, 65536> buf{};
    for (std::size_t i = 0; i < polled.size(); ++i) {
      if (fds_[i] < 0 || (polled[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t got = ::read(fds_[i], buf.data(), buf.size());
      if (got <= 0) {
        ::close(fds_[i]);
        fds_[i] = -1;
        continue;
      }
      (i == 0 ? out_ : err_).append(buf.data(), static_cast<std::size_t>(got));
    }
    return true;
  }

  // Pumps until `pred()` holds or `deadline_ms` passed; returns pred().
  template <typename Pred>
  bool pump_until(Pred pred, double deadline_ms) {
    const auto start = Clock::now();
    while (!pred() && ms_since(start) < deadline_ms) {
      if (!pump(50)) break;
    }
    return pred();
  }

  // Drains the output and reaps the child; the exit code, or -1 if it had to be killed.
  int wait(double deadline_ms) {
    const auto start = Clock::now();
    while (pump(50)) {
      if (ms_since(start) > deadline_ms) {
        ::kill(pid_, SIGKILL);
        break;
      }
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return -1;
  }

  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got != pid_) return false;
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return true;
  }
  int exit_code() const { return exit_code_; }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  [[noreturn]] static void exec_child(std::vector<std::string> argv, int out, int err) {
    for (const char* name :
         {"WSLAT_ENV", "ENVIRONMENT", "CI", "WSLAT_FORCE_CONSERVATIVE", "GITHUB_STEP_SUMMARY"}) {
      ::unsetenv(name);
    }
    ::signal(SIGPIPE, SIG_DFL);  // as a shell leaves it
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    ::execv(c[0], c.data());
    std::_Exit(127);
  }

  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::array<int, 2> fds_{-1, -1};  // stdout, stderr pipes (read ends)
  std::string out_, err_;
};

// A progress line ("wslat: 1.0s/30.0s · 20.0/s · 0 errors · ...") shows the run is under way.
bool running(const Child& c) {
  const auto& e = c.err();
  const auto at = e.find("wslat: ");
  return at != std::string::npos && e.find(" errors", at) != std::string::npos &&
         e.find('\n', at) != std::string::npos;
}


bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}


std::string fresh_dir(const std::string& name) {
  const std::string dir = temp_dir() + "/" + name;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

// An open-model scenario that would last 30 s: 20 connections/s, each holding a while.
std::string long_scenario(const std::string& name, const std::string& url,
                          const std::string& close_timeout) {
  json s = {{"name", name},
            {"target", url},
            {"load", {{"rate", "20/s"}, {"duration", "30s"}}},
            {"timeouts",
             {{"connect", "2s"}, {"handshake", "2s"}, {"message", "2s"}, {"close", close_timeout}}},
            {"steps", json::array({{{"send", {{"text", "hi"}}}},
                                   {{"expect", {{"text", "hi"}}}},
                                   {{"sleep", "500ms"}},
                                   {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

TEST_CASE("interrupt: SIGINT stops the run, writes every output marked interrupted, exit 130") {
  auto server = start_serve();
  const std::string dir = fresh_dir("interrupt-once");
  const std::string results = dir + "/results";
  const auto file = long_scenario("interrupt-once", server.url(), "1s");
  Child run({"run", file, "--env", "production", "--export-json", dir + "/r.json", "--export-junit",
             dir + "/r.xml", "--results-dir", results});
  // Bounded poll for the first progress line (printed once the run passes 1 s).
  REQUIRE_MESSAGE(run.pump_until([&] { return running(run); }, 15000),
                  "no progress line; stderr: " << run.err());
  const auto signalled = Clock::now();
  run.signal(SIGINT);
  const int code = run.wait(20000);
  const double stop_ms = ms_since(signalled);
  INFO("stderr: " << run.err());
  MESSAGE("stopped " << stop_ms << " ms after SIGINT");
  CHECK(code == 130);
  // Open connections get the close timeout (1 s x 1.2), then outputs are written.
  CHECK(stop_ms < 1200 + 3000);

  const json r = json::parse(read_file(dir + "/r.json"));
  CHECK(r["interrupted"] == true);
  CHECK(r["verdict"] == "interrupted");
  CHECK(r["exit_code"] == 130);
  CHECK(r["connections"]["attempted"].get<int>() > 0);
  CHECK(r["duration_ms"].get<double>() < 30000);  // partial: stopped well before the end
  const std::string junit = read_file(dir + "/r.xml");
  CHECK(junit.find("<testsuite") != std::string::npos);
  CHECK(junit.find("</testsuites>") != std::string::npos);
  // The run is stored in the results folder too, marked the same way.
  int stored = 0;
  for (const auto& f : files_under(results)) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
    CHECK(json::parse(read_file(f))["interrupted"] == true);
    ++stored;
  }
  CHECK(stored == 1);
  CHECK(run.out().find("nterrupted") != std::string::npos);  // the text report says so
}

TEST_CASE("interrupt: a second SIGINT leaves at once and leaves no half-written file") {
  // The server never answers the close frame: a polite stop would take the whole 10 s close
  // timeout, so an exit within a few seconds of the first signal is the immediate one.
  auto server = start_serve({"--mode", "no-close-reply"});
  const std::string dir = fresh_dir("interrupt-twice");
  const std::string results = dir + "/results";
  const auto file = long_scenario("interrupt-twice", server.url(), "10s");
  Child run({"run", file, "--env", "production", "--export-json", dir + "/r.json", "--export-junit",
             dir + "/r.xml", "--results-dir", results});
  REQUIRE_MESSAGE(run.pump_until([&] { return running(run); }, 15000),
                  "no progress line; stderr: " << run.err());
  const auto signalled = Clock::now();
  // Signals of one kind may merge while pending: keep sending until the process is gone, so
  // that at least two are delivered whatever the scheduling.
  int sent = 0;
  while (!run.exited() && ms_since(signalled) < 20000) {
    run.signal(SIGINT);
    ++sent;
    run.pump(50);
  }
  const double stop_ms = ms_since(signalled);
  INFO("stderr: " << run.err() << "\nsignals sent: " << sent);
  MESSAGE("gone " << stop_ms << " ms after the first SIGINT (" << sent << " sent)");
  REQUIRE(run.exited());
  CHECK(run.exit_code() == 130);
  CHECK(stop_ms < 3000);

  for (const std::string name : {"r.json", "r.xml"}) {
    const std::string path = dir + "/" + name;
    if (!exists(path)) continue;  // absent is fine; present must be whole
    if (name == "r.json") {
      CHECK(json::accept(read_file(path)));
    } else {
      CHECK(read_file(path).find("</testsuites>") != std::string::npos);
    }
  }
  for (const auto& f : files_under(dir)) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
    if (f.size() > 5 && f.compare(f.size() - 5, 5, ".json") == 0) {
      CHECK(json::accept(read_file(f)));
    }
  }
}

// A dropped ssh session (SIGHUP) or a CI cancel (SIGQUIT, Ctrl-\\) used to kill the run with
// nothing written.
TEST_CASE("interrupt: SIGHUP and SIGQUIT stop the run like SIGINT, outputs written, exit 130") {
  auto server = start_serve();
  for (const int sig : {SIGHUP, SIGQUIT}) {
    const std::string name = sig == SIGHUP ? "hup" : "quit";
    CAPTURE(name);
    const std::string dir = fresh_dir("interrupt-" + name);
    const std::string results = dir + "/results";
    const auto file = long_scenario("interrupt-" + name, server.url(), "1s");
    Child run({"run", file, "--env", "production", "--export-json", dir + "/r.json",
               "--results-dir", results});
    REQUIRE_MESSAGE(run.pump_until([&] { return running(run); }, 15000),
                    "no progress line; stderr: " << run.err());
    run.signal(sig);
    const int code = run.wait(20000);
    INFO("stderr: " << run.err());
    CHECK(code == 130);
    CHECK(json::parse(read_file(dir + "/r.json"))["interrupted"] == true);
    const auto stored = files_under(results);
    REQUIRE(stored.size() == 1);
    CHECK(json::parse(read_file(stored.front()))["verdict"] == "interrupted");
  }
}

// A scenario against the embedded server that passes: exit 0 is the verdict to keep.
std::string passing_scenario(const std::string& name, const std::string& duration) {
  json s = {{"name", name},
            {"load", {{"rate", "20/s"}, {"duration", duration}}},
            {"steps", json::array({{{"send", {{"text", "hi"}}}},
                                   {{"expect", {{"text", "hi"}}}},
                                   {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

TEST_CASE(
    "closed stdout: `run --format json | head -c 10` keeps the verdict, the run and exports") {
  const std::string dir = fresh_dir("closed-stdout");
  const std::string results = dir + "/results";
  const auto file = passing_scenario("closed-stdout", "500ms");
  Child run({"run", file, "--format", "json", "--export-junit", dir + "/r.xml", "--results-dir",
             results, "-q"});
  run.close_stream(0);  // the reader is gone before the report is written
  const int code = run.wait(30000);
  INFO("stderr: " << run.err());
  CHECK(code == 0);  // the verdict, not 141 (killed by SIGPIPE)
  CHECK(run.err().find("could not be written to stdout") != std::string::npos);
  CHECK(read_file(dir + "/r.xml").find("</testsuites>") != std::string::npos);
  const auto stored = files_under(results);
  REQUIRE(stored.size() == 1);
  CHECK(json::parse(read_file(stored.front()))["verdict"] == "pass");
}

TEST_CASE("closed stderr: progress lines into a closed pipe do not kill the run; stdout says so") {
  const std::string dir = fresh_dir("closed-stderr");
  const std::string results = dir + "/results";
  // Lasts over a second, so a progress line is written while stderr is closed.
  const auto file = passing_scenario("closed-stderr", "1500ms");
  Child run({"run", file, "--results-dir", results});
  run.close_stream(1);
  const int code = run.wait(30000);
  INFO("stdout: " << run.out());
  CHECK(code == 0);
  CHECK(run.out().find("stderr was closed during the run") != std::string::npos);
  const auto stored = files_under(results);
  REQUIRE(stored.size() == 1);
  const json r = json::parse(read_file(stored.front()));
  CHECK(r["verdict"] == "pass");
  CHECK(r["warnings"].dump().find("stderr was closed") != std::string::npos);
}

}  // namespace
}  // namespace wslat::test
