#include "harness.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>

#include "spawn.hpp"

namespace wslat::test {
namespace {

using Clock = std::chrono::steady_clock;

// Child side after fork: wire the pipes, exec. Async-signal-safe only (spawn.hpp): the test
// process has threads. Never returns.
[[noreturn]] void exec_child(const PreparedExec& program, int out_fd, int err_fd) {
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  ::setpgid(0, 0);
  program.exec();
}

// A /proc file as one line: its NULs (cmdline's separators) as spaces, no trailing newline.
std::string read_proc_text(const std::string& path) {
  std::string text = read_file(path);
  std::replace(text.begin(), text.end(), '\0', ' ');
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// What a child that outlived its deadline was doing, read from /proc before it is killed: which
// program it is (the test binary itself means it never reached exec), and per thread its name,
// state, the kernel function it waits in and the number of the syscall it is in ("running"
// when in user space). For the failure's message.
std::string describe_stuck(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::string out = "[run_process] still running at the deadline: pid " + std::to_string(pid) +
                    ", command line \"" + read_proc_text(proc + "/cmdline") + "\"";
  DIR* tasks = ::opendir((proc + "/task").c_str());
  if (tasks == nullptr) return out;
  while (const dirent* e = ::readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    const std::string task = proc + "/task/" + e->d_name;
    const std::string stat = read_proc_text(task + "/stat");
    const std::string syscall = read_proc_text(task + "/syscall");  // number, then arguments
    const std::size_t paren = stat.rfind(')');
    const std::string state =
        paren != std::string::npos && paren + 2 < stat.size() ? stat.substr(paren + 2, 1) : "?";
    out += "\n  thread " + std::string(e->d_name) + " (" + read_proc_text(task + "/comm") +
           "): state " + state + ", waiting in " + read_proc_text(task + "/wchan") + ", syscall " +
           syscall.substr(0, syscall.find(' '));
  }
  ::closedir(tasks);
  return out;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds deadline,
                          const std::map<std::string, std::string>& env,
                          const std::vector<std::string>& unset_env) {
  const PreparedExec program(argv, env, unset_env);
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (::pipe(out_pipe.data()) != 0 || ::pipe(err_pipe.data()) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    exec_child(program, out_pipe[1], err_pipe[1]);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ProcessResult result;
  std::string stuck;
  std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
  int open_fds = 2;
  std::array<char, 65536> buf{};
  while (open_fds > 0) {
    const auto left =
        deadline - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (left.count() <= 0) {
      result.timed_out = true;
      stuck = describe_stuck(pid);
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      break;
    }
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf.data(), static_cast<std::size_t>(got));
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (!stuck.empty()) result.err += (result.err.empty() ? "" : "\n") + stuck;
  return result;
}

ProcessResult run_wslat(const std::vector<std::string>& args, std::chrono::milliseconds deadline,
                        const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{wslat_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> unset;
  for (const auto& name : kCleanedEnvironment) {
    if (env.count(name) == 0) unset.push_back(name);
  }
  return run_process(argv, deadline, env, unset);
}

RefusingPort::RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  if (fd_ < 0) throw std::runtime_error("RefusingPort: socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd_);
    throw std::runtime_error("RefusingPort: bind() failed");
  }
  port_ = ntohs(addr.sin_port);
}

RefusingPort::~RefusingPort() { ::close(fd_); }

namespace {

// Why a server did not start, for the error: the end of what it wrote to stderr, and for a
// Node peer where the npm modules come from (a missing one is the usual cause).
std::string start_failure(const std::string& what, const std::vector<std::string>& argv,
                          int err_fd) {
  std::string out = what + ": ";
  for (const auto& a : argv) out += (&a == &argv.front() ? "" : " ") + a;
  if (err_fd >= 0) {
    constexpr off_t kTail = 2048;
    const off_t size = ::lseek(err_fd, 0, SEEK_END);
    std::string text(static_cast<std::size_t>(std::min(std::max<off_t>(size, 0), kTail)), '\0');
    const ssize_t got = ::pread(err_fd, text.data(), text.size(), std::max<off_t>(size - kTail, 0));
    text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    if (!text.empty()) out += "\n--- its stderr (end) ---\n" + text;
  }
  if (argv.front() == "node") {
    out += "\n(the npm peers come from tests/peers/install.sh, which scripts/install-deps.sh runs)";
  }
  return out;
}

}  // namespace

BackgroundServer::BackgroundServer(const std::vector<std::string>& argv) {
  std::array<int, 2> out_pipe{};
  if (::pipe(out_pipe.data()) != 0) throw std::runtime_error("pipe failed");
  // The server's stderr goes to an unlinked temporary file, read only if it fails to start: a
  // pipe nobody reads could fill and block a chatty server.
  char err_path[] = "/tmp/wslat-test-server-XXXXXX";
  const int err_fd = ::mkostemp(err_path, O_CLOEXEC);
  if (err_fd >= 0) ::unlink(err_path);
  const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  const PreparedExec program(argv);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::close(out_pipe[0]);
    exec_child(program, out_pipe[1], err_fd >= 0 ? err_fd : devnull);
  }
  ::close(devnull);
  ::close(out_pipe[1]);
  out_fd_ = out_pipe[0];
  struct CloseErr {
    int fd;
    ~CloseErr() {
      if (fd >= 0) ::close(fd);
    }
  } close_err{err_fd};
  // A failed start throws from the constructor, so no destructor stops the process: this does.
  const auto fail = [&](const std::string& what) {
    stop();
    return std::runtime_error(start_failure(what, argv, err_fd));
  };
  std::string line;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{out_fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      throw fail("server did not announce its address within 10 s");
    }
    char c[256];
    const ssize_t got = ::read(out_fd_, c, sizeof c);
    if (got <= 0) throw fail("server exited before announcing its address");
    line.append(c, static_cast<std::size_t>(got));
  }
  std::smatch m;
  static const std::regex kUrl(R"(((wss?|https?)://[^\s/]+:(\d+)/?\S*))");
  static const std::regex kReady(R"(^READY (\d+))");  // the npm peers (tests/peers/common.js)
  if (std::regex_search(line, m, kReady)) {
    port_ = std::stoi(m[1]);
    url_ = "ws://127.0.0.1:" + std::to_string(port_) + "/";
    return;
  }
  if (!std::regex_search(line, m, kUrl)) throw fail("no URL in the server's first line: " + line);
  url_ = m[1];
  port_ = std::stoi(m[3]);
}

BackgroundServer::~BackgroundServer() { stop(); }

void BackgroundServer::stop() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGTERM);
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      ::usleep(10'000);  // bounded wait for exit (teardown only, not synchronisation)
    }
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  out_fd_ = -1;
}

