// Roles, rooms and deliveries: parsing and what validate catches, the role and room of a
// connection, ${room}, and the board that times deliveries (lib/net/rooms.hpp).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "metrics.hpp"
#include "net/rooms.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;
using wslat::Scenario;

Scenario parse(const json& doc) {
  return wslat::parse_scenario(doc.dump(), "t.json",
                               [](const std::string&) { return std::nullopt; });
}

std::vector<std::string> issues(const json& doc) {
  return wslat::test::issue_lines([&] { parse(doc); });
}

using wslat::test::any_contains;

// A scenario whose data file (a "room" and a "user" column, the rooms in uneven order) sits next
// to it in a fresh directory.
Scenario parse_with_rooms_csv(const json& doc) {
  static const std::string dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wslat-rooms-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    std::ofstream(tmpl + "/rooms.csv") << "user,room\nu0,blue\nu1,red\nu2,blue\nu3,red\nu4,red\n";
    return tmpl;
  }();
  return wslat::parse_scenario(doc.dump(), dir + "/t.json",
                               [](const std::string&) { return std::nullopt; });
}

std::vector<std::string> issues_with_rooms_csv(const json& doc) {
  try {
    parse_with_rooms_csv(doc);
  } catch (const wslat::ScenarioError& e) {
    std::vector<std::string> out;
    for (const auto& i : e.issues()) out.push_back(i.pointer + ": " + i.message);
    return out;
  }
  return {};
}

json chat(std::int64_t senders, std::int64_t listeners) {
  json doc = json::parse(R"({
    "name": "rooms",
    "rooms": {"size": 5},
    "deliveries": {"json": {"type": "chat"}, "id": {"json": "/id"}},
    "roles": {
      "broadcaster": {"steps": [
        {"send": {"json": {"type": "say", "id": "${connection}", "room": "${room}"},
                  "broadcast": {"id": {"json": "/id"}}}}]},
      "listener": {"steps": [{"expect": {"any": true}}]}
    }
  })");
  doc["roles"]["broadcaster"]["count"] = senders;
  doc["roles"]["listener"]["count"] = listeners;
  return doc;
}

TEST_CASE("roles: each connection runs its role by index - roles in file order per room") {
  const Scenario s = parse(chat(1, 4));
  REQUIRE(s.roles.size() == 2);
  CHECK(s.roles[0].name == "broadcaster");
  CHECK(s.roles[1].count == 4);
  CHECK(s.steps.empty());
  CHECK(s.roles[0].steps.front().is<wslat::ConnectStep>());  // the implied connect
  const std::vector<std::size_t> want = {0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0};
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(s.role_of(static_cast<std::int64_t>(i)) == want[i]);
  }
  CHECK(s.room_of(4) == 0);
  CHECK(s.room_of(5) == 1);
  CHECK(s.room_of(12) == 2);
  // ${room} in the sender's message: connection 7 is in room 1.
  const auto* send = s.roles[0].steps.at(1).as<wslat::SendStep>();
  REQUIRE(send != nullptr);
  REQUIRE(send->broadcast.has_value());
  CHECK(wslat::expand(send->payload, {7, 0, nullptr}) == R"({"id":"7","room":"1","type":"say"})");
}

TEST_CASE("roles: without rooms the counts cycle over all connections") {
  json doc = chat(2, 3);
  doc.erase("rooms");
  const Scenario s = parse(doc);
  const std::vector<std::size_t> want = {0, 0, 1, 1, 1, 0, 0, 1};
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(s.role_of(static_cast<std::int64_t>(i)) == want[i]);
  }
  CHECK(s.room_of(1000) == 0);
}

