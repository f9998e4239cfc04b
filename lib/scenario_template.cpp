// Templates: ${...} placeholders compiled when the scenario is checked, expanded per use.
#include <algorithm>
#include <array>
#include <chrono>
#include <random>

#include <fmt/core.h>

#include "scenario_check.hpp"

namespace wslat {
namespace {

using nlohmann::json;

constexpr const char* kPlaceholderForms =
    "${env:NAME}, ${iteration}, ${connection}, ${uuid} or ${now_ms} (write $${ for a literal ${)";

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
// before any connection is made; its value becomes a secret.
Template Checker::compile(const std::string& text, const std::string& ptr, TemplateScope scope) {
  static const std::map<std::string, Template::Part::Kind> kRuntime = {
      {"iteration", Template::Part::Kind::kIteration},
      {"connection", Template::Part::Kind::kConnection},
      {"uuid", Template::Part::Kind::kUuid},
      {"now_ms", Template::Part::Kind::kNowMs}};
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
      const std::string var = name.substr(4);
      const auto value = var.empty() ? std::nullopt : env_(var);
      if (var.empty()) {
        issue(ptr, "empty variable name in ${env:}: write ${env:NAME}");
      } else if (!value) {
        issue(ptr, fmt::format("environment variable {} is not set: set it before running, or "
                               "write $${{env:{}}} for a literal text",
                               var, var));
      } else {
        append_literal(t, *value);
        if (!value->empty()) secrets_.push_back(*value);
      }
      continue;
    }
    const auto runtime = kRuntime.find(name);
    if (runtime == kRuntime.end()) {
      issue(ptr, fmt::format("unknown placeholder ${{{}}}: expected {}", name, kPlaceholderForms));
    } else if (scope == TemplateScope::kEnvOnly) {
      issue(ptr, fmt::format("${{{}}} cannot be used here: only ${{env:NAME}} is resolved in this "
                             "value (write $${{ for a literal ${{)",
                             name));
    } else {
      t.parts.push_back({runtime->second, {}});
    }
  }
  return t;
}

// Serializes `j` compactly into `out`, templating every string value. Literal text (including
// resolved ${env:...} values) is JSON-escaped here; the runtime placeholders expand to digits,
// hex digits and dashes only, which never need escaping, so expand() can stay a plain
// concatenation and the payload is always valid JSON.
void Checker::compile_json(Template& out, const json& j, const std::string& ptr) {
  if (j.is_object()) {
    append_literal(out, "{");
    bool first = true;
    for (const auto& [key, value] : j.items()) {
      append_literal(out, (first ? "\"" : ",\"") + json_escape_body(key) + "\":");
      compile_json(out, value, child_pointer(ptr, key));
      first = false;
    }
    append_literal(out, "}");
  } else if (j.is_array()) {
    append_literal(out, "[");
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (i > 0) append_literal(out, ",");
      compile_json(out, j[i], child_pointer(ptr, i));
    }
    append_literal(out, "]");
  } else if (j.is_string()) {
    append_literal(out, "\"");
    for (const auto& part : compile(j.get<std::string>(), ptr, TemplateScope::kAll).parts) {
      if (part.kind == Template::Part::Kind::kLiteral) {
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

std::string expand(const Template& t, const TemplateContext& ctx) {
  std::string out;
  for (const auto& part : t.parts) {
    switch (part.kind) {
      case Template::Part::Kind::kLiteral:
        out += part.literal;
        break;
      case Template::Part::Kind::kIteration:
        out += std::to_string(ctx.iteration);
        break;
      case Template::Part::Kind::kConnection:
        out += std::to_string(ctx.connection);
        break;
      case Template::Part::Kind::kUuid:
        out += uuid_v4();
        break;
      case Template::Part::Kind::kNowMs:
        out += std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
        break;
    }
  }
  return out;
}

}  // namespace wslat
