// Roles, rooms and deliveries: several step lists in one scenario ("roles"), connections placed
// in groups ("rooms"), and how a member recognises the broadcasts of the others ("deliveries",
// a send's "broadcast") and their presence events ("presence", a send's "join"). README "Roles,
// rooms and delivery latency".
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "scenario_check.hpp"

namespace wslat::scenario_detail {

using nlohmann::json;

namespace {
constexpr std::int64_t kMaxRoleCount = 1'000'000;
}  // namespace

std::vector<Role> Checker::check_roles(const json& j, const std::string& ptr) {
  std::vector<Role> roles;
  if (!require_object(j, ptr,
                      "\"roles\" (role name -> {\"count\": N, \"steps\": [...]}), e.g. "
                      "{\"sender\": {\"count\": 1, \"steps\": [...]}}")) {
    return roles;
  }
  if (j.empty()) issue(ptr, "no roles: give at least one, e.g. {\"sender\": {\"steps\": [...]}}");
  for (const auto& name : ordered_keys(j, ptr)) {
    const std::string rp = child_pointer(ptr, name);
    if (name.empty() || name.find_first_of("@ \t") != std::string::npos) {
      key_issue(rp, fmt::format("\"{}\" is not a role name: a non-empty name without @ or spaces "
                                "(it appears in metric names such as handshake@sender)",
                                name));
      continue;
    }
    const json& r = j[name];
    if (!require_object(r, rp, "a role ({\"count\": N, \"steps\": [...]})")) continue;
    check_keys(r, rp, {"count", "steps"}, "a role");
    Role role;
    role.name = name;
    role.pointer = rp;
    if (r.contains("count")) {
      role.count = get_positive_int(r["count"], rp + "/count", kMaxRoleCount).value_or(1);
    }
    closed_ = false;  // each role's steps end with their own close
    if (!r.contains("steps")) {
      issue(rp, "missing \"steps\": the steps this role's connections run");
    } else {
      role.steps = check_steps(r["steps"], rp + "/steps", 0);
    }
    if (role.steps.empty() || !role.steps.front().is<ConnectStep>()) {
      role.steps.insert(role.steps.begin(), Step{rp + "/steps", ConnectStep{}});  // implied
    }
    roles.push_back(std::move(role));
  }
  return roles;
}

// "rooms": {"size": N}: connections 0..N-1 are room 0, N..2N-1 room 1, ...
// "rooms": {"by": "${data:room}"}: connections with the same value of the template share a room.
void Checker::check_rooms(const json& doc, Scenario& s) {
  if (!doc.contains("rooms")) return;
  const json& j = doc["rooms"];
  if (!require_object(j, "/rooms",
                      "\"rooms\", e.g. {\"size\": 51} or {\"by\": \"${data:room}\"}")) {
    return;
  }
  check_keys(j, "/rooms", {"size", "by"}, "\"rooms\"");
  if (j.contains("size") && j.contains("by")) {
    key_issue("/rooms/by",
              "\"rooms\" has either \"size\" (consecutive connections share a room) or \"by\" "
              "(connections with the same value share a room), not both: remove one");
    return;
  }
  if (j.contains("by")) {
    check_rooms_by(j["by"], s);
    return;
  }
  if (!j.contains("size")) {
    issue("/rooms",
          "missing \"size\" (how many consecutive connections share a room) or \"by\" (a "
          "template such as \"${data:room}\": connections with the same value share a room)");
    return;
  }
  s.room_size = get_positive_int(j["size"], "/rooms/size", kMaxRoleCount).value_or(0);
  room_size_ = s.room_size;
}

// "by": a template over the connection's data row and index, known before the run.
void Checker::check_rooms_by(const json& j, Scenario& s) {
  const std::string ptr = "/rooms/by";
  const auto text = get_string(j, ptr, "a template, e.g. \"${data:room}\"");
  if (!text) return;
  if (text->find("${var:") != std::string::npos) {
    issue(ptr,
          "${var:NAME} cannot be used in \"by\": a captured variable is not known when "
          "the rooms are planned, before the run; use ${data:NAME} (a column of the data "
          "file) or ${connection}");
    return;
  }
  // Its data references are checked like the steps' (a missing column, no "data"), but the
  // values never go into a header.
  const int order = step_order_;
  step_order_ = kAnytime;
  Template by = compile(*text, ptr, TemplateScope::kAll);
  step_order_ = order;
  for (const auto& part : by.parts) {
    using Kind = Template::Part::Kind;
    if (part.kind == Kind::kLiteral || part.kind == Kind::kData || part.kind == Kind::kConnection) {
      continue;
    }
    const char* name = part.kind == Kind::kIteration ? "${iteration}"
                       : part.kind == Kind::kUuid    ? "${uuid}"
                       : part.kind == Kind::kNowMs   ? "${now_ms}"
                       : part.kind == Kind::kNowUs   ? "${now_us}"
                       : part.kind == Kind::kRoom    ? "${room}"
                                                     : "this placeholder";
    issue(ptr, fmt::format("{} cannot be used in \"by\": it is not known (or not the same) when "
                           "the rooms are planned; use ${{data:NAME}} (a column of the data "
                           "file) or ${{connection}}",
                           name));
    return;
  }
  auto rooms = std::make_shared<RoomsBy>();
  rooms->text = *text;
  rooms->by = std::move(by);
  s.rooms_by = rooms;
  rooms_by_ = std::move(rooms);
}

// Where a correlation id is in a message: {"json": "/pointer"}, {"regex": "..."} (group 1, else
// the whole match) or {"text": true}.
std::optional<Capture> Checker::check_id(const json& j, const std::string& ptr) {
  const char* forms =
      "{\"json\": \"/id\"}, {\"regex\": \"\\\"id\\\":\\\"([^\\\"]+)\"} or {\"text\": true}";
  const std::string from = j.is_object() && j.size() == 1 ? j.begin().key() : "";
  if (from != "json" && from != "regex" && from != "text") {
    issue(ptr, fmt::format("{} does not say where the id is: expected {}", describe(j), forms));
    return std::nullopt;
  }
  return message_capture(from, j.begin().value(), ptr + "/" + from);
}

namespace {
// True when a send step of `steps` (repeats included) has `mark` set (broadcast or join).
bool any_send(const std::vector<Step>& steps, std::optional<Capture> SendStep::*mark) {
  return std::any_of(steps.begin(), steps.end(), [mark](const Step& st) {
    if (const auto* repeat = st.as<RepeatStep>()) return any_send(repeat->steps, mark);
    const auto* send = st.as<SendStep>();
    return send != nullptr && (send->*mark).has_value();
  });
}
bool any_send(const Scenario& s, std::optional<Capture> SendStep::*mark) {
  const auto lists = s.step_lists();
  return std::any_of(lists.begin(), lists.end(),
                     [mark](const auto* steps) { return any_send(*steps, mark); });
}
}  // namespace

// {"regex": "...", "id": {...}, "pass": false}: how a member recognises a message of the others
// (a broadcast, a presence event) and where its id is.
std::optional<Deliveries> Checker::check_recognizer(const json& j, const std::string& ptr,
                                                    const std::string& what) {
  if (!require_object(j, ptr, what)) return std::nullopt;
  const bool deliveries = ptr == "/deliveries";
  if (deliveries) {
    check_keys(j, ptr,
               {"json", "text", "regex", "any", "binary", "binary_prefix", "id", "pass", "sent_at"},
               what);
  } else {
    check_keys(j, ptr, {"json", "text", "regex", "any", "binary", "binary_prefix", "id", "pass"},
               what);
  }
  Deliveries d;
  if (deliveries && j.contains("sent_at")) check_sent_at(j["sent_at"], ptr + "/sent_at", d);
  check_matcher(j, ptr, d.when, TemplateScope::kRule);
  if (!j.contains("id")) {
    issue(ptr, fmt::format("missing \"id\": where the id is in a message {} recognises, e.g. "
                           "{{\"json\": \"/id\"}}",
                           what));
  } else if (auto id = check_id(j["id"], ptr + "/id")) {
    d.id = std::move(*id);
  }
  if (j.contains("pass")) {
    if (!j["pass"].is_boolean()) {
      issue(ptr + "/pass", fmt::format("{} is not allowed: write true (the steps' expects see "
                                       "the message too) or false",
                                       describe(j["pass"])));
    } else {
      d.pass = j["pass"].get<bool>();
    }
  }
  return d;
}

// "sent_at": {"json": "/ts", "unit": "us"}: where a broadcast carries its sender's wall-clock
// send time (Unix epoch; "ms", the default, or "us"), for recipients in other processes.
void Checker::check_sent_at(const json& j, const std::string& ptr, Deliveries& d) {
  const char* forms =
      "{\"json\": \"/ts\"} or {\"regex\": \"\\\"ts\\\":(\\\\d+)\"}, and "
      "\"unit\": \"ms\" (the default, as ${now_ms}) or \"us\" (as ${now_us})";
  if (!j.is_object()) {
    issue(ptr,
          fmt::format("{} does not say where the send time is: expected {}", describe(j), forms));
    return;
  }
  json where = j;
  if (j.contains("unit")) {
    const json& u = j["unit"];
    if (u == "ms") {
      d.sent_at_unit = Deliveries::Unit::kMs;
    } else if (u == "us") {
      d.sent_at_unit = Deliveries::Unit::kUs;
    } else {
      issue(ptr + "/unit",
            fmt::format("{} is not a unit of the send time: write \"ms\" or \"us\"", describe(u)));
    }
    where.erase("unit");
  }
  const std::string from = where.size() == 1 ? where.begin().key() : "";
  if (from != "json" && from != "regex") {
    issue(ptr,
          fmt::format("{} does not say where the send time is: expected {}", describe(j), forms));
    return;
  }
  d.sent_at = message_capture(from, where.begin().value(), ptr + "/" + from);
}

// "deliveries": {"regex": "^42\\[\"chat\"", "id": {...}, "pass": false}; "delivery_wait".
void Checker::check_deliveries(const json& doc, Scenario& s) {
  if (doc.contains("delivery_wait")) {
    s.delivery_wait =
        get_duration(doc["delivery_wait"], "/delivery_wait", false).value_or(s.delivery_wait);
  }
  const bool broadcasts = any_send(s, &SendStep::broadcast);
  if (!doc.contains("deliveries")) {
    if (broadcasts) {
      issue("",
            "a send is marked \"broadcast\" but there is no \"deliveries\": say how the "
            "members recognise a broadcast message and its id, e.g. \"deliveries\": "
            "{\"json\": {\"type\": \"chat\"}, \"id\": {\"json\": \"/id\"}}");
    }
    return;
  }
  s.deliveries = check_recognizer(doc["deliveries"], "/deliveries", "\"deliveries\"");
  // With "sent_at", this run may only receive: the broadcasts come from another process.
  if (!broadcasts && !(s.deliveries && s.deliveries->sent_at)) {
    issue("/deliveries",
          "\"deliveries\" but no send is marked \"broadcast\": mark the send whose delivery "
          "is timed, e.g. {\"send\": {\"json\": {...}, \"broadcast\": {\"id\": {\"json\": "
          "\"/id\"}}}}, or give \"sent_at\" (where the message carries its send time) to "
          "time broadcasts another process sends");
  }
}

// "presence": {"regex": "^42\\[\"joined\"", "id": {...}}: a member's presence event as the
// others see it, timed from the send marked "join" that carries the same id.
void Checker::check_presence(const json& doc, Scenario& s) {
  const bool joins = any_send(s, &SendStep::join);
  if (!doc.contains("presence")) {
    if (joins) {
      issue("",
            "a send is marked \"join\" but there is no \"presence\": say how the members "
            "recognise a presence event and the member's id in it, e.g. \"presence\": "
            "{\"json\": {\"type\": \"joined\"}, \"id\": {\"json\": \"/member\"}}");
    }
    return;
  }
  s.presence = check_recognizer(doc["presence"], "/presence", "\"presence\"");
  if (!joins) {
    issue("/presence",
          "\"presence\" but no send is marked \"join\": mark the send that joins the room, "
          "e.g. {\"send\": {\"json\": {...}, \"join\": {\"id\": {\"json\": \"/member\"}}}}");
  }
}

}  // namespace wslat::scenario_detail
