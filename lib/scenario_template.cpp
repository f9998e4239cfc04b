// Templates: ${...} placeholders compiled when the scenario is checked, expanded per use.
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <random>
#include <string_view>
#include <utility>

#include <re2/re2.h>

#include <fmt/core.h>

#include "scenario_check.hpp"

namespace wslat {
namespace {

using nlohmann::json;

constexpr const char* kPlaceholderForms =
    "${env:NAME}, ${var:NAME}, ${data:NAME}, ${iteration}, ${connection}, ${room}, ${uuid} or "
    "${now_ms}, ${now_us} (write $${ for a literal ${)";

using Kind = Template::Part::Kind;
using Into = Template::Part::Into;
using As = Template::Part::As;

bool is_identifier(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) != 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
}

// True when `text` is one JSON number (what a ":number" placeholder may produce).
bool is_json_number(const std::string& text) {
  if (text.empty()) return false;
  const auto j = json::parse(text, nullptr, false);
  return !j.is_discarded() && j.is_number();
}

std::string json_escape_body(const std::string& s) {
  const std::string quoted = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

void append_literal(Template& t, const std::string& text) {
  if (text.empty()) return;
  if (!t.parts.empty() && t.parts.back().kind == Template::Part::Kind::kLiteral) {
    t.parts.back().literal += text;
  } else {
    t.parts.push_back({Template::Part::Kind::kLiteral, text});
  }
}

std::string uuid_v4() {
  thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::array<unsigned char, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    const std::uint64_t r = rng();
    for (std::size_t k = 0; k < 8; ++k) bytes[i + k] = static_cast<unsigned char>(r >> (8 * k));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0FU) | 0x40U);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4U];
    out += kHex[bytes[i] & 0x0FU];
  }
  return out;
}

}  // namespace

namespace scenario_detail {

// Compiles ${...} placeholders. ${env:NAME} is resolved now, so a missing variable is found
// before any connection is made; its value becomes a secret. A runtime placeholder may end in
// ":string" or ":number" (the JSON type of a whole-value placeholder, see Part::As).
Template Checker::compile(const std::string& text, const std::string& ptr, TemplateScope scope,
                          Into into) {
  Template t;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      append_literal(t, "${");
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      append_literal(t, std::string(1, text[i++]));
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      issue(ptr, fmt::format("unterminated placeholder \"{}\": expected {}", text.substr(i),
                             kPlaceholderForms));
      return t;
    }
    const std::string name = text.substr(i + 2, close - i - 2);
    i = close + 1;
    if (name.rfind("env:", 0) == 0) {
      if (const auto value = env_value(name.substr(4), ptr)) append_literal(t, *value);
      continue;
    }
    if (auto part = runtime_part(name, ptr, scope)) {
      part->into = into;
      t.parts.push_back(std::move(*part));
    }
  }
  return t;
}

std::optional<std::string> Checker::env_value(const std::string& var, const std::string& ptr) {
  auto value = var.empty() ? std::nullopt : env_(var);
  if (var.empty()) {
    issue(ptr, "empty variable name in ${env:}: write ${env:NAME}");
  } else if (!value) {
    issue(ptr, fmt::format("environment variable {} is not set: set it before running, or "
                           "write $${{env:{}}} for a literal text",
                           var, var));
  } else if (!value->empty()) {
    secrets_.push_back(*value);
  }
  return value;
}

