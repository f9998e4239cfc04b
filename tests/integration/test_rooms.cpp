// Chat rooms against real broadcast servers: the Socket.IO peer (tests/peers/socketio_server.js,
// rooms with an injected broadcast delay of 100 ms), a graphql-ws subscription fed by a mutation
// (tests/peers/graphql_ws_server.js, the same delay) and Debian's libwebsockets-test-server
// ("lws-mirror-protocol", no delay option): roles, rooms, and the delivery latency every
// listener sees; a server told to skip a member shows exactly that member's deliveries missing.
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "child.hpp"
#include "harness.hpp"
#include "third_party.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

constexpr double kDelayMs = 100;
constexpr double kNodeSlackMs = 8;  // Node's timers on a busy machine (test_protocols.cpp)
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

Outcome run_scenario(const json& scenario, const std::string& target) {
  const std::string file =
      write_temp_file(scenario["name"].get<std::string>() + ".json", scenario.dump(2));
  Outcome o;
  o.process = run_wslat({"run", file, "--target", target, "--env", "production", "--format", "json",
                         "--no-save", "--quiet"},
                        std::chrono::seconds(90));
  INFO("stderr: " << o.process.err);
  REQUIRE_FALSE(o.process.timed_out);
  REQUIRE_FALSE(o.process.out.empty());
  o.result = json::parse(o.process.out);
  return o;
}

// `peer` (tests/peers) with the broadcast delay and rooms of 5, then the scenario against it.
Outcome run_rooms(const json& scenario, const std::vector<std::string>& server_args,
                  const std::string& peer = "socketio_server.js",
                  const std::string& path = kSocketIoPath) {
  std::vector<std::string> argv{"node",        source_dir() + "/tests/peers/" + peer,
                                "--delay-ms",  std::to_string(static_cast<int>(kDelayMs)),
                                "--room-size", "5"};
  argv.insert(argv.end(), server_args.begin(), server_args.end());
  BackgroundServer server(argv);
  return run_scenario(scenario, server.url() + path);
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
  json s = two_small_rooms();
  // The send time in the message too: a broadcast of this process still takes the monotonic
  // clock, never the wall-clock "sent_at" (delivery_remote stays 0).
  for (auto& step : s["roles"]["sender"]["steps"]) {
    if (!step.contains("repeat")) continue;
    auto& send = step["repeat"]["steps"][0]["send"]["text"];
    send = "42[\"say\",{\"id\":\"${connection}-${iteration}\",\"text\":\"sent at ${now_us}\"}]";
  }
  s["deliveries"]["sent_at"] = {{"regex", "\"text\":\"sent at (\\d+)\""}, {"unit", "us"}};
  const auto o = run_rooms(s, {});
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
  CHECK(counter(r, "delivery_remote") == 0);
  for (const auto& w : r["warnings"])
    CHECK(w.get<std::string>().find("wall clocks") == std::string::npos);
}

