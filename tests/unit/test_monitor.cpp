// `wslat monitor`'s pure parts (lib/monitor.hpp): adding probes up, the jittered pause and the
// listen address.
#include <doctest/doctest.h>

#include "error.hpp"
#include "monitor.hpp"

namespace {

wslat::RunResult probe(std::int64_t attempted, std::int64_t opened, std::int64_t handshake_ms) {
  wslat::RunResult r;
  r.scenario_name = "chat";
  r.target = "ws://127.0.0.1:1/";
  r.profile_name = "local";
  r.attempted = attempted;
  r.opened = opened;
  r.failed = attempted - opened;
  if (r.failed > 0) r.errors["connect.refused"] = r.failed;
  for (std::int64_t i = 0; i < opened; ++i) {
    r.metrics["handshake"].histogram.record_ns(handshake_ms * 1'000'000);
  }
  r.counters["msgs_sent"].total = opened;
  r.duration_ms = 250;
  wslat::ThresholdOutcome t;
  t.metric = "handshake";
  t.expr = "p95 < 3s";
  t.pass = handshake_ms < 3000;
  r.thresholds = {t};
  return r;
}

}  // namespace

TEST_CASE("monitor totals add the probes up - the last probe decides success and thresholds") {
  wslat::MonitorTotals t;
  t.add_probe(probe(2, 2, 5), 100.0);
  t.add_probe(probe(2, 0, 0), 130.0);
  t.add_probe(probe(2, 2, 4000), 160.5);
  CHECK(t.total.scenario_name == "chat");
  CHECK(t.total.attempted == 6);
  CHECK(t.total.opened == 4);
  CHECK(t.total.failed == 2);
  CHECK(t.total.errors.at("connect.refused") == 2);
  CHECK(t.total.metrics.at("handshake").histogram.count() == 4);
  CHECK(t.total.counters.at("msgs_sent").total == 4);
  REQUIRE(t.total.thresholds.size() == 1);
  CHECK_FALSE(t.total.thresholds[0].pass);
  CHECK(t.stats.probes == 3);
  CHECK(t.stats.failed_probes == 1);
  CHECK(t.stats.last_success);
  CHECK(t.stats.last_probe_unix_s == 160.5);
  CHECK(t.stats.last_probe_duration_s == 0.25);
  t.add_probe(probe(1, 0, 0), 190.0);
  CHECK_FALSE(t.stats.last_success);
  CHECK(t.stats.failed_probes == 2);
}

TEST_CASE("monitor pauses vary by at most the jitter around the interval") {
  using std::chrono::milliseconds;
  const wslat::Duration every = milliseconds(1000);
  CHECK(wslat::jittered_interval(every, 0.1, 0.0) == milliseconds(900));
  CHECK(wslat::jittered_interval(every, 0.1, 0.5) == milliseconds(1000));
  CHECK(wslat::jittered_interval(every, 0.1, 0.999) < milliseconds(1100));
  CHECK(wslat::jittered_interval(every, 0.1, 0.999) > milliseconds(1099));
  CHECK(wslat::jittered_interval(every, 0.0, 0.3) == every);
}

TEST_CASE("monitor listen addresses: loopback by default, ports from 0 to 65535") {
  const auto a = wslat::parse_listen_address("127.0.0.1:9469", false);
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 9469);
  CHECK(a.loopback);
  CHECK(wslat::parse_listen_address("[::1]:0", false).host == "::1");
  CHECK(wslat::parse_listen_address("localhost:1", false).loopback);
  CHECK(wslat::parse_listen_address("127.1.2.3:1", false).loopback);
  CHECK_FALSE(wslat::parse_listen_address("0.0.0.0:9469", true).loopback);
  CHECK_THROWS_WITH_AS(wslat::parse_listen_address("0.0.0.0:9469", false),
                       doctest::Contains("--allow-remote"), wslat::UsageError);
  CHECK_THROWS_WITH_AS(wslat::parse_listen_address("[::]:9469", false),
                       doctest::Contains("not a loopback address"), wslat::UsageError);
  CHECK_THROWS_AS(wslat::parse_listen_address("127.0.0.1", false), wslat::UsageError);
  CHECK_THROWS_AS(wslat::parse_listen_address("127.0.0.1:65536", false), wslat::UsageError);
  CHECK_THROWS_AS(wslat::parse_listen_address("127.0.0.1:-1", false), wslat::UsageError);
  CHECK_THROWS_AS(wslat::parse_listen_address("::1:9469", false), wslat::UsageError);
  CHECK_THROWS_WITH_AS(wslat::parse_listen_address("example.com:9469", true),
                       doctest::Contains("IP address or localhost"), wslat::UsageError);
}
