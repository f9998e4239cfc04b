// Steps: one section per kind with its parsing and its worst-case timeout budget, then what
// walks the list of steps (unrolling repeats, cross checks, the budget). The compiler holds the
// sections complete: check_step and step_budget visit StepBody without a catch-all.
#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <variant>

#include <fmt/core.h>

#include "scenario_check.hpp"

namespace wslat {
namespace scenario_detail {
namespace {

using nlohmann::json;

Duration saturating_add(Duration a, Duration b) {
  const auto max = Duration::max().count();
  return a.count() > max - b.count() ? Duration::max() : a + b;
}

Duration saturating_mul(Duration d, std::int64_t times) {
  if (times > 0 && d.count() > Duration::max().count() / times) return Duration::max();
  return d * times;
}

// A step's contributions to the worst-case budget: one overload per kind, each defined in its
// kind's section below; step_budget visits StepBody with it, so a kind without one does not
// compile.
struct StepBudget {
  const TimeoutPlan& t;
  const std::string& pointer;
  std::vector<BudgetItem>* items;  // nullptr inside a repeat: only the total counts

  Duration operator()(const ConnectStep& connect) const;
  Duration operator()(const SendStep& send) const;
  Duration operator()(const ExpectStep& expect) const;
  Duration operator()(const SleepStep& sleep) const;
  Duration operator()(const PingStep& ping) const;
  Duration operator()(const CloseStep& close) const;
  Duration operator()(const ReconnectStep& reconnect) const;
  Duration operator()(const RepeatStep& repeat) const;