TEST_CASE("rooms: a Socket.IO server that skips a member shows exactly its deliveries missing" *
          doctest::test_suite("peer")) {
  json s = two_small_rooms();
  // Connection 3 (a listener of room 0) never gets a chat: its first expect times out after the
  // sender sent everything (5 x 200 ms), so it was open, and expected, at every broadcast.
  s["timeouts"]["message"] = "3s";
  // Per role: the listeners missed them, the senders missed nothing.
  s["thresholds"]["delivery_missing@listener"] = {"count == 0"};
  s["thresholds"]["delivery_missing@sender"] = {"count == 0"};
  const auto o = run_rooms(s, {"--skip-member", "3"});
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(counter(r, "broadcasts") == 2 * kBroadcasts);
  CHECK(counter(r, "delivery_missing") == kBroadcasts);
  // Every counter per role too, COUNTER@ROLE, adding up to the run's.
  CHECK(counter(r, "broadcasts@sender") == 2 * kBroadcasts);
  CHECK(counter(r, "broadcasts@listener") == 0);
  CHECK(counter(r, "delivery_missing@listener") == kBroadcasts);
  CHECK(counter(r, "delivery_missing@sender") == 0);
  CHECK(counter(r, "msgs_sent@sender") + counter(r, "msgs_sent@listener") ==
        counter(r, "msgs_sent"));
  CHECK(r["counters"]["msgs_received@listener"]["per_connection"]["connections"] == 8);
  CHECK(threshold(r, "delivery_missing@listener")["pass"] == false);
  CHECK(threshold(r, "delivery_missing@listener")["actual"] == kBroadcasts);
  CHECK(threshold(r, "delivery_missing@sender")["pass"] == true);
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

// Presence: the Socket.IO peer with --presence 1 tells a room's members, after its delay, that
// another member joined; each member times the joins sent after its own.
TEST_CASE("rooms: presence latency - a join until the others see its presence event" *
          doctest::test_suite("peer")) {
  json s = two_small_rooms();
  const json member_id = {{"regex", "\"member\":(\\d+)"}};
  s["presence"] = {{"regex", "^42\\[\"joined\""}, {"id", member_id}};
  for (const char* role : {"sender", "listener"}) {
    for (auto& step : s["roles"][role]["steps"]) {
      if (step.contains("send") &&
          step["send"]["text"].get<std::string>().find("join") != std::string::npos) {
        step["send"]["join"] = {{"id", member_id}};
      }
    }
  }
  s["thresholds"]["presence_missing"] = {"count == 0"};
  const auto o = run_rooms(s, {"--presence", "1"});
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(o.process.exit_code == 0);
  CHECK(r["connections"]["failed"] == 0);
  // In a room of 5 the k-th member to join is seen by the k-1 before it: 0+1+2+3+4 per room.
  REQUIRE(r["metrics"].contains("presence"));
  CHECK(r["metrics"]["presence"]["count"] == 2 * 10);
  CHECK(counter(r, "presence_missing") == 0);
  const double p50 = r["metrics"]["presence"]["p50"];
  CHECK(p50 >= kDelayMs * 0.99 - 0.5);
  CHECK(p50 <= kDelayMs * 1.01 + 0.5 + kNodeSlackMs);
  // Deliveries are unaffected: presence events are not broadcasts.
  CHECK(r["metrics"]["delivery"]["count"] == 2 * kBroadcasts * 4);
  CHECK(counter(r, "delivery_missing") == 0);
}

TEST_CASE("rooms: presence events that never come are presence_missing") {
  // The embedded echo server returns the join to its sender only: nobody else sees it.
  const json s = json::parse(R"J({
    "name": "presence-none",
    "target": "embedded",
    "load": {"connections": 3, "concurrency": 3},
    "presence": {"regex": "^joined ", "id": {"regex": "^joined (\\d+)"}},
    "delivery_wait": "200ms",
    "steps": [
      {"send": {"text": "joined ${connection}", "join": {"id": {"regex": "^joined (\\d+)"}}}},
      {"sleep": "300ms"}
    ],
    "thresholds": {"presence_missing": ["count == 0"]}
  })J");
  const std::string file = write_temp_file("presence-none.json", s.dump(2));
  const auto p = run_wslat({"run", file, "--format", "json", "--no-save", "--quiet"},
                           std::chrono::seconds(60));
  INFO("stderr: " << p.err);
  REQUIRE_FALSE(p.timed_out);
  const json r = json::parse(p.out);
  CHECK(r["connections"]["failed"] == 0);
  // 3 joins, each expected by the members that joined before it: 0 + 1 + 2, none seen.
  CHECK(counter(r, "presence_missing") == 3);
  CHECK_FALSE(r["metrics"].contains("presence"));
  CHECK(threshold(r, "presence_missing")["pass"] == false);
  CHECK(p.exit_code != 0);
}

