// Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
// Chromium reads NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4).
// For pages that keep a connection open (server-sent events), which --dump-dom and
// --virtual-time-budget cannot wait for: the test asks the live page itself, as often as it
// needs, then takes a screenshot. Every wait is bounded.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spawn.hpp"

namespace wslat::test {

class CdpBrowser {
 public:
  CdpBrowser(const std::string& chromium, const std::string& user_data_dir) {
    std::array<int, 2> to{}, from{};
    if (::pipe2(to.data(), O_CLOEXEC) != 0 || ::pipe2(from.data(), O_CLOEXEC) != 0) return;
    const PreparedExec program(std::vector<std::string>{
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--remote-debugging-pipe", "--window-size=1200,1000", "--user-data-dir=" + user_data_dir,
        "about:blank"});
    pid_ = ::fork();
    if (pid_ == 0) {
      // After fork(): async-signal-safe only (spawn.hpp).
      // fds 3 and 4 as Chromium expects them (dup2 clears close-on-exec on the copies).
      const int in = ::dup(to[0]), out = ::dup(from[1]);
      if (in < 0 || out < 0 || ::dup2(in, 3) < 0 || ::dup2(out, 4) < 0) _exit(127);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      program.exec();
    }
    ::close(to[0]);
    ::close(from[1]);
    write_fd_ = to[1];
    read_fd_ = from[0];
  }
  ~CdpBrowser() {
    if (write_fd_ >= 0) ::close(write_fd_);
    if (read_fd_ >= 0) ::close(read_fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  CdpBrowser(const CdpBrowser&) = delete;
  CdpBrowser& operator=(const CdpBrowser&) = delete;

  // Sends a command and waits (at most `ms`) for its reply: its "result", or nullopt on an
  // error reply, a timeout or a dead browser. Events in between are dropped.
  std::optional<nlohmann::json> call(const std::string& method, nlohmann::json params = {},
                                     const std::string& session = "", int ms = 30000) {
    if (write_fd_ < 0) return std::nullopt;
    const int id = ++last_id_;
    nlohmann::json msg = {{"id", id},
                          {"method", method},
                          {"params", params.is_null() ? nlohmann::json::object() : params}};
    if (!session.empty()) msg["sessionId"] = session;
    const std::string text = msg.dump() + std::string(1, '\0');
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = ::write(write_fd_, text.data() + done, text.size() - done);
      if (n <= 0) return std::nullopt;
      done += static_cast<std::size_t>(n);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      const auto nul = buffer_.find('\0');
      if (nul != std::string::npos) {
        const auto reply = nlohmann::json::parse(buffer_.substr(0, nul), nullptr, false);
        buffer_.erase(0, nul + 1);
        if (reply.is_object() && reply.value("id", 0) == id) {
          if (reply.contains("error")) {
            last_error_ = reply["error"].dump();
            return std::nullopt;
          }
          return reply.value("result", nlohmann::json::object());
        }
        continue;
      }
      pollfd p{read_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[65536];
      const ssize_t got = ::read(read_fd_, buf, sizeof buf);
      if (got <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<std::size_t>(got));
    }
    last_error_ = "timed out waiting for the reply to " + method;
    return std::nullopt;
  }

  // Opens `url` in a new tab; the session id for call(), "" when that failed.
  std::string open(const std::string& url) {
    const auto target = call("Target.createTarget", {{"url", url}});
    if (!target) return "";
    const auto attached =
        call("Target.attachToTarget", {{"targetId", (*target)["targetId"]}, {"flatten", true}});
    return attached ? (*attached)["sessionId"].get<std::string>() : "";
  }

  // The value of a JavaScript expression in the page (a string, number, ...), or null.
  nlohmann::json eval(const std::string& session, const std::string& expression) {
    const auto r =
        call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}}, session);
    if (!r || !r->contains("result")) return nullptr;
    return (*r)["result"].value("value", nlohmann::json());
  }

  const std::string& last_error() const { return last_error_; }

 private:
  pid_t pid_ = -1;
  int write_fd_ = -1, read_fd_ = -1;
  int last_id_ = 0;
  std::string buffer_;
  std::string last_error_;
};

// Standard base64 (Page.captureScreenshot's "data") to bytes; "" on anything else.
inline std::string base64_decode(const std::string& in) {
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (const char c : in) {
    int d = -1;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    if (c >= '0' && c <= '9') d = c - '0' + 52;
    if (c == '+') d = 62;
    if (c == '/') d = 63;
    if (c == '=') break;
    if (d < 0) return "";
    value = (value << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace wslat::test