  Duration add(const std::string& what, Duration d) const {
    if (items != nullptr) items->push_back({pointer, what, d});
    return d;
  }
  // A wait for a message or pong: the step's `within` as the plan scales it, else
  // timeouts.message.
  Duration wait(const std::string& step, const std::optional<Duration>& within) const {
    return add(step + (within ? " within" : " (message timeout)"), t.wait(within).effective);
  }
};

Duration steps_budget(const std::vector<Step>& steps, const TimeoutPlan& t,
                      std::vector<BudgetItem>* items);

std::optional<std::string> decode_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (std::isxdigit(static_cast<unsigned char>(hex[i])) == 0 ||
        std::isxdigit(static_cast<unsigned char>(hex[i + 1])) == 0) {
      return std::nullopt;
    }
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

// RE2 parses and compiles without recursion, but walks a pattern with a visit budget and logs
// to stderr past it (a million nested groups): patterns nested this deep are refused first.
constexpr int kMaxRegexDepth = 100;

int group_depth(const std::string& pattern) {
  int depth = 0, deepest = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;  // an escaped character opens nothing
    } else if (pattern[i] == '(') {
      deepest = std::max(deepest, ++depth);
    } else if (pattern[i] == ')') {
      depth = std::max(0, depth - 1);
    }
  }
  return deepest;
}

// The body of the step kind named `name`, default-constructed, or nullopt for no such kind.
template <std::size_t I = 0>
std::optional<StepBody> body_named(const std::string& name) {
  if constexpr (I == std::variant_size_v<StepBody>) {
    return std::nullopt;
  } else if (name == std::variant_alternative_t<I, StepBody>::kName) {
    return StepBody(std::in_place_index<I>);
  } else {
    return body_named<I + 1>(name);
  }
}

template <std::size_t... I>
std::vector<std::string> names_of(std::index_sequence<I...> /*kinds*/) {
  return {std::variant_alternative_t<I, StepBody>::kName...};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The list of steps and the dispatch to a kind.

std::vector<Step> Checker::check_steps(const json& j, const std::string& ptr, int depth) {
  std::vector<Step> steps;
  if (!j.is_array() || j.empty()) {
    issue(ptr,
          fmt::format("{} is not allowed here: expected a non-empty array of steps, e.g. "
                      "[{{\"send\": {{\"text\": \"hi\"}}}}, {{\"expect\": {{\"any\": true}}}}]",
                      describe(j)));
    return steps;
  }
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string sp = child_pointer(ptr, i);
    if (closed_ && depth == 0) {
      issue(sp, "step after close: the connection is closed here; move the close to the end");
    }
    if (auto step = check_step(j[i], sp, depth, i)) steps.push_back(std::move(*step));
  }
  return steps;
}

std::optional<Step> Checker::check_step(const json& j, const std::string& ptr, int depth,
                                        std::size_t index) {
  const std::vector<std::string> names = step_kind_names();
  const std::string kinds = join(names, ", ");
  if (!j.is_object() || j.size() != 1) {
    std::vector<std::string> found;
    if (j.is_object()) {
      for (const auto& item : j.items()) found.push_back(item.key());
    }
    issue(ptr,
          fmt::format(
              "{} is not a step: a step is an object with exactly one key ({}){}",
              j.is_object() ? "an object with " + std::to_string(j.size()) + " keys" : describe(j),
              kinds,
              found.empty() ? ""
                            : "; found " + join(found, ", ") + ": split it into separate steps"));
    return std::nullopt;
  }
  const std::string kind = j.begin().key();
  const StepSite site{ptr, child_pointer(ptr, kind), depth, index};
  ++step_order_;
  std::optional<StepBody> body = body_named(kind);
  if (!body) {
    key_issue(site.body, fmt::format("unknown step \"{}\"{} (steps: {})", kind,
                                     did_you_mean(kind, names), kinds));
    return std::nullopt;
  }
  std::visit([&](auto& of_kind) { check_body(j.begin().value(), site, of_kind); }, *body);
  return Step{ptr, std::move(*body)};
}

// ---------------------------------------------------------------------------------------------
// connect

void Checker::check_body(const json& j, const StepSite& at, ConnectStep& connect) {
  if (at.depth != 0 || at.index != 0) {
    issue(at.step,
          "connect must be the first step of the scenario (it is implied there when "
          "missing); one connection per scenario run");
  }
  if (!require_object(j, at.body, "\"connect\"")) return;
  check_keys(j, at.body, {"capture"}, "\"connect\"");
  if (j.contains("capture")) {
    connect.captures =
        check_captures(j["capture"], at.body + "/capture", false, nullptr, TemplateScope::kAll);
  }
}

Duration StepBudget::operator()(const ConnectStep& /*connect*/) const {
  const Duration connect = add("connect timeout", t.effective.connect);
  return saturating_add(connect, add("handshake timeout", t.effective.handshake));
}

// ---------------------------------------------------------------------------------------------
// send

void Checker::check_body(const json& j, const StepSite& at, SendStep& send) {
  check_send_fields(j, at.body, send, TemplateScope::kAll);
}

void Checker::check_send_fields(const json& j, const std::string& ptr, SendStep& send,
                                TemplateScope scope) {
  const std::vector<std::string> forms = {"text", "json", "binary", "size"};
  if (!require_object(j, ptr, "\"send\"")) return;
  check_keys(j, ptr, {"text", "json", "binary", "size", "name", "broadcast", "join"}, "\"send\"");
  if (j.contains("name")) send.name = step_name(j["name"], ptr + "/name");
  if (j.contains("broadcast")) {
    const std::string bp = ptr + "/broadcast";
    if (scope == TemplateScope::kRule) {
      issue(bp, "a rule's send cannot be a broadcast: mark a send step");
    } else if (require_object(j["broadcast"], bp,
                              "\"broadcast\", e.g. {\"id\": {\"json\": \"/id\"}}")) {
      check_keys(j["broadcast"], bp, {"id"}, "\"broadcast\"");
      if (!j["broadcast"].contains("id")) {
        issue(bp,
              "missing \"id\": where the id the members see is in this message, e.g. "
              "{\"json\": \"/id\"}");
      } else {
        send.broadcast = check_id(j["broadcast"]["id"], bp + "/id");
      }
    }
  }
  if (j.contains("join")) {
    const std::string jp = ptr + "/join";
    if (scope == TemplateScope::kRule) {
      issue(jp, "a rule's send cannot be a join: mark a send step");
    } else if (require_object(j["join"], jp, "\"join\", e.g. {\"id\": {\"json\": \"/member\"}}")) {
      check_keys(j["join"], jp, {"id"}, "\"join\"");
      if (!j["join"].contains("id")) {
        issue(jp,
              "missing \"id\": where the member's id (the one its presence event carries) is in "
              "this message, e.g. {\"json\": \"/member\"}");
      } else {
        send.join = check_id(j["join"]["id"], jp + "/id");
      }
    }
  }
  std::vector<std::string> given;
  for (const auto& form : forms) {
    if (j.contains(form)) given.push_back(form);
  }
  if (given.size() != 1) {
    issue(ptr, fmt::format("\"send\" needs exactly one of text, json, binary, size; found {}",
                           given.empty() ? "none" : join(given, " and ")));
    return;
  }
  const std::string form = given.front();
  const std::string fp = ptr + "/" + form;
  const json& value = j[form];
  if (form == "text") {
    send.kind = SendStep::Kind::kText;
    if (const auto text = get_string(value, fp, "the text to send")) {
      send.payload = compile(*text, fp, scope);
    }
  } else if (form == "json") {
    send.kind = SendStep::Kind::kJson;
    compile_json(send.payload, value, fp, scope);
  } else if (form == "binary") {
    send.kind = SendStep::Kind::kBinary;
    if (value.is_array()) {
      send.parts = check_binary_parts(value, fp, scope, 0);
      return;
    }
    const auto hex = get_string(value, fp, "hex bytes such as \"deadbeef\", or an array of parts");
    const auto bytes = hex ? decode_hex(*hex) : std::nullopt;
    if (hex && !bytes) {
      issue(fp, fmt::format("{} is not hex: expected an even number of hex digits, e.g. "
                            "\"deadbeef\"",
                            describe(value)));
    }
    send.binary = bytes.value_or("");
  } else {
    send.kind = SendStep::Kind::kSize;
    send.size = static_cast<std::size_t>(get_size(value, fp).value_or(0));
  }
}

// "binary": ["30", {"length": "varint", "of": ["0005", {"text": "t/${connection}"}]}]: hex
// strings, {"text": T}, {"u8"|"u16"|"u32": T} (a number), {"length": W, "of": [parts]}.
std::vector<BinaryPart> Checker::check_binary_parts(const json& j, const std::string& ptr,
                                                    TemplateScope scope, int depth) {
  static const std::map<std::string, int> kWidths = {
      {"u8", 1}, {"u16", 2}, {"u32", 4}, {"varint", 0}};
  constexpr const char* kForms =
      "a part is a hex string, {\"text\": \"...\"}, {\"u8\"|\"u16\"|\"u32\": number or "
      "\"${...}\"} or {\"length\": \"u8\"|\"u16\"|\"u32\"|\"varint\", \"of\": [parts]}";
  std::vector<BinaryPart> parts;
  if (!j.is_array() || j.empty() || depth > 8) {
    issue(ptr, fmt::format("{} is not a list of binary parts: {}", describe(j), kForms));
    return parts;
  }
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string pp = child_pointer(ptr, i);
    const json& v = j[i];
    BinaryPart part;
    if (v.is_string()) {
      const auto bytes = decode_hex(v.get<std::string>());
      if (!bytes) issue(pp, fmt::format("{} is not hex: {}", describe(v), kForms));
      part.bytes = bytes.value_or("");
    } else if (v.is_object() && v.size() == 1 && v.contains("text") && v["text"].is_string()) {
      part.kind = BinaryPart::Kind::kText;
      part.text = compile(v["text"].get<std::string>(), pp + "/text", scope);
    } else if (v.is_object() && v.size() == 1 && kWidths.count(v.begin().key()) != 0 &&
               v.begin().key() != "varint") {
      part.kind = BinaryPart::Kind::kUint;
      part.width = kWidths.at(v.begin().key());
      const json& n = v.begin().value();
      const std::string np = pp + "/" + v.begin().key();
      if (n.is_number_unsigned() || (n.is_number_integer() && n.get<std::int64_t>() >= 0)) {
        part.text.parts.push_back({Template::Part::Kind::kLiteral, n.dump()});
      } else if (n.is_string()) {
        part.text = compile(n.get<std::string>(), np, scope);
      } else {
        issue(np, fmt::format("{} is not a number: expected e.g. 1 or \"${{iteration}}\"",
                              describe(n)));
      }
    } else if (v.is_object() && v.size() == 2 && v.contains("length") && v.contains("of") &&
               v["length"].is_string() && kWidths.count(v["length"].get<std::string>()) != 0) {
      part.kind = BinaryPart::Kind::kLength;
      part.width = kWidths.at(v["length"].get<std::string>());
      part.of = check_binary_parts(v["of"], pp + "/of", scope, depth + 1);
    } else {
      issue(pp, fmt::format("{} is not a binary part: {}", describe(v), kForms));
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

std::string Checker::step_name(const json& j, const std::string& ptr) {
  const auto name = get_string(j, ptr, "a name such as \"chat_reply\"");
  if (!name) return {};
  const bool ok = !name->empty() && std::all_of(name->begin(), name->end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
  if (!ok) {
    issue(ptr, fmt::format("{} is not a step name: letters, digits, _ and - (it becomes the "
                           "metric rtt.<name>), e.g. \"chat_reply\"",
                           describe(j)));
    return {};
  }
  return *name;
}

Duration StepBudget::operator()(const SendStep& /*send*/) const {
  return Duration{};  // never waits: a server that stops reading fails it as send.backlog
}

// ---------------------------------------------------------------------------------------------
// expect

void Checker::check_body(const json& j, const StepSite& at, ExpectStep& expect) {
  const std::string& ptr = at.body;
  if (!require_object(j, ptr, "\"expect\"")) return;
  check_keys(j, ptr,
             {"json", "text", "regex", "any", "binary", "binary_prefix", "within", "mark",
              "capture", "name"},
             "\"expect\"");
  check_expect_fields(j, ptr, expect, TemplateScope::kAll);
  if (j.contains("within")) expect.within = get_duration(j["within"], ptr + "/within", false);
  if (j.contains("name")) expect.name = step_name(j["name"], ptr + "/name");
  if (j.contains("mark")) {
    expect.mark =
        get_string(j["mark"], ptr + "/mark", "a mark name such as \"ready\"").value_or("");
    if (expect.mark == "ready" && ++ready_marks_ > 1) {
      issue(ptr + "/mark",
            "a second \"ready\" mark: perceived latency ends at one step only; "
            "keep one");
    }
  }
}

// The matcher and the captures: what an expect step and a message rule have in common.
void Checker::check_expect_fields(const json& j, const std::string& ptr, ExpectStep& expect,
                                  TemplateScope scope) {
  check_matcher(j, ptr, expect, scope);
  if (j.contains("capture")) {
    expect.captures = check_captures(j["capture"], ptr + "/capture", true, &expect, scope);
  }
}

void Checker::check_matcher(const json& j, const std::string& ptr, ExpectStep& expect,
                            TemplateScope scope) {
  const std::vector<std::string> matchers = {"json", "text",   "regex",
                                             "any",  "binary", "binary_prefix"};
  std::vector<std::string> given;
  for (const auto& m : matchers) {
    if (j.contains(m)) given.push_back(m);
  }
  if (given.size() != 1) {
    issue(ptr, fmt::format("needs exactly one matcher (json, text, regex, any, binary or "
                           "binary_prefix); found {}",
                           given.empty() ? "none" : join(given, " and ")));
    return;
  }
  const std::string mp = ptr + "/" + given.front();
  const json& value = j[given.front()];
  if (given.front() == "json") {
    expect.kind = ExpectStep::Kind::kJson;
    expect.json = value;
    compile_json(expect.pattern, value, mp, scope);
    if (expect.pattern.is_constant()) {  // ${env:...} resolved, $${ unescaped
      expect.json = json::parse(expand(expect.pattern, {}), nullptr, false);
      expect.pattern = Template{};
    }
  } else if (given.front() == "text") {
    expect.kind = ExpectStep::Kind::kText;
    expect.text = get_string(value, mp, "the exact text expected").value_or("");
    expect.pattern = compile(expect.text, mp, scope);
    if (expect.pattern.is_constant()) {
      expect.text = expand(expect.pattern, {});  // $${ written for a literal ${
      expect.pattern = Template{};
    }
  } else if (given.front() == "regex") {
    check_regex(value, mp, expect, scope);
  } else if (given.front() == "any") {
    expect.kind = ExpectStep::Kind::kAny;
    if (value != json(true)) {
      issue(mp, fmt::format("{} is not allowed: write \"any\": true", describe(value)));
    }
  } else {
    expect.prefix = given.front() == "binary_prefix";
    check_binary_matcher(value, mp, expect);
  }
}

// Hex bytes; "??" stands for any byte (a byte mask); spaces are ignored.
void Checker::check_binary_matcher(const json& value, const std::string& ptr, ExpectStep& expect) {
  expect.kind = ExpectStep::Kind::kBinary;
  const auto hex = get_string(value, ptr, "hex bytes such as \"9003 ?? 00\"");
  if (!hex) return;
  std::string digits;
  for (char c : *hex) {
    if (c != ' ') digits += c;
  }
  bool ok = !digits.empty() && digits.size() % 2 == 0;
  for (std::size_t i = 0; ok && i < digits.size(); i += 2) {
    if (digits.compare(i, 2, "??") == 0) {
      expect.bytes += '\0';
      expect.mask += '\0';
      continue;
    }
    const auto byte = decode_hex(digits.substr(i, 2));
    ok = byte.has_value();
    if (ok) {
      expect.bytes += *byte;
      expect.mask += '\xff';
    }
  }
  if (!ok) {
    issue(ptr, fmt::format("{} is not hex bytes: expected pairs of hex digits, \"??\" for any "
                           "byte, spaces allowed, e.g. \"9003 ?? 00\"",
                           describe(value)));
  }
}

void Checker::check_regex(const json& value, const std::string& ptr, ExpectStep& expect,
                          TemplateScope scope) {
  expect.kind = ExpectStep::Kind::kRegex;
  expect.text = get_string(value, ptr, "a regular expression (RE2 syntax)").value_or("");
  expect.pattern = compile(expect.text, ptr, scope, Template::Part::Into::kRegex);
  // A templated pattern is compiled per connection; checked here with its placeholders empty.
  const std::string source = expand_blank(expect.pattern);
  std::string error;
  std::shared_ptr<const re2::RE2> re;
  if (group_depth(source) > kMaxRegexDepth) {
    issue(ptr, fmt::format("the regular expression nests groups deeper than {}: simplify it",
                           kMaxRegexDepth));
  } else if (re = compile_regex(source, &error); re == nullptr) {
    issue(ptr, fmt::format("{} is not a valid regular expression: {} (wslat uses RE2 syntax: "
                           "no backreferences or lookaround)",
                           describe(value), error));
  }
  if (expect.pattern.is_constant()) {
    expect.regex = re;
    expect.text = source;
    expect.pattern = Template{};
  }
}

// What a capture takes from a message: `from` is "json" (arg: a JSON pointer), "regex" (arg: an
// RE2 pattern; group 1, else the whole match) or "text" (arg: true); `fp` locates arg. Shared by
// captures and the id of "deliveries" and broadcasts.
Capture Checker::message_capture(const std::string& from, const json& arg, const std::string& fp) {
  Capture c;
  if (from == "json") {
    c.from = Capture::From::kJson;
    c.arg = get_string(arg, fp, "a JSON pointer such as \"/id\"").value_or("");
    if (!c.arg.empty() && c.arg[0] != '/') {
      issue(fp,
            fmt::format("{} is not a JSON pointer: start it with /, e.g. \"/id\"", describe(arg)));
    }
  } else if (from == "regex") {
    c.from = Capture::From::kRegex;
    const std::string pattern = get_string(arg, fp, "a regular expression").value_or("");
    std::string error;
    c.regex = compile_regex(pattern, &error);
    if (c.regex == nullptr) {
      issue(fp, fmt::format("{} is not a valid regular expression: {}", describe(arg), error));
    }
  } else {
    c.from = Capture::From::kText;
    if (arg != json(true)) issue(fp, "write \"text\": true");
  }
  return c;
}

// "capture": {"NAME": {"json": "/pointer"} | {"regex": "..."} | {"text": true}} on a message;
// {"status": true} | {"header": "Name"} | {"cookie": "name"} on connect.
std::vector<Capture> Checker::check_captures(const json& j, const std::string& ptr, bool of_message,
                                             const ExpectStep* expect, TemplateScope scope,
                                             bool of_login) {
  std::vector<Capture> out;
  const char* forms =
      of_login     ? "{\"status\": true}, {\"header\": \"Name\"}, {\"cookie\": \"name\"}, or from "
                     "the body {\"json\": \"/pointer\"}, {\"regex\": \"token=(\\\\w+)\"} or "
                     "{\"text\": true}"
      : of_message ? "{\"json\": \"/pointer\"}, {\"regex\": \"id=(\\\\d+)\"} or {\"text\": true}"
                   : "{\"status\": true}, {\"header\": \"Name\"} or {\"cookie\": \"name\"}";
  if (!require_object(j, ptr, "\"capture\" (variable name -> what to capture)")) return out;
  for (const auto& name : ordered_keys(j, ptr)) {
    const std::string cp = child_pointer(ptr, name);
    const json& v = j[name];
    if (!check_var_name(name, cp)) continue;
    Capture c;
    c.var = variable(name);
    const std::string from = v.is_object() && v.size() == 1 ? v.begin().key() : "";
    std::string fp = cp;
    fp.append("/").append(from);
    const bool message_form = from == "json" || from == "regex" || from == "text";
    const bool upgrade_form = from == "status" || from == "header" || from == "cookie";
    if (!message_form && !upgrade_form) {
      issue(cp, fmt::format("{} is not a capture: expected {}", describe(v), forms));
      continue;
    }
    if (!of_login && message_form != of_message) {
      issue(cp, of_message ? fmt::format("a message has no {}: capture the upgrade response's "
                                         "status, headers and cookies on the connect step",
                                         from)
                           : fmt::format("the upgrade response has no message to capture {} "
                                         "from: capture it on an expect",
                                         from));
      continue;
    }
    const json& arg = v.begin().value();
    if (message_form) {
      c = message_capture(from, arg, fp);
      c.var = variable(name);
      if (from == "json" && expect != nullptr && expect->kind == ExpectStep::Kind::kBinary) {
        issue(fp,
              "a binary message has no JSON to capture from: use a json or any matcher, or "
              "capture with regex");
      }
    } else if (from == "status") {
      c.from = Capture::From::kStatus;
      if (arg != json(true)) issue(fp, "write \"status\": true");
    } else {
      c.from = from == "header" ? Capture::From::kHeader : Capture::From::kCookie;
      c.arg = get_string(arg, fp, "a name").value_or("");
    }
    var_captures_.push_back({c.var, cp, scope == TemplateScope::kRule ? kAnytime : step_order_});
    out.push_back(std::move(c));
  }
  return out;
}

Duration StepBudget::operator()(const ExpectStep& expect) const {
  return wait("expect", expect.within);
}

// ---------------------------------------------------------------------------------------------
// sleep

void Checker::check_body(const json& j, const StepSite& at, SleepStep& sleep) {
  sleep.duration = get_duration(j, at.body, true).value_or(Duration{});
}

Duration StepBudget::operator()(const SleepStep& sleep) const {
  return add("sleep", sleep.duration);  // not a timeout: profiles do not scale it
}

// ---------------------------------------------------------------------------------------------
// ping

void Checker::check_body(const json& j, const StepSite& at, PingStep& ping) {
  const std::string& ptr = at.body;
  if (!require_object(j, ptr, "\"ping\"")) return;
  check_keys(j, ptr, {"payload", "within"}, "\"ping\"");
  if (j.contains("payload")) {
    ping.payload = get_string(j["payload"], ptr + "/payload", "a string").value_or("");
    if (ping.payload.size() > 125) {
      issue(ptr + "/payload", fmt::format("payload of {} bytes: a ping carries at most 125 bytes",
                                          ping.payload.size()));
    }
  }
  if (j.contains("within")) ping.within = get_duration(j["within"], ptr + "/within", false);
}

Duration StepBudget::operator()(const PingStep& ping) const { return wait("ping", ping.within); }

// ---------------------------------------------------------------------------------------------
// close

void Checker::check_body(const json& j, const StepSite& at, CloseStep& close) {
  const std::string& ptr = at.body;
  const int depth = at.depth;
  if (depth > 0) {
    issue(ptr,
          "close inside a repeat: the connection would be closed before the next "
          "iteration; put the close at the end of the top-level steps");
  }
  closed_ = closed_ || depth == 0;
  if (!require_object(j, ptr, "\"close\"")) return;
  check_keys(j, ptr, {"code", "reason"}, "\"close\"");
  if (j.contains("code")) {
    const json& c = j["code"];
    const bool integer = c.is_number_integer() || c.is_number_unsigned();
    const std::int64_t code = integer ? c.get<std::int64_t>() : 0;
    const bool reserved = (code >= 1004 && code <= 1006) || code == 1015;
    if (!integer || code < 1000 || code > 4999 || reserved) {
      issue(ptr + "/code", fmt::format("{} is not a close code a client may send: expected "
                                       "1000-4999 except 1004, 1005, 1006 and 1015 (e.g. 1000)",
                                       describe(c)));
    } else {
      close.code = static_cast<std::uint16_t>(code);
    }
  }
  if (j.contains("reason")) {
    close.reason = get_string(j["reason"], ptr + "/reason", "a string").value_or("");
    if (close.reason.size() > 123) {
      issue(ptr + "/reason", fmt::format("reason of {} bytes: a close reason carries at most "
                                         "123 bytes",
                                         close.reason.size()));
    }
  }
}

Duration StepBudget::operator()(const CloseStep& /*close*/) const {
  return add("close timeout", t.effective.close);
}

// ---------------------------------------------------------------------------------------------
// reconnect (parsed in lib/scenario_reconnect.cpp)

// A clean close's timeout, then every try (connect + handshake timeouts) and every wait between
// them at its longest.
Duration StepBudget::operator()(const ReconnectStep& reconnect) const {
  const ReconnectPolicy& p = reconnect.policy;
  Duration total = reconnect.drop ? Duration{} : add("reconnect close timeout", t.effective.close);
  const Duration each = saturating_add(t.effective.connect, t.effective.handshake);
  // "reconnect ×3 tries" fits the 30 columns of validate's budget table.
  total = saturating_add(
      total, add(fmt::format("reconnect ×{} tr{}", p.attempts, p.attempts == 1 ? "y" : "ies"),
                 saturating_mul(each, p.attempts)));
  if (p.attempts > 1) {
    total = saturating_add(total, add("reconnect backoff waits", p.total_delay()));
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// repeat

void Checker::check_body(const json& j, const StepSite& at, RepeatStep& repeat) {
  const std::string& ptr = at.body;
  if (!require_object(j, ptr, "\"repeat\"")) return;
  check_keys(j, ptr, {"times", "steps"}, "\"repeat\"");
  if (!j.contains("times")) {
    issue(ptr, "\"repeat\" needs \"times\": how many times to run its steps (1 to 1000000)");
  } else {
    repeat.times = get_positive_int(j["times"], ptr + "/times", kMaxRepeatTimes).value_or(1);
  }
  if (!j.contains("steps")) {
    issue(ptr, "\"repeat\" needs \"steps\": a non-empty array of steps");
  } else {
    repeat.steps = check_steps(j["steps"], ptr + "/steps", at.depth + 1);
  }
}

Duration StepBudget::operator()(const RepeatStep& repeat) const {
  const Duration once = steps_budget(repeat.steps, t, nullptr);
  return add(fmt::format("repeat ×{} ({} each)", repeat.times, format_duration(once)),
             saturating_mul(once, repeat.times));
}

// ---------------------------------------------------------------------------------------------
// Rules ("on"): what runs in the background of every connection.

std::vector<Rule> Checker::check_rules(const json& j, const std::string& ptr) {
  std::vector<Rule> rules;
  if (!j.is_array()) {
    issue(ptr, fmt::format("{} is not a list of rules: expected e.g. [{{\"message\": {{\"text\": "
                           "\"2\"}}, \"send\": {{\"text\": \"3\"}}}}]",
                           describe(j)));
    return rules;
  }
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string rp = child_pointer(ptr, i);
    const json& r = j[i];
    if (!require_object(r, rp, "a rule")) continue;
    check_keys(r, rp, {"message", "every", "send", "pass"}, "a rule");
    Rule rule;
    rule.pointer = rp;
    if (r.contains("message") == r.contains("every")) {
      issue(rp,
            "a rule needs exactly one of \"message\" (answer a message from the server) or "
            "\"every\" (send periodically)");
      continue;
    }
    if (r.contains("message") && require_object(r["message"], rp + "/message", "\"message\"")) {
      const std::string mp = rp + "/message";
      check_keys(r["message"], mp,
                 {"json", "text", "regex", "any", "binary", "binary_prefix", "capture"},
                 "\"message\"");
      rule.when.emplace();
      check_expect_fields(r["message"], mp, *rule.when, TemplateScope::kRule);
    }
    if (r.contains("every")) {
      rule.every = get_duration(r["every"], rp + "/every", false);
      if (!r.contains("send")) issue(rp, "a rule with \"every\" needs \"send\": what to send");
      if (r.contains("pass")) issue(rp + "/pass", "\"pass\" applies to message rules only");
    }
    if (r.contains("send")) {
      rule.reply.emplace();
      check_send_fields(r["send"], rp + "/send", *rule.reply, TemplateScope::kRule);
      if (!rule.reply->name.empty()) issue(rp + "/send/name", "a rule's send takes no name");
    }
    if (r.contains("pass")) {
      if (!r["pass"].is_boolean()) {
        issue(rp + "/pass", fmt::format("{} is not allowed: write true (the scenario's expects "
                                        "see the message too) or false",
                                        describe(r["pass"])));
      } else {
        rule.pass = r["pass"].get<bool>();
      }
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

// ---------------------------------------------------------------------------------------------
// Named steps: each expect name is a metric rtt.<name>, timed from the sends of the same name
// (in order: the k-th such expect from the k-th such send) or else from the connection's last
// send.

namespace {

struct Names {
  std::vector<std::pair<std::string, std::string>> expects, sends;  // name, pointer
};

void collect_names(const std::vector<Step>& steps, Names& names) {
  for (const auto& step : steps) {
    if (const auto* repeat = step.as<RepeatStep>()) collect_names(repeat->steps, names);
    if (const auto* e = step.as<ExpectStep>(); e != nullptr && !e->name.empty()) {
      names.expects.emplace_back(e->name, step.pointer);
    }
    if (const auto* s = step.as<SendStep>(); s != nullptr && !s->name.empty()) {
      names.sends.emplace_back(s->name, step.pointer);
    }
  }
}

template <typename List>
std::size_t index_of(const List& list, const std::string& name) {
  const auto it = std::find(list.begin(), list.end(), name);
  return it == list.end() ? static_cast<std::size_t>(-1)
                          : static_cast<std::size_t>(it - list.begin());
}

void assign_names(std::vector<Step>& steps, const std::vector<std::string>& metrics,
                  const std::vector<std::string>& paired) {
  for (auto& step : steps) {
    if (auto* repeat = std::get_if<RepeatStep>(&step.body)) {
      assign_names(repeat->steps, metrics, paired);
    } else if (auto* e = std::get_if<ExpectStep>(&step.body); e != nullptr && !e->name.empty()) {
      e->metric = index_of(metrics, "rtt." + e->name);
      e->pair = index_of(paired, e->name);
    } else if (auto* s = std::get_if<SendStep>(&step.body); s != nullptr && !s->name.empty()) {
      s->pair = index_of(paired, s->name);
    }
  }
}

}  // namespace

void Checker::check_names(Scenario& s) {
  Names names;
  for (const auto* steps : s.step_lists()) collect_names(*steps, names);
  std::vector<std::string> paired;
  for (const auto& [name, ptr] : names.expects) {
    const std::string metric = "rtt." + name;
    if (index_of(s.step_metrics, metric) != static_cast<std::size_t>(-1)) continue;
    const auto send = std::find_if(names.sends.begin(), names.sends.end(),
                                   [&name = name](const auto& n) { return n.first == name; });
    s.step_metrics.push_back(metric);
    if (send != names.sends.end()) {
      paired.push_back(name);
      s.step_metric_notes.push_back(
          fmt::format("from send {} to expect {} (\"{}\")", send->second, ptr, name));
    } else {
      s.step_metric_notes.push_back(
          fmt::format("from the last send not yet answered, else the previous expect's message "
                      "(else the open), "
                      "to expect {} (\"{}\")",
                      ptr, name));
    }
  }
  for (const auto& [name, ptr] : names.sends) {
    if (index_of(paired, name) == static_cast<std::size_t>(-1)) {
      issue(ptr + "/send/name",
            fmt::format("no expect is named \"{}\": name the expect that answers this send the "
                        "same, so its reply is timed from it (rtt.{})",
                        name, name));
    }
  }
  s.paired_sends = paired.size();
  assign_names(s.steps, s.step_metrics, paired);
  for (Role& role : s.roles) assign_names(role.steps, s.step_metrics, paired);
}

// ---------------------------------------------------------------------------------------------
// Walking the steps: cross checks, unrolling, the budget.

namespace {

std::int64_t count_flat(const std::vector<Step>& steps) {
  std::int64_t n = 0;
  for (const auto& step : steps) {
    const auto* repeat = step.as<RepeatStep>();
    const std::int64_t inner = repeat != nullptr ? count_flat(repeat->steps) : 1;
    const std::int64_t times = repeat != nullptr ? repeat->times : 1;
    n += inner > (kMaxFlatSteps + 1) / std::max<std::int64_t>(times, 1) ? kMaxFlatSteps + 1
                                                                        : inner * times;
    n = std::min(n, kMaxFlatSteps + 1);
  }
  return n;
}

void check_send_sizes(const std::vector<Step>& steps, std::int64_t max_bytes,
                      std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& step : steps) {
    if (const auto* repeat = step.as<RepeatStep>()) check_send_sizes(repeat->steps, max_bytes, out);
    const auto* send = step.as<SendStep>();
    if (send != nullptr && send->kind == SendStep::Kind::kSize &&
        static_cast<std::int64_t>(send->size) > max_bytes) {
      out.emplace_back(step.pointer + "/send/size",
                       fmt::format("{} bytes exceeds max_message_size ({} bytes): raise "
                                   "\"max_message_size\" or send less",
                                   send->size, max_bytes));
    }
  }
}

void flatten_into(const std::vector<Step>& steps, std::int64_t iteration,
                  std::vector<FlatStep>& out) {
  for (const auto& step : steps) {
    const auto* repeat = step.as<RepeatStep>();
    if (repeat == nullptr) {
      if (static_cast<std::int64_t>(out.size()) >= kMaxFlatSteps) {
        throw UsageError(
            fmt::format("{}: the steps unroll to more than {} steps (repeats "
                        "multiplied): lower the repeat counts",
                        step.pointer, kMaxFlatSteps));
      }
      out.push_back({&step, iteration});
      continue;
    }
    for (std::int64_t i = 0; i < repeat->times; ++i) flatten_into(repeat->steps, i, out);
  }
}

Duration step_budget(const Step& step, const TimeoutPlan& t, std::vector<BudgetItem>* items) {
  return std::visit(StepBudget{t, step.pointer, items}, step.body);
}

Duration steps_budget(const std::vector<Step>& steps, const TimeoutPlan& t,
                      std::vector<BudgetItem>* items) {
  Duration total{};
  for (const auto& step : steps) total = saturating_add(total, step_budget(step, t, items));
  return total;
}

}  // namespace

void Checker::check_steps_cross(const Scenario& s) {
  for (const auto* steps : s.step_lists()) {
    if (count_flat(*steps) <= kMaxFlatSteps) continue;
    const std::string& at = steps->front().pointer;  // the leading connect: "/.../steps"
    issue(at.substr(0, at.rfind("/steps") + 6),
          fmt::format("the steps unroll to more than {} steps (repeats multiplied): "
                      "lower the repeat counts",
                      kMaxFlatSteps));
  }
  std::vector<std::pair<std::string, std::string>> too_big;
  for (const auto* steps : s.step_lists()) check_send_sizes(*steps, s.max_message_bytes, too_big);
  for (const auto& [ptr, message] : too_big) issue(ptr, message);
}

}  // namespace scenario_detail

std::vector<std::string> step_kind_names() {
  return scenario_detail::names_of(std::make_index_sequence<std::variant_size_v<StepBody>>{});
}

std::vector<FlatStep> flatten(const std::vector<Step>& steps) {
  std::vector<FlatStep> out;
  scenario_detail::flatten_into(steps, 0, out);
  return out;
}

TimeoutBudget worst_case_budget(const Scenario& s, const Timeouts& written) {
  return worst_case_budget(s, unscaled_timeouts(written));
}

// With roles: the items of every role, the total of the longest.
TimeoutBudget worst_case_budget(const Scenario& s, const TimeoutPlan& timeouts) {
  TimeoutBudget budget;
  for (const auto* steps : s.step_lists()) {
    Duration total = scenario_detail::steps_budget(*steps, timeouts, &budget.items);
    const Duration close = timeouts.effective.close;
    if (steps->empty() || !steps->back().is<CloseStep>()) {
      const std::string& at = steps->empty() ? std::string("/steps") : steps->front().pointer;
      budget.items.push_back(
          {at.substr(0, at.rfind("/steps") + 6), "implicit close at the end", close});
      total = scenario_detail::saturating_add(total, close);
    }
    budget.total = std::max(budget.total, total);
  }
  if (s.login) {  // before every connection
    budget.items.insert(budget.items.begin(), {"/login", "login", timeouts.effective.login});
    budget.total = scenario_detail::saturating_add(budget.total, timeouts.effective.login);
  }
  return budget;
}

}  // namespace wslat