// graphql-ws: every member subscribes to its room; the sender's mutation feeds the others'
// subscriptions (after the server's 100 ms). 2 rooms of 1 sender and 4 listeners.
json graphql_rooms() {
  const json init = {
      {"send", {{"json", {{"type", "connection_init"}, {"payload", json::object()}}}}}};
  const json ack = {{"expect", {{"json", {{"type", "connection_ack"}}}}}};
  const json subscribe = {
      {"send",
       {{"json",
         {{"id", "room"},
          {"type", "subscribe"},
          {"payload",
           {{"query",
             "subscription { room(room: \"${room}\", member: \"${connection}\") "
             "{ kind id text member } }"}}}}}}}};
  const json ready = {
      {"expect", {{"json", {{"payload", {{"data", {{"room", {{"kind", "ready"}}}}}}}}}}}};
  const json say = {{"send",
                     {{"json",
                       {{"id", "say-${iteration}"},
                        {"type", "subscribe"},
                        {"payload",
                         {{"query",
                           "mutation($room: String!, $member: String!, $id: String!) "
                           "{ say(room: $room, member: $member, id: $id, text: \"hello\") }"},
                          {"variables",
                           {{"room", "${room}"},
                            {"member", "${connection}"},
                            {"id", "${connection}-${iteration}"}}}}}}},
                      {"broadcast", {{"id", {{"json", "/payload/variables/id"}}}}}}}};
  const json chat = {
      {"json", {{"type", "next"}, {"payload", {{"data", {{"room", {{"kind", "chat"}}}}}}}}}};
  json sender = json::array({init, ack, subscribe, ready});
  sender.push_back({{"repeat", {{"times", kBroadcasts}, {"steps", {say, {{"sleep", "200ms"}}}}}}});
  sender.push_back({{"close", json::object()}});
  json listener = json::array({init, ack, subscribe, ready});
  listener.push_back({{"repeat", {{"times", kBroadcasts}, {"steps", {{{"expect", chat}}}}}}});
  listener.push_back({{"close", json::object()}});
  json s = {
      {"name", "graphql-rooms"},
      {"subprotocols", {"graphql-transport-ws"}},
      {"load", {{"connections", 10}, {"concurrency", 10}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "10s"}, {"close", "2s"}}},
      {"rooms", {{"size", 5}}},
      {"deliveries", chat},
      {"roles",
       {{"sender", {{"count", 1}, {"steps", sender}}},
        {"listener", {{"count", 4}, {"steps", listener}}}}},
      {"thresholds", {{"delivery_missing", {"count == 0"}}}}};
  s["deliveries"]["id"] = {{"json", "/payload/data/room/id"}};
  s["deliveries"]["pass"] = true;
  return s;
}

TEST_CASE("rooms: delivery latency through a graphql-ws subscription fed by a mutation" *
          doctest::test_suite("peer")) {
  const auto o = run_rooms(graphql_rooms(), {}, "graphql_ws_server.js", "graphql");
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(o.process.exit_code == 0);
  CHECK(r["connections"]["failed"] == 0);
  CHECK(counter(r, "broadcasts") == 2 * kBroadcasts);
  CHECK(counter(r, "delivery_missing") == 0);
  REQUIRE(r["metrics"].contains("delivery"));
  CHECK(r["metrics"]["delivery"]["count"] == 2 * kBroadcasts * 4);
  const double p50 = r["metrics"]["delivery"]["p50"];
  CHECK(p50 >= kDelayMs * 0.99 - 0.5);
  CHECK(p50 <= kDelayMs * 1.01 + 0.5 + kNodeSlackMs);
  CHECK(r["metrics"]["fanout"]["count"] == 2 * kBroadcasts);
}

TEST_CASE("rooms: a graphql-ws server that skips a member shows exactly its deliveries missing" *
          doctest::test_suite("peer")) {
  json s = graphql_rooms();
  s["timeouts"]["message"] = "3s";
  const auto o = run_rooms(s, {"--skip-member", "6"}, "graphql_ws_server.js", "graphql");
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(counter(r, "delivery_missing") == kBroadcasts);
  CHECK(r["metrics"]["delivery"]["count"] == 2 * kBroadcasts * 4 - kBroadcasts);
  CHECK(r["metrics"]["fanout"]["count"] == kBroadcasts);  // room 0 only
  CHECK(r["errors"] == json{{"message.timeout@listener", 1}});
  CHECK(o.process.exit_code != 0);
}

