// The live dashboard's push channel: GET /api/events on the monitor's listener streams every
// probe as a server-sent event, to at most --live-clients clients at once, and a SIGTERM with
// clients connected still ends the monitor promptly (their streams end, exit 0).
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"
#include "prometheus_text.hpp"

namespace {

using wslat::test::BackgroundServer;
using wslat::test::body_of;
using wslat::test::Child;
using wslat::test::echo_scenario_file;
using wslat::test::http_get;
using wslat::test::metrics_port;
using wslat::test::port_of;
using wslat::test::prom_sample;

// A raw HTTP/1.0 client of /api/events (no chunked encoding: the stream is the body as is).
class EventClient {
 public:
  explicit EventClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    const std::string request = "GET /api/events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(::write(fd_, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  }
  ~EventClient() { close(); }
  EventClient(const EventClient&) = delete;
  EventClient& operator=(const EventClient&) = delete;
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Reads until `pred(text so far)` holds, the stream ends or `ms` pass; returns pred.
  template <typename Pred>
  bool read_until(Pred pred, int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!pred(text_) && !eof_ && std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[65536];
      const ssize_t got = ::read(fd_, buf, sizeof buf);
      if (got <= 0) {
        eof_ = true;
        break;
      }
      text_.append(buf, static_cast<std::size_t>(got));
    }
    return pred(text_);
  }
  bool eof() const { return eof_; }
  const std::string& text() const { return text_; }

 private:
  int fd_ = -1;
  std::string text_;
  bool eof_ = false;
};

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The data of every "probe" event, parsed.
std::vector<nlohmann::json> probe_events(const std::string& text) {
  std::vector<nlohmann::json> out;
  const std::string head = "event: probe\ndata: ";
  for (auto at = text.find(head); at != std::string::npos; at = text.find(head, at + 1)) {
    const auto end = text.find('\n', at + head.size());
    if (end == std::string::npos) break;
    out.push_back(nlohmann::json::parse(text.substr(at + head.size(), end - at - head.size())));
  }
  return out;
}

}  // namespace

