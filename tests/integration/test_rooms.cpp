// Chat rooms against the real Socket.IO server (tests/peers/socketio_server.js, rooms with an
// injected broadcast delay of 100 ms): roles, rooms, and the delivery latency every listener
// sees; a server told to skip a member shows exactly that member's deliveries missing.
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

constexpr double kDelayMs = 100;
constexpr double kNodeSlackMs = 4;  // Node's timers on a busy machine (test_protocols.cpp)
constexpr int kBroadcasts = 5;      // per sender
const std::string kSocketIoPath = "socket.io/?EIO=4&transport=websocket";

// The shipped chat-room scenario made small: 2 rooms of 1 sender and 4 listeners.
json two_small_rooms() {
  json s = json::parse(read_file(source_dir() + "/scenarios/chat-room.json"));
  s["rooms"]["size"] = 5;
  s["roles"]["listener"]["count"] = 4;
  s["load"] = {{"connections", 10}, {"concurrency", 10}};
  for (const char* role : {"sender", "listener"}) {
    for (auto& step : s["roles"][role]["steps"]) {
      if (step.contains("repeat")) step["repeat"]["times"] = kBroadcasts;
    }
  }
  return s;
}

struct Outcome {
  ProcessResult process;
  json result;
};

Outcome run_rooms(const json& scenario, const std::vector<std::string>& server_args) {
  std::vector<std::string> argv{"node",        source_dir() + "/tests/peers/socketio_server.js",
                                "--delay-ms",  std::to_string(static_cast<int>(kDelayMs)),
                                "--room-size", "5"};
  argv.insert(argv.end(), server_args.begin(), server_args.end());
  BackgroundServer server(argv);
  const std::string file = write_temp_file("chat-room.json", scenario.dump(2));
  Outcome o;
  o.process = run_wslat({"run", file, "--target", server.url() + kSocketIoPath, "--env",
                         "production", "--format", "json", "--no-save", "--quiet"},
                        std::chrono::seconds(90));
  INFO("stderr: " << o.process.err);
  REQUIRE_FALSE(o.process.timed_out);
  REQUIRE_FALSE(o.process.out.empty());
  o.result = json::parse(o.process.out);
  return o;
}

json threshold(const json& result, const std::string& metric) {
  for (const auto& t : result["thresholds"]) {
    if (t["metric"] == metric) return t;
  }
  FAIL("no threshold on " << metric);
  return {};
}

std::int64_t counter(const json& result, const std::string& name) {
  return result["counters"][name]["total"].get<std::int64_t>();
}

TEST_CASE("rooms: delivery latency in 2 Socket.IO rooms of 1 sender and 4 listeners" *
          doctest::test_suite("peer")) {
  const auto o = run_rooms(two_small_rooms(), {});
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(o.process.exit_code == 0);
  CHECK(r["connections"]["failed"] == 0);
  // Roles: each has its own copy of the metrics.
  CHECK(r["metrics"]["handshake@sender"]["count"] == 2);
  CHECK(r["metrics"]["handshake@listener"]["count"] == 8);
  CHECK(r["metrics"]["session@listener"]["count"] == 8);
  // Every listener got every broadcast of its room, none of the other room's.
  CHECK(counter(r, "broadcasts") == 2 * kBroadcasts);
  CHECK(counter(r, "delivery_missing") == 0);
  REQUIRE(r["metrics"].contains("delivery"));
  CHECK(r["metrics"]["delivery"]["count"] == 2 * kBroadcasts * 4);
  CHECK(r["metrics"]["delivery@listener"]["count"] == 2 * kBroadcasts * 4);
  const double p50 = r["metrics"]["delivery"]["p50"];
  CHECK(p50 >= kDelayMs * 0.99 - 0.5);
  CHECK(p50 <= kDelayMs * 1.01 + 0.5 + kNodeSlackMs);
  // Fan-out: one per broadcast, at least its slowest delivery.
  CHECK(r["metrics"]["fanout"]["count"] == 2 * kBroadcasts);
  CHECK(r["metrics"]["fanout"]["p50"].get<double>() >= p50);
  CHECK(threshold(r, "delivery_missing")["pass"] == true);
}

TEST_CASE("rooms: a Socket.IO server that skips a member shows exactly its deliveries missing" *
          doctest::test_suite("peer")) {
  json s = two_small_rooms();
  // Connection 3 (a listener of room 0) never gets a chat: its first expect times out after the
  // sender sent everything (5 x 200 ms), so it was open, and expected, at every broadcast.
  s["timeouts"]["message"] = "3s";
  const auto o = run_rooms(s, {"--skip-member", "3"});
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(counter(r, "broadcasts") == 2 * kBroadcasts);
  CHECK(counter(r, "delivery_missing") == kBroadcasts);
  CHECK(r["metrics"]["delivery"]["count"] == 2 * kBroadcasts * 4 - kBroadcasts);
  // Room 1 reached everyone every time; room 0 never did.
  CHECK(r["metrics"]["fanout"]["count"] == kBroadcasts);
  // The skipped member is the only failed connection, and its error names its role.
  CHECK(r["connections"]["failed"] == 1);
  CHECK(r["errors"] == json{{"message.timeout@listener", 1}});
  // The counter's own threshold fails the run.
  const json t = threshold(r, "delivery_missing");
  CHECK(t["pass"] == false);
  CHECK(t["actual"] == kBroadcasts);
  CHECK(o.process.exit_code != 0);
}

TEST_CASE("rooms: validate prints the role mix and the rooms") {
  const auto p =
      run_wslat({"validate", source_dir() + "/scenarios/chat-room.json"}, std::chrono::seconds(30));
  INFO(p.out << p.err);
  CHECK(p.exit_code == 0);
  CHECK(p.out.find("rooms      51 connections each") != std::string::npos);
  CHECK(p.out.find("102 connections: 2 room(s), the last full") != std::string::npos);
  CHECK(p.out.find("role       sender: 1 of every 51 (slots 0..0 of i % 51)") != std::string::npos);
  CHECK(p.out.find("role       listener: 50 of every 51 (slots 1..50 of i % 51)") !=
        std::string::npos);
  CHECK(p.out.find("delivery_missing count == 0") != std::string::npos);
}

TEST_CASE("rooms: a deliveries matcher on a variable not captured yet passes the message on") {
  // The embedded echo server returns the sender's own broadcast to it: not a delivery (the
  // sender is not its recipient), and the matcher cannot be built before ${var:me} is captured.
  const json s = json::parse(R"({
    "name": "rooms-unset",
    "target": "embedded",
    "deliveries": {"json": {"type": "chat", "from": "${var:me}"}, "id": {"json": "/id"}},
    "steps": [
      {"send": {"json": {"type": "chat", "id": "m1"}, "broadcast": {"id": {"json": "/id"}}}},
      {"expect": {"json": {"type": "chat"}, "capture": {"me": {"json": "/id"}}}}
    ],
    "thresholds": {}
  })");
  const std::string file = write_temp_file("rooms-unset.json", s.dump(2));
  const auto p = run_wslat({"run", file, "--format", "json", "--no-save", "--quiet"},
                           std::chrono::seconds(60));
  INFO("stderr: " << p.err);
  REQUIRE_FALSE(p.timed_out);
  CHECK(p.exit_code == 0);
  const json r = json::parse(p.out);
  CHECK(r["connections"]["failed"] == 0);
  CHECK(r["counters"]["broadcasts"]["total"] == 1);
  CHECK_FALSE(r["metrics"].contains("delivery"));
}

}  // namespace
}  // namespace wslat::test