// A per-use placeholder: `name` is what stands between ${ and }, without "env:".
std::optional<Template::Part> Checker::runtime_part(std::string name, const std::string& ptr,
                                                    TemplateScope scope) {
  static const std::map<std::string, Kind> kRuntime = {
      {"iteration", Kind::kIteration}, {"connection", Kind::kConnection}, {"uuid", Kind::kUuid},
      {"now_ms", Kind::kNowMs},        {"now_us", Kind::kNowUs},          {"room", Kind::kRoom}};
  Template::Part part;
  for (const auto& [suffix, as] : {std::pair{":string", As::kString}, {":number", As::kNumber}}) {
    const std::string_view sfx(suffix);
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      name.resize(name.size() - sfx.size());
      part.as = as;
    }
  }
  const bool is_var = name.rfind("var:", 0) == 0;
  const bool is_data = name.rfind("data:", 0) == 0;
  const auto runtime = kRuntime.find(name);
  if (!is_var && !is_data && runtime == kRuntime.end()) {
    issue(ptr, fmt::format("unknown placeholder ${{{}}}: expected {}", name, kPlaceholderForms));
    return std::nullopt;
  }
  if (scope == TemplateScope::kEnvOnly) {
    issue(ptr, fmt::format("${{{}}} cannot be used here: only ${{env:NAME}} is resolved in this "
                           "value (write $${{ for a literal ${{)",
                           name));
    return std::nullopt;
  }
  if (part.as == As::kNumber && (name == "uuid")) {
    issue(ptr, "${uuid:number}: a UUID is not a number; write ${uuid}");
    return std::nullopt;
  }
  if (is_data) {
    const std::string field = name.substr(5);
    if (field.empty()) {
      issue(ptr,
            "empty field name in ${data:}: write ${data:NAME}, NAME a column of the data file");
      return std::nullopt;
    }
    part.kind = Kind::kData;
    part.var = data_field(field);
    part.literal = field;
    data_refs_.push_back({part.var, ptr, scope == TemplateScope::kRule ? kAnytime : step_order_});
    return part;
  }
  if (!is_var) {
    part.kind = runtime->second;
    part.room_size = room_size_;
    if (part.kind == Kind::kRoom) part.rooms_by = rooms_by_;
    return part;
  }
  const std::string var = name.substr(4);
  if (!check_var_name(var, ptr)) return std::nullopt;
  part.kind = Kind::kVar;
  part.var = variable(var);
  part.literal = var;  // for messages
  var_refs_.push_back({part.var, ptr, scope == TemplateScope::kRule ? kAnytime : step_order_});
  return part;
}

bool Checker::check_var_name(const std::string& name, const std::string& ptr) {
  if (is_identifier(name)) return true;
  issue(ptr, fmt::format("\"{}\" is not a variable name: letters, digits, _ and -, not "
                         "starting with a digit, e.g. token (used as ${{var:token}})",
                         name));
  return false;
}

std::string expand_blank(const Template& t) {
  std::string out;
  for (const auto& part : t.parts) {
    if (part.kind == Kind::kLiteral) out += part.literal;
  }
  return out;
}

std::size_t Checker::data_field(const std::string& name) {
  const auto it = std::find(data_fields_.begin(), data_fields_.end(), name);
  if (it != data_fields_.end()) return static_cast<std::size_t>(it - data_fields_.begin());
  data_fields_.push_back(name);
  return data_fields_.size() - 1;
}

std::size_t Checker::variable(const std::string& name) {
  const auto it = std::find(variables_.begin(), variables_.end(), name);
  if (it != variables_.end()) return static_cast<std::size_t>(it - variables_.begin());
  variables_.push_back(name);
  return variables_.size() - 1;
}

// Every variable used is captured somewhere, and before its first use unless a rule (which can
// fire at any time) captures it.
void Checker::check_variables() {
  for (const VarUse& ref : var_refs_) {
    bool captured = false, before = false;
    std::string where;
    for (const VarUse& cap : var_captures_) {
      if (cap.var != ref.var) continue;
      captured = true;
      if (where.empty()) where = cap.ptr;
      before = before || cap.order == kAnytime || ref.order == kAnytime || cap.order < ref.order;
    }
    const std::string& name = variables_[ref.var];
    std::vector<std::string> known;
    for (const VarUse& cap : var_captures_) known.push_back(variables_[cap.var]);
    if (!captured) {
      issue(ref.ptr, fmt::format("unknown variable ${{var:{}}}: no step or rule captures it{}; "
                                 "capture it with \"capture\": {{\"{}\": ...}} on an expect, "
                                 "the connect step, the \"login\" or a rule in \"on\"",
                                 name, did_you_mean(name, known), name));
    } else if (!before) {
      issue(ref.ptr, fmt::format("${{var:{}}} is used before it is captured (first captured at "
                                 "{}): move the capture to an earlier step",
                                 name, where));
    }
  }
}

// Serializes `j` compactly into `out`, templating every string value. Literal text (including
// resolved ${env:...} values) is JSON-escaped here; the runtime placeholders expand to digits,
// hex digits and dashes only, which never need escaping, so expand() can stay a plain
// concatenation and the payload is always valid JSON.
void Checker::compile_json(Template& out, const json& j, const std::string& ptr,
                           TemplateScope scope) {
  if (j.is_object()) {
    append_literal(out, "{");
    bool first = true;
    for (const auto& [key, value] : j.items()) {
      append_literal(out, (first ? "\"" : ",\"") + json_escape_body(key) + "\":");
      compile_json(out, value, child_pointer(ptr, key), scope);
      first = false;
    }
    append_literal(out, "}");
  } else if (j.is_array()) {
    append_literal(out, "[");
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (i > 0) append_literal(out, ",");
      compile_json(out, j[i], child_pointer(ptr, i), scope);
    }
    append_literal(out, "]");
  } else if (j.is_string()) {
    Template value = compile(j.get<std::string>(), ptr, scope, Into::kJsonString);
    if (value.parts.size() == 1 && value.parts[0].kind != Kind::kLiteral) {
      value.parts[0].into = Into::kJsonValue;  // a whole value: typed (Part::As)
      out.parts.push_back(std::move(value.parts[0]));
      return;
    }
    append_literal(out, "\"");
    for (const auto& part : value.parts) {
      if (part.kind == Kind::kLiteral) {
        append_literal(out, json_escape_body(part.literal));
      } else {
        out.parts.push_back(part);
      }
    }
    append_literal(out, "\"");
  } else {
    append_literal(out, j.dump());
  }
}

}  // namespace scenario_detail