TEST_CASE("monitor pushes every probe to live dashboards as server-sent events") {
  BackgroundServer server({wslat::test::wslat_binary(), "serve", "--port", "0"});
  Child c({"monitor", echo_scenario_file("live-events", server.url(), 1), "--every", "150ms",
           "--for", "60s", "--listen", "127.0.0.1:0", "-q", "--live-clients", "2"});
  const int port = metrics_port(c);
  REQUIRE(port > 0);

  EventClient a(port);
  EventClient b(port);
  // The first event is the whole of /api/samples; then one event per probe, as it happens.
  REQUIRE(
      a.read_until([](const std::string& t) { return count_of(t, "event: probe\n") >= 3; }, 30000));
  CHECK(a.text().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(a.text().find("Content-Type: text/event-stream") != std::string::npos);
  const auto first = a.text().find("event: samples\ndata: {");
  CHECK(first != std::string::npos);
  CHECK(first < a.text().find("event: probe\n"));
  const auto events = probe_events(a.text());
  REQUIRE(events.size() >= 3);
  for (std::size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i]["scenario"] == "live-events");
    REQUIRE(events[i]["samples"].size() == 1);  // only the new probe, not the whole hour
    CHECK(events[i]["samples"][0]["ok"] == true);
    CHECK(events[i]["samples"][0]["phases"]["handshake"].size() == 2);
    if (i > 0) CHECK(events[i]["probes"].get<int>() == events[i - 1]["probes"].get<int>() + 1);
  }
  REQUIRE(
      b.read_until([](const std::string& t) { return count_of(t, "event: probe\n") >= 1; }, 30000));

  // A third live client is refused (503, the page then polls); scrapes still get through.
  const std::string refused = http_get(port, "/api/events");
  CHECK(refused.find(" 503 ") != std::string::npos);
  CHECK(refused.find("Retry-After: 30") != std::string::npos);
  CHECK(body_of(refused).find("--live-clients 2") != std::string::npos);
  CHECK(prom_sample(body_of(http_get(port)), "wslat_probes_total") >= 3);

  // A client that leaves frees its place (noticed at the next event it is sent).
  b.close();
  std::optional<EventClient> again;
  for (int i = 0; i < 100 && !again; ++i) {  // bounded: 100 tries, each at least 100 ms
    again.emplace(port);
    if (!again->read_until([](const std::string& t) { return t.find("\r\n\r\n") != t.npos; },
                           5000) ||
        again->text().find(" 200 OK") == std::string::npos) {
      again.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  REQUIRE(again.has_value());
  CHECK(again->read_until([](const std::string& t) { return t.find("event: samples") != t.npos; },
                          10000));

  // SIGTERM with two clients connected: the monitor ends at once, and so do their streams.
  const auto t0 = std::chrono::steady_clock::now();
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(took < 10.0);  // generous: the heartbeat is 5 s and a probe lasts ms
  CHECK(a.read_until([](const std::string&) { return false; }, 10000) == false);
  CHECK(a.eof());
  CHECK(again->read_until([](const std::string&) { return false; }, 10000) == false);
  CHECK(again->eof());
}

TEST_CASE("monitor --live-clients out of range is a usage error") {
  const std::string file = echo_scenario_file("live-bad", "ws://127.0.0.1:9/", 1);
  auto r = wslat::test::run_wslat({"monitor", file, "--live-clients", "0"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("--live-clients 0: expected from 1 to 16") != std::string::npos);
  // --target takes one URL: the scenario may follow it (as before --target could repeat).
  r = wslat::test::run_wslat(
      {"monitor", "--target", "ws://127.0.0.1:9/", file, "--live-clients", "17"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("--live-clients 17: expected from 1 to 16") != std::string::npos);
}

TEST_CASE("monitor probes several targets in turn: metrics, window gauges and pages per target") {
  BackgroundServer fast({wslat::test::wslat_binary(), "serve", "--port", "0"});
  BackgroundServer slow(
      {wslat::test::wslat_binary(), "serve", "--port", "0", "--handshake-delay", "40ms"});
  Child c({"monitor", echo_scenario_file("live-targets", fast.url(), 1), "--target", fast.url(),
           "--target", slow.url(), "--every", "150ms", "--for", "60s", "--listen", "127.0.0.1:0",
           "-q", "--window", "1m"});
  REQUIRE(c.pump_until([&] { return c.out().find("/metrics") != std::string::npos; }, 20000));
  CHECK(c.out().find("at 2 targets") != std::string::npos);
  const int port = port_of(c.out());
  const std::string fast_probes =
      "wslat_probes_total{scenario=\"live-targets\",target=\"" + fast.url() + "\"";
  const std::string slow_probes =
      "wslat_probes_total{scenario=\"live-targets\",target=\"" + slow.url() + "\"";
  std::string metrics;
  REQUIRE(c.pump_until(
      [&] {
        metrics = body_of(http_get(port));
        return prom_sample(metrics, fast_probes) >= 3 && prom_sample(metrics, slow_probes) >= 3;
      },
      40000));
  if (wslat::test::have_promtool()) CHECK(wslat::test::promtool_problems(metrics) == "");
  CHECK(count_of(metrics, "# TYPE wslat_probes_total counter\n") == 1);
  // The rolling window's p50 per target: the slow target's handshake includes its 40 ms.
  const auto window_p50 = [&](const std::string& url) {
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("wslat_window_phase_p50_seconds{", 0) == 0 &&
          line.find("target=\"" + url + "\"") != std::string::npos &&
          line.find("phase=\"handshake\"") != std::string::npos) {
        return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
      }
    }
    return -1.0;
  };
  CHECK(window_p50(fast.url()) > 0);
  CHECK(window_p50(fast.url()) < 0.030);
  CHECK(window_p50(slow.url()) >= 0.040);
  CHECK(prom_sample(metrics, "wslat_window_seconds{scenario=\"live-targets\",target=\"" +
                                 slow.url() + "\"") == 60);

  // /api/samples: the first target unless ?target= names another; the list of targets.
  const auto first = nlohmann::json::parse(body_of(http_get(port, "/api/samples")));
  CHECK(first["target"] == fast.url());
  CHECK(first["targets"] == nlohmann::json::array({fast.url(), slow.url()}));
  CHECK(first["window"]["seconds"] == 60);
  CHECK(first["window"]["phases"]["handshake"]["p50_ms"].get<double>() < 30);
  const auto second =
      nlohmann::json::parse(body_of(http_get(port, "/api/samples?target=" + slow.url())));
  CHECK(second["target"] == slow.url());
  CHECK(second["window"]["phases"]["handshake"]["p50_ms"].get<double>() >= 40);
  CHECK(http_get(port, "/api/samples?target=ws://nowhere/").find(" 404 ") != std::string::npos);
  c.signal(SIGTERM);
  CHECK(c.wait(20000) == 0);
}

TEST_CASE("monitor --target twice with the same URL or --window 0 is a usage error") {
  const std::string file = echo_scenario_file("live-dup", "ws://127.0.0.1:9/", 1);
  auto r = wslat::test::run_wslat(
      {"monitor", file, "--target", "ws://127.0.0.1:9/", "--target", "ws://127.0.0.1:9/"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("given twice") != std::string::npos);
  r = wslat::test::run_wslat({"monitor", file, "--window", "0s"});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("--window 0s: must be longer than 0") != std::string::npos);
}