TEST_CASE("roles: validate catches counts that do not fill a room - steps and roles together") {
  CHECK(any_contains(issues(chat(1, 3)),
                     "/rooms/size: a room has 5 members but the roles' counts add up to 4"));
  json both = chat(1, 4);
  both["steps"] = json::array({json{{"sleep", "1ms"}}});
  CHECK(any_contains(issues(both), "either \"steps\""));
  json bad_name = chat(1, 4);
  bad_name["roles"]["a@b"] = bad_name["roles"]["broadcaster"];
  bad_name["rooms"]["size"] = 6;
  CHECK(any_contains(issues(bad_name), "is not a role name"));
  json no_deliveries = chat(1, 4);
  no_deliveries.erase("deliveries");
  CHECK(any_contains(issues(no_deliveries), "marked \"broadcast\" but there is no \"deliveries\""));
  json no_broadcast = chat(1, 4);
  no_broadcast["roles"]["broadcaster"]["steps"] = json::array({json{{"sleep", "1ms"}}});
  CHECK(any_contains(issues(no_broadcast), "no send is marked \"broadcast\""));
  json threshold = chat(1, 4);
  threshold["thresholds"] = {{"handshake@lurker", {"p95 < 1s"}}};
  CHECK(any_contains(issues(threshold), "no role is named \"lurker\""));
  threshold["thresholds"] = {{"handshake@listener", {"p95 < 1s"}}, {"delivery", {"p95 < 1s"}}};
  CHECK(issues(threshold).empty());
}

TEST_CASE("metrics: METRIC@ROLE is the metric's own kind - latencies and counters, not errors") {
  CHECK(wslat::takes_thresholds("handshake@listener"));
  CHECK(wslat::takes_thresholds("rtt.chat@broadcaster"));
  CHECK(wslat::takes_thresholds("delivery@listener"));
  CHECK_FALSE(wslat::takes_thresholds("errors@listener"));
  CHECK_FALSE(wslat::takes_thresholds("handshake@"));
  CHECK_FALSE(wslat::takes_thresholds("nothing@listener"));
  // A counter of one role: its run total, like the counter's.
  CHECK(wslat::takes_thresholds("msgs_sent@listener"));
  REQUIRE(wslat::find_metric("delivery_missing@listener") != nullptr);
  CHECK(wslat::find_metric("delivery_missing@listener")->kind == wslat::MetricKind::kCounter);
}

TEST_CASE("rooms: a counter threshold per role - delivery_missing@listener") {
  json ok = chat(1, 4);
  ok["thresholds"] = {{"delivery_missing@listener", {"count == 0"}},
                      {"msgs_sent@broadcaster", {"total >= 1"}}};
  CHECK(issues(ok).empty());
  json bad = chat(1, 4);
  bad["thresholds"] = {{"delivery_missing@lurker", {"count == 0"}}};
  CHECK(any_contains(issues(bad), "no role is named \"lurker\""));
  bad["thresholds"] = {{"delivery_missing@listener", {"p95 < 1s"}}};
  CHECK(any_contains(issues(bad), "unknown counter statistic"));
}

using std::chrono::milliseconds;
using wslat::net::Clock;
using wslat::net::RoomBoard;

TEST_CASE("rooms: a broadcast is timed at each open member - fan-out at the last one") {
  RoomBoard board(std::chrono::seconds(5));
  for (std::int64_t m : {0, 1, 2, 3}) board.join(0, m);
  board.join(1, 9);  // another room: not expected
  const auto t0 = Clock::now();
  CHECK(board.broadcast(0, 0, "a", t0).total == 0);
  auto r = board.receive(0, 1, "a", t0 + milliseconds(10));
  REQUIRE(r.delivery.has_value());
  CHECK(*r.delivery == milliseconds(10));
  CHECK_FALSE(r.fanout.has_value());
  CHECK_FALSE(board.receive(0, 1, "a", t0 + milliseconds(11)).delivery.has_value());  // again
  CHECK_FALSE(board.receive(0, 0, "a", t0 + milliseconds(11)).delivery.has_value());  // sender
  CHECK_FALSE(board.receive(1, 9, "a", t0 + milliseconds(11)).delivery.has_value());  // room 1
  CHECK(board.receive(0, 2, "a", t0 + milliseconds(20)).delivery.has_value());
  r = board.receive(0, 3, "a", t0 + milliseconds(30));
  REQUIRE(r.fanout.has_value());
  CHECK(*r.fanout == milliseconds(30));
  CHECK(board.finish_all().total == 0);
}