bool Template::is_constant() const {
  return std::all_of(parts.begin(), parts.end(),
                     [](const Part& p) { return p.kind == Part::Kind::kLiteral; });
}

namespace {

// A whole JSON value from text that is `is_json` (raw) or a string (quoted), as `as` asks.
void append_json_value(std::string& out, const std::string& text, bool is_json, As as) {
  if (as == As::kNumber) {
    if (!is_json_number(text)) {
      throw TemplateError(fmt::format("\"{}\" is not a number (the placeholder says :number)",
                                      text.size() > 40 ? text.substr(0, 40) + "..." : text));
    }
    out += text;
  } else if (is_json && as == As::kAuto) {
    out += text;
  } else {
    out += json(text).dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

void append_value(std::string& out, const Template::Part& part, const std::string& text,
                  bool is_json) {
  switch (part.into) {
    case Into::kText:
      out += text;
      break;
    case Into::kJsonString:
      out += json_escape_body(text);
      break;
    case Into::kJsonValue:
      append_json_value(out, text, is_json, part.as);
      break;
    case Into::kRegex:
      out += RE2::QuoteMeta(text);
      break;
  }
}

std::string now_ms_text() {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}
std::string now_us_text() {
  return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

}  // namespace

namespace {

// `shown`: an unset variable is written as its placeholder instead of throwing.
std::string expand_parts(const Template& t, const TemplateContext& ctx, bool shown) {
  std::string out;
  for (const auto& part : t.parts) {
    // The numbers are JSON numbers; with :number they are written as such.
    switch (part.kind) {
      case Kind::kLiteral:
        out += part.literal;
        break;
      case Kind::kIteration:
        append_value(out, part, std::to_string(ctx.iteration), false);
        break;
      case Kind::kConnection:
        append_value(out, part, std::to_string(ctx.connection), false);
        break;
      case Kind::kUuid:
        append_value(out, part, uuid_v4(), false);
        break;
      case Kind::kNowMs:
        append_value(out, part, now_ms_text(), false);
        break;
      case Kind::kNowUs:
        append_value(out, part, now_us_text(), false);
        break;
      case Kind::kRoom:
        if (part.rooms_by) {
          const RoomsBy& rooms = *part.rooms_by;
          append_value(out, part, rooms.name(rooms.place(ctx.connection).room), false);
          break;
        }
        append_value(out, part,
                     std::to_string(part.room_size > 0 ? ctx.connection / part.room_size : 0),
                     false);
        break;
      case Kind::kVar: {
        const VarValue* v =
            ctx.vars != nullptr && part.var < ctx.vars->size() ? &(*ctx.vars)[part.var] : nullptr;
        if ((v == nullptr || !v->set) && shown) {
          out += "${var:" + part.literal + "}";
          break;
        }
        if (v == nullptr || !v->set) {
          throw TemplateError(
              fmt::format("${{var:{}}} has not been captured on this connection", part.literal));
        }
        append_value(out, part, v->text, v->is_json);
        break;
      }
      case Kind::kData: {
        const VarValue* v =
            ctx.row != nullptr && part.var < ctx.row->size() ? &(*ctx.row)[part.var] : nullptr;
        if (v == nullptr && shown) {
          out += "${data:" + part.literal + "}";
          break;
        }
        if (v == nullptr) {
          throw TemplateError(
              fmt::format("${{data:{}}}: this connection has no data row", part.literal));
        }
        append_value(out, part, v->text, v->is_json);
        break;
      }
    }
  }
  return out;
}

}  // namespace

std::string expand(const Template& t, const TemplateContext& ctx) {
  return expand_parts(t, ctx, false);
}

std::string expand_shown(const Template& t) { return expand_parts(t, {}, true); }

}  // namespace wslat