// libwebsockets' mirror: every message a member of a mirror instance (?mirror=NAME) sends goes
// to every member, the sender included, at once. No "room full" message: a periodic rule has
// every member say "hello N" and the sender first waits for each listener's hello, so every
// listener was open (expected) before the first broadcast.
TEST_CASE("rooms: libwebsockets-test-server's mirror delivers to every member of the room" *
          doctest::test_suite("peer")) {
  if (!have_program("libwebsockets-test-server")) {
    FAIL(
        "libwebsockets-test-server is not installed: run scripts/install-deps.sh (Debian "
        "package libwebsockets-test-server)");
  }
  constexpr int kListeners = 9;
  json sender = json::array();
  for (int i = 1; i <= kListeners; ++i) {
    sender.push_back({{"expect", {{"text", "hello " + std::to_string(i)}}}});
  }
  sender.push_back({{"repeat",
                     {{"times", kBroadcasts},
                      {"steps",
                       {{{"send",
                          {{"text", "chat ${connection}-${iteration}"},
                           {"broadcast", {{"id", {{"regex", "^chat (\\S+)"}}}}}}}},
                        {{"sleep", "100ms"}}}}}}});
  sender.push_back({{"close", json::object()}});
  const json listener = json::array(
      {{{"repeat", {{"times", kBroadcasts}, {"steps", {{{"expect", {{"regex", "^chat "}}}}}}}}},
       {{"close", json::object()}}});
  const json s = {
      {"name", "lws-mirror-room"},
      {"subprotocols", {"lws-mirror-protocol"}},
      {"load", {{"connections", 1 + kListeners}, {"concurrency", 1 + kListeners}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "10s"}, {"close", "2s"}}},
      {"on", {{{"every", "50ms"}, {"send", {{"text", "hello ${connection}"}}}}}},
      {"deliveries", {{"regex", "^chat "}, {"id", {{"regex", "^chat (\\S+)"}}}, {"pass", true}}},
      {"roles",
       {{"sender", {{"count", 1}, {"steps", sender}}},
        {"listener", {{"count", kListeners}, {"steps", listener}}}}},
      {"thresholds", {{"delivery_missing", {"count == 0"}}}}};
  const std::string dir = temp_dir() + "/lws";
  REQUIRE(run_process({"mkdir", "-p", dir}).exit_code == 0);
  // It cannot listen on port 0 (no listener at all); -i lo keeps it on loopback.
  ThirdPartyServer lws(
      "127.0.0.1",
      [](int port) {
        return std::vector<std::string>{"libwebsockets-test-server",
                                        "--port=" + std::to_string(port), "-i", "lo"};
      },
      dir + "/lws.log");
  const auto o =
      run_scenario(s, "ws://127.0.0.1:" + std::to_string(lws.port()) + "/?mirror=room-0");
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(o.process.exit_code == 0);
  CHECK(r["connections"]["failed"] == 0);
  CHECK(counter(r, "broadcasts") == kBroadcasts);
  CHECK(counter(r, "delivery_missing") == 0);
  REQUIRE(r["metrics"].contains("delivery"));
  // Every listener got every broadcast; the sender's own copy is not a delivery.
  CHECK(r["metrics"]["delivery"]["count"] == kBroadcasts * kListeners);
  CHECK(r["metrics"]["fanout"]["count"] == kBroadcasts);
}

TEST_CASE("rooms: a shard holds whole rooms - the last of 2 shards runs room 2 of 3" *
          doctest::test_suite("peer")) {
  // 15 connections in rooms of 5: equal parts would give shard 2 connections 8..14, two members
  // of room 1 (which then never fills: the server's "ready" never comes) and room 2.
  json s = two_small_rooms();
  s["load"] = {{"connections", 15}, {"concurrency", 15}};
  BackgroundServer server({"node", source_dir() + "/tests/peers/socketio_server.js", "--delay-ms",
                           std::to_string(static_cast<int>(kDelayMs)), "--room-size", "5"});
  const std::string file = write_temp_file("rooms-shard.json", s.dump(2));
  const auto p =
      run_wslat({"run", file, "--target", server.url() + kSocketIoPath, "--env", "production",
                 "--shard", "2/2", "--format", "json", "--no-save", "--quiet"},
                std::chrono::seconds(90));
  INFO("stderr: " << p.err);
  REQUIRE_FALSE(p.timed_out);
  const json r = json::parse(p.out);
  INFO(r["errors"].dump());
  CHECK(p.exit_code == 0);
  CHECK(r["connections"]["attempted"] == 5);
  CHECK(r["connections"]["failed"] == 0);
  CHECK(counter(r, "broadcasts") == kBroadcasts);
  CHECK(r["metrics"]["delivery"]["count"] == kBroadcasts * 4);
  CHECK(counter(r, "delivery_missing") == 0);
}

