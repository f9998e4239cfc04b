// Third-party servers (nginx, tinyproxy) started by a test on a port it picks: these cannot
// bind port 0 and announce it, so the test asks the kernel for a free port, starts the server
// on it, and waits until it accepts a TCP connection; when the server exits first (the port
// was taken in between), it tries again with another port. Header-only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace wslat::test {

// True when `program` is on PATH (or an executable path).
inline bool have_program(const std::string& program) {
  const auto r = run_process({"sh", "-c", "command -v " + program}, std::chrono::seconds(10));
  return r.exit_code == 0;
}

// A port the kernel considered free on `address` ("127.0.0.1" or "::1") a moment ago.
inline int pick_free_port(const std::string& address) {
  const bool v6 = address.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    ::inet_pton(AF_INET, address.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind an ephemeral port on " + address);
  }
  ::close(fd);
  return ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                  : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

// True when something accepts a TCP connection on address:port.
inline bool accepts(const std::string& address, int port) {
  const bool v6 = address.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, address.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  ::close(fd);
  return ok;
}

// A server process started with argv made for a port (`make_argv(port)`), its output in
// `log`; ready once `address:port` accepts. Killed (SIGTERM, then SIGKILL) on destruction.
class ThirdPartyServer {
 public:
  ThirdPartyServer(const std::string& address,
                   const std::function<std::vector<std::string>(int port)>& make_argv,
                   const std::string& log) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = pick_free_port(address);
      if (start(make_argv(port_), log) && wait_ready(address)) return;
      stop();
    }
    throw std::runtime_error("could not start " + make_argv(0).front() + ": see " + log + ":\n" +
                             read_file(log));
  }
  ~ThirdPartyServer() { stop(); }
  ThirdPartyServer(const ThirdPartyServer&) = delete;
  ThirdPartyServer& operator=(const ThirdPartyServer&) = delete;
  int port() const { return port_; }

 private:
  bool start(const std::vector<std::string>& argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::setpgid(0, 0);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    return true;
  }

  // Up to 20 s (a busy machine); false when the process exited first.
  bool wait_ready(const std::string& address) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (accepts(address, port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, bounded
    }
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    for (int i = 0; i < 250; ++i) {  // up to 5 s, then SIGKILL
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int pid_ = -1;
  int port_ = 0;
};

}  // namespace wslat::test