BackgroundServer start_serve(const std::vector<std::string>& args) {
  std::vector<std::string> argv{wslat_binary(), "serve", "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  return BackgroundServer(argv);
}

std::string temp_dir() {
  static const std::string dir = [] {
    std::string tmpl = "/tmp/wslat-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return tmpl;
  }();
  return dir;
}

std::string hi_scenario_file(const std::string& name, const nlohmann::json& extra) {
  using nlohmann::json;
  json s = {
      {"name", name},
      {"load", {{"connections", 2}, {"concurrency", 2}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}}},
      {"steps", json::array({{{"send", {{"text", "hi"}}}},
                             {{"expect", {{"text", "hi"}}}},
                             {{"close", {{"code", 1000}}}}})}};
  s.update(extra);
  return write_temp_file(name + ".json", s.dump(2));
}

std::string fresh_temp_dir(const std::string& name) {
  std::string tmpl = temp_dir() + "/" + name + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
  return tmpl;
}

std::string write_temp_file(const std::string& name, const std::string& content) {
  const std::string path = temp_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      for (auto& f : files_under(path)) out.push_back(std::move(f));
    } else {
      out.push_back(path);
    }
  }
  ::closedir(d);
  return out;
}

std::string wslat_binary() { return WSLAT_BINARY; }
std::string source_dir() { return WSLAT_SOURCE_DIR; }

}  // namespace wslat::test