// Recipients in another process: a listener-only run and a sender-only run share the Socket.IO
// peer's room 0. The sender puts its wall-clock send time in the message (${now_us}, in the
// text the peer passes on); the listeners, whose process never saw the send, time each
// delivery by it ("sent_at"), and the report says that this is on wall clocks.
TEST_CASE("rooms: a broadcast from another process is timed by the send time it carries" *
          doctest::test_suite("peer")) {
  const json socketio_start = json::parse(R"([
    {"connect": {}},
    {"expect": {"regex": "^0\\{"}},
    {"send": {"text": "40"}},
    {"expect": {"regex": "^40\\{"}},
    {"send": {"text": "42[\"join\",{\"room\":0,\"member\":${connection}}]"}},
    {"expect": {"regex": "^42\\[\"ready\""}}
  ])");
  const json deliveries = json::parse(R"({
    "regex": "^42\\[\"chat\"", "id": {"regex": "\"id\":\"([^\"]+)\""}, "pass": true,
    "sent_at": {"regex": "\"text\":\"sent at (\\d+)\"", "unit": "us"}
  })");
  json listener = {
      {"name", "rooms-remote-listener"},  {"load", {{"connections", 4}, {"concurrency", 4}}},
      {"timeouts", {{"message", "20s"}}}, {"deliveries", deliveries},
      {"steps", socketio_start},          {"thresholds", json::object()}};
  json listen = json::parse(R"({"repeat": {"times": 5, "steps": [
    {"expect": {"regex": "^42\\[\"chat\""}}]}})");
  listen["repeat"]["times"] = kBroadcasts;
  listener["steps"].push_back(listen);
  listener["steps"].push_back({{"close", json::object()}});
  json sender = listener;
  sender["name"] = "rooms-remote-sender";
  sender["load"] = {{"connections", 1}, {"concurrency", 1}};
  sender["steps"] = socketio_start;
  sender["steps"].push_back(json::parse(R"({"repeat": {"times": 5, "steps": [
    {"send": {"text": "42[\"say\",{\"id\":\"m${iteration}\",\"text\":\"sent at ${now_us}\"}]",
              "broadcast": {"id": {"regex": "\"id\":\"([^\"]+)\""}}}},
    {"sleep": "200ms"}]}})"));
  sender["steps"].back()["repeat"]["times"] = kBroadcasts;
  sender["steps"].push_back({{"close", json::object()}});

  BackgroundServer server({"node", source_dir() + "/tests/peers/socketio_server.js", "--delay-ms",
                           std::to_string(static_cast<int>(kDelayMs)), "--room-size", "5"});
  const std::string target = server.url() + kSocketIoPath;
  const auto args = [&](const json& s) {
    return std::vector<std::string>{
        "run",       write_temp_file(s["name"].get<std::string>() + ".json", s.dump(2)),
        "--target",  target,
        "--env",     "production",
        "--format",  "json",
        "--no-save", "--quiet"};
  };
  Child listeners(args(listener));  // they wait in the room for the sender (the peer's "ready")
  const auto sent = run_wslat(args(sender), std::chrono::seconds(90));
  INFO("sender stderr: " << sent.err);
  REQUIRE_FALSE(sent.timed_out);
  CHECK(sent.exit_code == 0);
  const int listeners_exit = listeners.wait(90'000);
  INFO("listener stderr: " << listeners.err());
  REQUIRE(listeners_exit == 0);
  const json r = json::parse(listeners.out());
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(r["connections"]["failed"] == 0);
  CHECK(counter(r, "broadcasts") == 0);
  CHECK(counter(r, "delivery_remote") == 4 * kBroadcasts);
  REQUIRE(r["metrics"].contains("delivery"));
  CHECK(r["metrics"]["delivery"]["count"] == 4 * kBroadcasts);
  const double p50 = r["metrics"]["delivery"]["p50"];
  CHECK(p50 >= kDelayMs * 0.99 - 0.5);
  CHECK(p50 <= kDelayMs * 1.01 + 0.5 + kNodeSlackMs);
  // Nothing this process could expect: no fan-out, nothing missing.
  CHECK_FALSE(r["metrics"].contains("fanout"));
  CHECK(counter(r, "delivery_missing") == 0);
  bool caveat = false;
  for (const auto& w : r["warnings"]) {
    caveat = caveat || w.get<std::string>().find(
                           "delivery across processes uses wall clocks: "
                           "skew between machines adds to it") == 0;
  }
  CHECK(caveat);
  // The sender's own process: its broadcasts, no deliveries (its recipients are elsewhere).
  const json sr = json::parse(sent.out);
  CHECK(counter(sr, "broadcasts") == kBroadcasts);
  CHECK(counter(sr, "delivery_remote") == 0);
}

