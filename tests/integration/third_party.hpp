// Third-party servers (nginx, tinyproxy, openssl s_server) started by a test on a port it picks:
// these cannot bind port 0 and announce it, so the test asks the kernel for a free port, starts
// the server on it, and waits until it accepts a TCP connection; when the server exits first
// (the port was taken in between), it tries again with another port. Also the self-signed
// certificates they serve (openssl) and nginx's start. Header-only.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "spawn.hpp"

namespace wslat::test {

// True when `program` is on PATH (or an executable path).
inline bool have_program(const std::string& program) {
  const auto r = run_process({"sh", "-c", "command -v " + program}, std::chrono::seconds(10));
  return r.exit_code == 0;
}

// Fails the test when `program` is not installed, naming the Debian package that has it.
inline void require_program(const std::string& program, const std::string& package) {
  if (!have_program(program)) {
    FAIL(program << " is not installed: run scripts/install-deps.sh (Debian package " << package
                 << ")");
  }
}

struct Cert {
  std::string cert, key;
};

// A self-signed ECDSA certificate (CN `name`) for `san` (e.g. "IP:127.0.0.1,DNS:sni.test"),
// valid for a day, in temp_dir(): NAME.cert.pem and NAME.key.pem.
inline Cert make_cert(const std::string& name, const std::string& san = "IP:127.0.0.1") {
  Cert c{temp_dir() + "/" + name + ".cert.pem", temp_dir() + "/" + name + ".key.pem"};
  const auto r =
      run_process({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", c.key, "-out", c.cert,
                   "-days", "1", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san},
                  std::chrono::seconds(30));
  INFO("openssl: " << r.err);
  REQUIRE(r.exit_code == 0);
  return c;
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

// Starts argv (argv[0] a path or a name on PATH) in a process group of its own, its stdout and
// stderr appended to `log`: its pid, or -1 when fork failed.
inline int spawn_logged(const std::vector<std::string>& argv, const std::string& log) {
  const PreparedExec program(argv);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {  // async-signal-safe only (spawn.hpp)
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::setpgid(0, 0);
    program.exec();
  }
  ::setpgid(pid,
            pid);  // also here, so that a stop right away reaches the group (EACCES after exec)
  return pid;
}

// Stops a spawn_logged() child: SIGTERM to its group, SIGKILL after `grace`; reaps it and
// sets `pid` to -1. Nothing when `pid` <= 0.
inline void stop_child(int& pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  ::kill(-pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {  // bounded
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

// A long-running program (Prometheus, Alertmanager) started with spawn_logged(); stopped
// (SIGTERM, then SIGKILL after 10 s) on destruction.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& argv, const std::string& log)
      : pid_(spawn_logged(argv, log)) {
    if (pid_ < 0) throw std::runtime_error("fork");
  }
  ~Daemon() { stop_child(pid_, std::chrono::seconds(10)); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

 private:
  int pid_ = -1;
};

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
    pid_ = spawn_logged(argv, log);
    return pid_ > 0;
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

  void stop() { stop_child(pid_, std::chrono::seconds(5)); }

  int pid_ = -1;
  int port_ = 0;
};

// The start of an nginx.conf for start_nginx() with everything in `dir` (pid, error log, temp
// paths), one worker, no access log, opened up to `http {`: the caller adds its server blocks
// and the closing brace.
inline std::string nginx_config_head(const std::string& dir) {
  std::string conf = "daemon off; worker_processes 1; pid " + dir + "/nginx.pid; error_log " + dir +
                     "/error.log;\n";
  if (::geteuid() == 0) conf += "user root;\n";
  conf += "events { worker_connections 64; }\nhttp {\n access_log off;\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    conf += std::string(" ") + t + "_temp_path " + dir + "/" + t + ";\n";
  }
  return conf;
}

// nginx in the foreground with `dir` (created) as its prefix and the configuration that
// `config(port)` gives for a port picked on `address`; its logs in `dir`. Fails the test when
// nginx is not installed.
inline ThirdPartyServer start_nginx(const std::string& address, const std::string& dir,
                                    const std::function<std::string(int port)>& config) {
  require_program("nginx", "nginx-light");
  REQUIRE(run_process({"mkdir", "-p", dir}).exit_code == 0);
  return ThirdPartyServer(
      address,
      [&](int port) {
        const std::string conf = dir + "/nginx.conf";
        std::ofstream(conf) << config(port);
        return std::vector<std::string>{"nginx", "-p", dir, "-e", dir + "/error.log", "-c", conf};
      },
      dir + "/nginx.log");
}

}  // namespace wslat::test
