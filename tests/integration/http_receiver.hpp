// A tiny HTTP server for tests that need to receive what wslat sends (alert webhooks): loopback,
// ephemeral port, one request per connection, every request kept. Answers 200 "ok", or what the
// test gives, that many times over (a hostile proxy's answer to CONNECT).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wslat::test {

struct ReceivedRequest {
  std::string method, path, head, body;
};

class HttpReceiver {
 public:
  HttpReceiver()
      : HttpReceiver("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok") {}
  explicit HttpReceiver(std::string reply, int repeat = 1)
      : reply_(std::move(reply)), repeat_(repeat) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind/listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpReceiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<ReceivedRequest> requests() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }

  // Reads one request (bounded: 5 s without data ends it), answers 200, keeps it.
  void handle(int c) {
    std::string data;
    std::size_t body_at = std::string::npos, length = 0;
    char buf[8192];
    while (!stop_) {
      if (body_at == std::string::npos) {
        body_at = data.find("\r\n\r\n");
        if (body_at != std::string::npos) {
          body_at += 4;
          const std::string head = lower(data.substr(0, body_at));
          const auto cl = head.find("content-length:");
          if (cl != std::string::npos) length = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
        }
      }
      if (body_at != std::string::npos && data.size() >= body_at + length) break;
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      const ssize_t got = ::read(c, buf, sizeof buf);
      if (got <= 0) return;
      data.append(buf, static_cast<std::size_t>(got));
    }
    if (body_at == std::string::npos) return;
    ReceivedRequest r;
    r.head = data.substr(0, body_at);
    r.body = data.substr(body_at, length);
    const auto sp1 = r.head.find(' ');
    const auto sp2 = r.head.find(' ', sp1 + 1);
    r.method = r.head.substr(0, sp1);
    r.path = r.head.substr(sp1 + 1, sp2 - sp1 - 1);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(std::move(r));
    }
    // Until the peer closes (MSG_NOSIGNAL: its EPIPE ends the loop, not the test process).
    for (int i = 0; i < repeat_ && !stop_; ++i) {
      for (std::size_t sent = 0; sent < reply_.size();) {
        const ssize_t n = ::send(c, reply_.data() + sent, reply_.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
      }
    }
  }

  static std::string lower(std::string s) {
    for (char& ch : s) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    return s;
  }

  std::string reply_;
  int repeat_ = 1;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;
  std::thread thread_;
};

}  // namespace wslat::test