// "rooms": {"by": "${data:room}"}: the rooms from a data file's column, its rows in no order;
// ${room} (the room's name) in the join message puts every member in the Socket.IO room of the
// others that share it. The first member of each room (by position in it) is its sender.
json rooms_by_column() {
  json s = two_small_rooms();
  s["rooms"] = {{"by", "${data:room}"}};
  s["data"] = {{"file", "rooms-by.csv"}};
  for (const char* role : {"sender", "listener"}) {
    for (auto& step : s["roles"][role]["steps"]) {
      if (step.contains("send") &&
          step["send"]["text"].get<std::string>().find("join") != std::string::npos) {
        step["send"]["text"] = "42[\"join\",{\"room\":\"${room}\",\"member\":${connection}}]";
      }
    }
  }
  write_temp_file("rooms-by.csv",
                  "user,room\nu0,lobby\nu1,lounge\nu2,lounge\nu3,lobby\n"
                  "u4,lounge\nu5,lobby\nu6,lobby\nu7,lounge\nu8,lounge\n"
                  "u9,lobby\n");
  return s;
}

TEST_CASE("rooms by: members of a data file's room column get exactly their room's broadcasts" *
          doctest::test_suite("peer")) {
  const auto o = run_rooms(rooms_by_column(), {});
  const json& r = o.result;
  INFO(r["errors"].dump() << " " << r["error_examples"].dump());
  CHECK(o.process.exit_code == 0);
  CHECK(r["connections"]["failed"] == 0);
  CHECK(r["metrics"]["handshake@sender"]["count"] == 2);  // one per room
  CHECK(r["metrics"]["handshake@listener"]["count"] == 8);
  CHECK(counter(r, "broadcasts") == 2 * kBroadcasts);
  CHECK(counter(r, "delivery_missing") == 0);
  // A listener in the wrong room would see the other sender's broadcasts too (or, with its own
  // room's missing, time out): exactly 4 listeners per broadcast.
  CHECK(r["metrics"]["delivery@listener"]["count"] == 2 * kBroadcasts * 4);
  CHECK(r["metrics"]["fanout"]["count"] == 2 * kBroadcasts);
}

TEST_CASE("rooms by: --shard is refused - a shard cannot be sure to hold whole rooms") {
  const std::string file = write_temp_file("rooms-by-shard.json", rooms_by_column().dump(2));
  const auto p = run_wslat(
      {"run", file, "--target", "ws://127.0.0.1:9/", "--shard", "1/2", "--no-save", "--quiet"},
      std::chrono::seconds(30));
  INFO(p.err);
  CHECK(p.exit_code == 64);
  CHECK(p.err.find("--shard with \"rooms\": {\"by\": ...} is not supported") != std::string::npos);
}

TEST_CASE("rooms: --shard with rooms under an arrival rate is refused") {
  json s = two_small_rooms();
  s["load"] = {{"rate", "10/s"}, {"duration", "1s"}};
  const std::string file = write_temp_file("rooms-shard-open.json", s.dump(2));
  const auto p = run_wslat(
      {"run", file, "--target", "ws://127.0.0.1:9/", "--shard", "1/2", "--no-save", "--quiet"},
      std::chrono::seconds(30));
  CHECK(p.exit_code == 64);
  CHECK(p.err.find("--shard with \"rooms\" needs the closed model") != std::string::npos);
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
