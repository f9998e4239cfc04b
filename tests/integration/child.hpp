// A wslat child process the test can signal while reading its output (the harness's
// run_process only returns once the child is gone). Header-only; used by several test files.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.hpp"
#include "spawn.hpp"

namespace wslat::test {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

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
    const PreparedExec program(argv, {}, kCleanedEnvironment);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) exec_child(program, out[1], err[1]);
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
  int pid() const { return pid_; }

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
  // After fork(): async-signal-safe only (spawn.hpp).
  [[noreturn]] static void exec_child(const PreparedExec& program, int out, int err) {
    ::signal(SIGPIPE, SIG_DFL);  // as a shell leaves it
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    program.exec();
  }

  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::array<int, 2> fds_{-1, -1};  // stdout, stderr pipes (read ends)
  std::string out_, err_;
};

// A progress line ("wslat: 1.0s/30.0s · 20.0/s · 0 errors · ...") shows the run is under way.
inline bool running(const Child& c) {
  const auto& e = c.err();
  const auto at = e.find("wslat: ");
  return at != std::string::npos && e.find(" errors", at) != std::string::npos &&
         e.find('\n', at) != std::string::npos;
}

}  // namespace wslat::test