TEST_CASE("rooms: a presence event is expected by the members announced before it, only") {
  // Two workers announce members of one room at once. Each announce joins its member and
  // broadcasts in one step: the k-th is expected by the k-1 before it, whatever the
  // interleaving, so none seen makes 0 + 1 + ... + (n-1) missing. (A join, then a broadcast,
  // let two members each join before the other's broadcast and expect each other.)
  constexpr std::int64_t kPerThread = 300;
  RoomBoard board(std::chrono::seconds(60));
  const auto announce = [&board](std::int64_t first) {
    for (std::int64_t m = first; m < first + kPerThread; ++m) {
      board.join_and_broadcast(0, m, "joined " + std::to_string(m), Clock::now());
    }
  };
  std::thread other(announce, kPerThread);
  announce(0);
  other.join();
  constexpr std::int64_t n = 2 * kPerThread;
  CHECK(board.finish_all().total == n * (n - 1) / 2);
}

TEST_CASE("rooms: fan-out to half, 90% and all of the expected members") {
  RoomBoard board(std::chrono::seconds(5));
  for (std::int64_t m = 0; m <= 10; ++m) board.join(0, m);  // the sender and 10 members
  const auto t0 = Clock::now();
  board.broadcast(0, 0, "a", t0);
  std::vector<RoomBoard::Receipt> got;
  for (std::int64_t m = 1; m <= 10; ++m) {
    got.push_back(board.receive(0, m, "a", t0 + milliseconds(10 * m)));
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("receipt " << i + 1);
    CHECK(got[i].fanout_50.has_value() == (i + 1 == 5));  // the 5th of 10
    CHECK(got[i].fanout_90.has_value() == (i + 1 == 9));  // the 9th
    CHECK(got[i].fanout.has_value() == (i + 1 == 10));
  }
  CHECK(*got[4].fanout_50 == milliseconds(50));
  CHECK(*got[8].fanout_90 == milliseconds(90));
  // One expected member: it is half, 90% and all of them at once.
  board.join(1, 0);
  board.join(1, 1);
  board.broadcast(1, 0, "b", t0);
  const auto one = board.receive(1, 1, "b", t0 + milliseconds(7));
  CHECK(one.fanout_50 == milliseconds(7));
  CHECK(one.fanout_90 == milliseconds(7));
  CHECK(one.fanout == milliseconds(7));
}

TEST_CASE(
    "rooms: deliveries not received within the wait are missing - members who join later are not "
    "expected") {
  RoomBoard board(milliseconds(100));
  for (std::int64_t m : {0, 1, 2}) board.join(0, m);
  const auto t0 = Clock::now();
  board.broadcast(0, 0, "a", t0);
  board.join(0, 3);
  board.leave(0, 2);
  CHECK(board.receive(0, 1, "a", t0 + milliseconds(5)).delivery.has_value());
  CHECK_FALSE(board.receive(0, 3, "a", t0 + milliseconds(5)).delivery.has_value());
  // 2 never got it: counted once the wait is over (at the next activity in the room).
  const auto later = board.receive(0, 1, "b", t0 + milliseconds(150));
  CHECK(later.missing.total == 1);
  CHECK(later.missing.by_role.empty());                // a board without roles
  board.broadcast(0, 0, "c", t0 + milliseconds(200));  // 1 and 3 expected
  CHECK(board.finish_all().total == 2);
}

TEST_CASE("rooms: missing deliveries per role of the member that missed them") {
  // Members 0 and 1 are role 0 (sender), 2..4 role 1 (listener).
  RoomBoard board(
      milliseconds(100), [](std::int64_t m) { return m < 2 ? 0U : 1U; }, 2);
  for (std::int64_t m : {0, 1, 2, 3, 4}) board.join(0, m);
  const auto t0 = Clock::now();
  board.broadcast(0, 0, "a", t0);  // 1, 2, 3, 4 expected
  CHECK(board.receive(0, 2, "a", t0 + milliseconds(5)).delivery.has_value());
  const auto later = board.broadcast(0, 0, "b", t0 + milliseconds(150));
  CHECK(later.total == 3);
  CHECK(later.by_role == std::vector<std::int64_t>{1, 2});
  board.receive(0, 1, "b", t0 + milliseconds(160));
  const auto end = board.finish_all();
  CHECK(end.total == 3);
  CHECK(end.by_role == std::vector<std::int64_t>{0, 3});
}

}  // namespace

