// Helpers of the Prometheus tests (test_prometheus*.cpp, test_monitor*.cpp): a small echo
// scenario, a plain HTTP GET on loopback, reading one sample out of an exposition, the port a
// monitor announces, and
// `promtool check metrics` (Debian package prometheus).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"

namespace wslat::test {

inline constexpr const char* kPromtool = "/usr/bin/promtool";

// `connections` connections one after the other, each sending "hello" and expecting it back.
inline std::string echo_scenario_file(const std::string& name, const std::string& url,
                                      int connections) {
  using nlohmann::json;
  const json s = {
      {"name", name},
      {"target", url},
      {"load", {{"connections", connections}, {"concurrency", 1}}},
      {"timeouts", {{"connect", "2s"}, {"handshake", "2s"}, {"message", "2s"}, {"close", "2s"}}},
      {"steps", json::array({{{"connect", json::object()}},
                             {{"send", {{"text", "hello"}}}},
                             {{"expect", {{"text", "hello"}, {"within", "2s"}}}},
                             {{"close", {{"code", 1000}}}}})}};
  return write_temp_file(name + ".json", s.dump(2));
}

// The value of the first sample whose name and labels start with `prefix` (-1 when none).
inline double prom_sample(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
    }
  }
  return -1;
}

// GET `path` over plain HTTP/1.1 (Connection: close): the whole response, "" on any failure.
inline std::string http_get(int port, const std::string& path = "/metrics") {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[65536];
      for (int i = 0; i < 1000; ++i) {  // bounded: at most 1000 reads of up to 5 s each
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) break;
        const ssize_t got = ::read(fd, buf, sizeof buf);
        if (got <= 0) break;
        response.append(buf, static_cast<std::size_t>(got));
      }
    }
  }
  ::close(fd);
  return response;
}

inline std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

// The port of the first "http://127.0.0.1:PORT" in `announced` (e.g. `wslat monitor`'s first
// line), 0 when there is none.
inline int port_of(const std::string& announced) {
  const std::string prefix = "http://127.0.0.1:";
  const auto at = announced.find(prefix);
  return at == std::string::npos ? 0 : std::atoi(announced.c_str() + at + prefix.size());
}

// Reads a `wslat monitor` child's output until it announces its /metrics address (up to 20 s):
// the port, 0 when it did not.
inline int metrics_port(Child& c) {
  if (!c.pump_until([&] { return c.out().find("/metrics") != std::string::npos; }, 20000)) {
    return 0;
  }
  return port_of(c.out());
}

inline bool have_promtool() { return ::access(kPromtool, X_OK) == 0; }

// `promtool check metrics` on `text`: "" when it passes, else its exit code and complaints.
inline std::string promtool_problems(const std::string& text) {
  const std::string file = write_temp_file("metrics.prom", text);
  const auto r =
      run_process({"/bin/sh", "-c", std::string(kPromtool) + " check metrics < '" + file + "'"});
  return r.exit_code == 0 ? "" : "exit " + std::to_string(r.exit_code) + ": " + r.out + r.err;
}

}  // namespace wslat::test
