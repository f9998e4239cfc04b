// The live sample seam (LiveSample, RunOptions::on_progress): snapshots read while a run
// against the embedded server lasts only grow, and the one taken after the workers stopped
// equals the RawRun the run returns. In-process (run_scenario), hence this directory.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "profile.hpp"
#include "runner.hpp"
#include "scenario.hpp"
#include "server.hpp"

namespace wslat {
namespace {

Scenario live_scenario(const std::string& load) {
  const std::string text = R"({"name": "live", "target": "embedded", "load": )" + load + R"(,
    "timeouts": {"connect": "5s", "handshake": "5s", "message": "5s", "close": "2s"},
    "steps": [{"connect": {}}, {"send": {"text": "hi"}}, {"expect": {"text": "hi"}},
              {"sleep": "100ms"}, {"close": {}}]})";
  return parse_scenario(text, "live.json", [](const std::string&) { return std::nullopt; });
}

struct Recorded {
  std::vector<LiveSample> live;  // during the run
  std::vector<LiveSample> final;
  RawRun raw;
};

Recorded run_recording(const Scenario& scenario, const ServerOptions& server_opts, int threads) {
  EmbeddedServer server(server_opts);
  server.start();
  RunOptions opts;
  opts.target = server.url();
  opts.timeouts = unscaled_timeouts(scenario.timeouts);
  opts.load = scenario.load;
  opts.threads = threads;
  Recorded rec;
  opts.on_progress = [&rec](const LiveSample& s) { (s.final ? rec.final : rec.live).push_back(s); };
  rec.raw = run_scenario(scenario, opts);
  server.stop();
  return rec;
}

std::map<std::string, std::int64_t> counts(const std::map<std::string, Histogram>& metrics) {
  std::map<std::string, std::int64_t> out;
  for (const auto& [name, h] : metrics) out[name] = h.count();
  return out;
}

// Every count of `later` is at least the one of `earlier`.
void check_not_less(const LiveSample& earlier, const LiveSample& later) {
  for (const auto& [name, h] : earlier.metrics) {
    const auto it = later.metrics.find(name);
    REQUIRE(it != later.metrics.end());
    CHECK(it->second.count() >= h.count());
  }
  for (const auto& [category, n] : earlier.errors) {
    const auto it = later.errors.find(category);
    REQUIRE(it != later.errors.end());
    CHECK(it->second >= n);
  }
  CHECK(later.attempted >= earlier.attempted);
  CHECK(later.opened >= earlier.opened);
  CHECK(later.failed >= earlier.failed);
  CHECK(later.done >= earlier.done);
  CHECK(later.elapsed_s >= earlier.elapsed_s);
}

void check_equals_raw(const LiveSample& s, const RawRun& raw) {
  CHECK(counts(s.metrics) == counts(raw.metrics));
  for (const auto& [name, h] : raw.metrics) CHECK(s.metrics.at(name) == h);
  CHECK(s.errors == raw.errors);
  CHECK(s.attempted == raw.attempted);
  CHECK(s.opened == raw.opened);
  CHECK(s.failed == raw.failed);
  CHECK(s.counters == raw.counters);
}

TEST_CASE("live sample: snapshots during a run only grow, and the last one equals the result") {
  // 40 sessions, 4 at a time, each sleeping 100 ms: at least 1 s, about four progress ticks.
  const Scenario scenario = live_scenario(R"({"connections": 40, "concurrency": 4})");
  const Recorded rec = run_recording(scenario, ServerOptions{}, 2);

  REQUIRE(rec.live.size() >= 2);
  for (std::size_t i = 1; i < rec.live.size(); ++i) check_not_less(rec.live[i - 1], rec.live[i]);
  CHECK(rec.live.front().total == 40);
  REQUIRE(rec.final.size() == 1);
  const LiveSample& last = rec.final.front();
  check_not_less(rec.live.back(), last);
  check_equals_raw(last, rec.raw);
  CHECK(last.done == 40);
  CHECK(last.attempted == 40);
  CHECK(last.metrics.at("handshake").count() == 40);
  CHECK(last.metrics.at("rtt").count() == 40);
  CHECK(last.p95_handshake_ms() > 0);
}