// "rooms": {"by": ...}: the rooms of chat(1, 100) (a sender, then listeners per room) from the
// data file's "room" column instead of a size.
json chat_by(const std::string& by) {
  json doc = chat(1, 100);
  doc["rooms"] = {{"by", by}};
  doc["data"] = {{"file", "rooms.csv"}};
  return doc;
}

TEST_CASE("rooms by: same value, same room - numbered by first appearance, roles per room") {
  const Scenario s = parse_with_rooms_csv(chat_by("${data:room}"));
  REQUIRE(s.rooms_by);
  CHECK(s.room_size == 0);
  CHECK(s.has_rooms());
  // rows: blue, red, blue, red, red; connection 5 takes row 0 again (sequential).
  const std::vector<std::int64_t> room = {0, 1, 0, 1, 1, 0, 1};
  // The first member of each room is its broadcaster, the others listen.
  const std::vector<std::size_t> role = {0, 0, 1, 1, 1, 1, 1};
  for (std::size_t i = 0; i < room.size(); ++i) {
    const auto c = static_cast<std::int64_t>(i);
    CHECK(s.room_of(c) == room[i]);
    CHECK(s.role_of(c) == role[i]);
  }
  // ${room} is the room's name, asked in any order (connection 4 before 3 was asked again).
  const auto* send = s.roles[0].steps.at(1).as<wslat::SendStep>();
  REQUIRE(send != nullptr);
  CHECK(wslat::expand(send->payload, {4, 0, nullptr}) == R"({"id":"4","room":"red","type":"say"})");
  CHECK(wslat::expand(send->payload, {2, 0, nullptr}) ==
        R"({"id":"2","room":"blue","type":"say"})");
}

TEST_CASE("rooms by: a template over data columns and the connection index") {
  const Scenario s = parse_with_rooms_csv(chat_by("${data:room}-${connection}"));
  REQUIRE(s.rooms_by);
  CHECK(s.rooms_by->name(s.room_of(3)) == "red-3");
  CHECK(s.room_of(0) == 0);
  CHECK(s.room_of(3) == 3);  // every value differs: one room each
  CHECK(s.role_of(3) == 0);
}

TEST_CASE("rooms by: located errors - with size, no data, unknown column, runtime values") {
  json both = chat_by("${data:room}");
  both["rooms"]["size"] = 5;
  CHECK(any_contains(issues_with_rooms_csv(both), "/rooms/by: \"rooms\" has either \"size\""));
  json no_data = chat_by("${data:room}");
  no_data.erase("data");
  CHECK(any_contains(issues_with_rooms_csv(no_data), "/rooms/by: ${data:room} needs a data file"));
  const auto typo = issues_with_rooms_csv(chat_by("${data:rom}"));
  CHECK(any_contains(typo, "/rooms/by: ${data:rom}: rooms.csv has no column \"rom\""));
  CHECK(any_contains(typo, "did you mean \"room\""));
  CHECK(any_contains(issues_with_rooms_csv(chat_by("${var:room}")),
                     "/rooms/by: ${var:NAME} cannot be used in \"by\""));
  CHECK(any_contains(issues_with_rooms_csv(chat_by("r-${uuid}")),
                     "/rooms/by: ${uuid} cannot be used in \"by\""));
  CHECK(any_contains(issues_with_rooms_csv(chat_by("${room}")),
                     "/rooms/by: ${room} cannot be used in \"by\""));
  json not_string = chat_by("x");
  not_string["rooms"]["by"] = 3;
  CHECK(any_contains(issues_with_rooms_csv(not_string), "/rooms/by: 3 is not a string"));
  json neither = chat_by("x");
  neither["rooms"] = json::object();
  CHECK(any_contains(issues_with_rooms_csv(neither), "/rooms: missing \"size\""));
}
