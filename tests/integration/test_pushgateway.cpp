// `wslat run --push URL` end to end: a real Prometheus Pushgateway (Debian package
// prometheus-pushgateway, started here on a free loopback port) receives the run's final
// metrics under job=wslat/scenario/target/profile, and a second run of the same group replaces
// the first (PUT). "peer": skipped with a message when the Pushgateway is not installed.
// Plus the usage error and a Pushgateway that is not there (a warning, the verdict kept).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "harness.hpp"
#include "prometheus_text.hpp"
#include "third_party.hpp"

namespace {

using wslat::test::echo_scenario_file;
using wslat::test::http_get;
using wslat::test::run_wslat;
using wslat::test::start_serve;

constexpr const char* kPushgateway = "/usr/bin/prometheus-pushgateway";

// The Pushgateway on a free loopback port (another port when the one picked was taken in the
// meantime: up to 5 tries), ready to take pushes; stopped on destruction.
class Pushgateway {
 public:
  explicit Pushgateway(const std::string& log) {
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      const int port = wslat::test::pick_free_port("127.0.0.1");
      start(port, log);
      for (int i = 0; i < 200; ++i) {  // up to about 10 s to answer
        if (http_get(port, "/-/ready").find(" 200 ") != std::string::npos) {
          port_ = port;
          break;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // it exited: the port was taken
          pid_ = -1;
          break;
        }
        ::poll(nullptr, 0, 50);
      }
      if (port_ == 0) stop();
    }
    if (port_ == 0) {
      throw std::runtime_error("the Pushgateway did not start: " + wslat::test::read_file(log));
    }
  }
  ~Pushgateway() { stop(); }
  Pushgateway(const Pushgateway&) = delete;
  Pushgateway& operator=(const Pushgateway&) = delete;
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void start(int port, const std::string& log) {
    pid_ = wslat::test::spawn_logged(
        {kPushgateway, "--web.listen-address=127.0.0.1:" + std::to_string(port),
         // Debian's default persists to /var/lib: memory only here.
         "--persistence.file=", "--log.level=warn"},
        log);
    if (pid_ < 0) throw std::runtime_error("fork");
  }
  void stop() { wslat::test::stop_child(pid_, std::chrono::seconds(10)); }
  int pid_ = -1;
  int port_ = 0;
};

// The body of an HTTP/1.1 response, chunked transfer encoding undone (the Pushgateway chunks
// its /metrics).
std::string body_unchunked(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  if (end == std::string::npos) return "";
  if (response.substr(0, end).find("Transfer-Encoding: chunked") == std::string::npos) {
    return response.substr(end + 4);
  }
  std::string out;
  std::size_t at = end + 4;
  while (at < response.size()) {
    const auto eol = response.find("\r\n", at);
    if (eol == std::string::npos) break;
    const std::size_t size = std::strtoul(response.c_str() + at, nullptr, 16);
    if (size == 0) break;
    out += response.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
  return out;
}

// The value of the one line of `text` naming `name` with every label of `labels`; -1 if none.
double sample_with(const std::string& text, const std::string& name,
                   const std::vector<std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return -1;
}

}  // namespace

TEST_CASE("run --push: a real Pushgateway holds the run's histograms under its grouping key" *
          doctest::test_suite("peer")) {
  if (::access(kPushgateway, X_OK) != 0) {
    MESSAGE("skipped: " << kPushgateway
                        << " is not installed (Debian package prometheus-pushgateway)");
    return;
  }
  Pushgateway gateway(wslat::test::temp_dir() + "/pushgateway.log");
  auto server = start_serve();
  const std::string scenario = echo_scenario_file("push-run", server.url(), 3);
  const auto r =
      run_wslat({"run", scenario, "--env", "staging", "--no-save", "-q", "--push", gateway.url()});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.find("--push") == std::string::npos);
  const std::vector<std::string> group = {R"(job="wslat")", R"(scenario="push-run")",
                                          R"(target=")" + server.url() + R"(")",
                                          R"(profile="staging")"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), group.begin(), group.end());
    return extra;
  };
  std::string metrics = body_unchunked(http_get(gateway.port()));
  const auto value = [&](const char* name, std::vector<std::string> labels) {
    return sample_with(metrics, name, with(std::move(labels)));
  };
  const std::string hs = "phase=\"handshake\"";
  // The Pushgateway re-renders bounds in its own way (le="6e-05"); these stay as they are.
  CHECK(value("wslat_phase_duration_seconds_count", {hs}) == 3);
  CHECK(value("wslat_phase_duration_seconds_bucket", {hs, "le=\"+Inf\""}) == 3);
  CHECK(value("wslat_phase_duration_seconds_bucket", {"phase=\"e2e\"", "le=\"60\""}) == 3);
  CHECK(value("wslat_phase_duration_seconds_bucket", {hs, "le=\"1e-05\""}) == 0);
  CHECK(sample_with(metrics, "wslat_connections_opened_total", group) == 3);
  CHECK(sample_with(metrics, "wslat_run_exit_code", group) == 0);
  CHECK(sample_with(metrics, "push_time_seconds", group) > 1.7e9);

  // The same group again: replaced, not added to (PUT).
  const std::string smaller = echo_scenario_file("push-run", server.url(), 1);
  CHECK(run_wslat(
            {"run", smaller, "--env", "staging", "--no-save", "-q", "--push", gateway.url() + "/"})
            .exit_code == 0);
  metrics = body_unchunked(http_get(gateway.port()));
  CHECK(value("wslat_phase_duration_seconds_count", {hs}) == 1);
}

TEST_CASE("run --push: a bad URL is a usage error, a Pushgateway that is not there a warning") {
  auto server = start_serve();
  const std::string scenario = echo_scenario_file("push-errors", server.url(), 1);
  const auto bad = run_wslat({"run", scenario, "--no-save", "-q", "--push", "127.0.0.1:9091"});
  CHECK(bad.exit_code == 64);
  CHECK(bad.err.find("--push 127.0.0.1:9091: expected an http:// or https:// URL") !=
        std::string::npos);
  // Nobody listens there: the run is still measured, stored and judged; the push is a warning.
  const std::string results = wslat::test::temp_dir() + "/push-results";
  const auto lost =
      run_wslat({"run", scenario, "-q", "--results-dir", results, "--push",
                 "http://127.0.0.1:" + std::to_string(wslat::test::pick_free_port("127.0.0.1"))});
  CHECK(lost.exit_code == 0);
  CHECK(lost.err.find("wslat: warning: --push failed: ") != std::string::npos);
  CHECK(wslat::test::files_under(results).size() == 1);
}