TEST_CASE("live sample: errors are counted live and the last sample has the result's errors") {
  ServerOptions server;
  server.reject_status = 503;
  const Scenario scenario = live_scenario(R"({"connections": 30, "concurrency": 3})");
  const Recorded rec = run_recording(scenario, server, 2);

  for (std::size_t i = 1; i < rec.live.size(); ++i) check_not_less(rec.live[i - 1], rec.live[i]);
  REQUIRE(rec.final.size() == 1);
  const LiveSample& last = rec.final.front();
  if (!rec.live.empty()) check_not_less(rec.live.back(), last);
  check_equals_raw(last, rec.raw);
  CHECK(last.errors == std::map<std::string, std::int64_t>{{"http.503", 30}});
  CHECK(last.failed == 30);
  CHECK(last.opened == 0);
}

TEST_CASE("live sample: counters count every echoed message and byte, exactly, live and final") {
  // 6 connections x 5 round trips of a 100-byte binary message and a 7-byte text message.
  const std::string text = R"({"name": "counted", "target": "embedded",
    "load": {"connections": 6, "concurrency": 3},
    "timeouts": {"connect": "5s", "handshake": "5s", "message": "5s", "close": "2s"},
    "steps": [{"connect": {}},
              {"repeat": {"times": 5, "steps": [
                {"send": {"size": 100}}, {"expect": {"any": true}},
                {"send": {"text": "hello-${connection}"}}, {"expect": {"any": true}}]}},
              {"ping": {}}, {"close": {}}]})";
  const Scenario scenario =
      parse_scenario(text, "counted.json", [](const std::string&) { return std::nullopt; });
  const Recorded rec = run_recording(scenario, ServerOptions{}, 2);

  REQUIRE(rec.final.size() == 1);
  const LiveSample& last = rec.final.front();
  check_equals_raw(last, rec.raw);
  CHECK(last.counters == rec.raw.counters);
  for (std::size_t i = 1; i < rec.live.size(); ++i) {
    for (const auto& [name, c] : rec.live[i - 1].counters) {
      CHECK(rec.live[i].counters.at(name).total >= c.total);
    }
  }
  // Data messages only: the ping, the pong and the close frames are not counted; bytes are
  // payload bytes ("hello-0".size() == 7 for every connection index 0..5).
  const std::int64_t messages = 6 * 5 * 2, bytes = 6 * 5 * (100 + 7);
  // The registry's counters: rules', rooms', permessage-deflate's and reconnects' included.
  REQUIRE(rec.raw.counters.size() == 14);
  for (const char* name : {"msgs_sent", "msgs_received"}) {
    CAPTURE(name);
    const Counter& c = rec.raw.counters.at(name);
    CHECK(c.total == messages);
    CHECK(c.connections == 6);
    CHECK(c.min == 10);
    CHECK(c.max == 10);
    CHECK(c.mean() == 10);
  }
  for (const char* name : {"bytes_sent", "bytes_received"}) {
    CAPTURE(name);
    const Counter& c = rec.raw.counters.at(name);
    CHECK(c.total == bytes);
    CHECK(c.connections == 6);
    CHECK(c.min == 5 * 107);
    CHECK(c.max == 5 * 107);
  }
}

TEST_CASE(
    "live sample: dropped arrivals of the open model are in the last sample as in the result") {
  // One slot, sessions of 100 ms+, 40 arrivals/s for 0.5 s: most arrivals find no slot.
  const Scenario scenario =
      live_scenario(R"({"rate": "40/s", "duration": "500ms", "max_concurrency": 1})");
  const Recorded rec = run_recording(scenario, ServerOptions{}, 1);

  REQUIRE(rec.final.size() == 1);
  const LiveSample& last = rec.final.front();
  check_equals_raw(last, rec.raw);
  CHECK(rec.raw.load.dropped > 0);
  CHECK(last.errors.at("dropped") == rec.raw.load.dropped);
}

}  // namespace
}  // namespace wslat
