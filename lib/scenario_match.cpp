// Runtime matching: does a received message satisfy an expect step (or a rule), and what it
// captures; binary payloads built from parts.
#include <algorithm>
#include <cstdint>

#include <fmt/core.h>
#include <re2/re2.h>

#include "json_text.hpp"
#include "scenario.hpp"

namespace wslat {
namespace {

using nlohmann::json;

bool json_subset(const json& expected, const json& actual) {
  if (!expected.is_object()) return expected == actual;
  if (!actual.is_object()) return false;
  const auto items = expected.items();
  return std::all_of(items.begin(), items.end(), [&actual](const auto& item) {
    const auto it = actual.find(item.key());
    return it != actual.end() && json_subset(item.value(), *it);
  });
}

bool bytes_match(const ExpectStep& e, const std::string& message) {
  if (e.prefix ? message.size() < e.bytes.size() : message.size() != e.bytes.size()) {
    return false;
  }
  for (std::size_t i = 0; i < e.bytes.size(); ++i) {
    if ((message[i] & e.mask[i]) != e.bytes[i]) return false;
  }
  return true;
}

bool needs_json(const ExpectStep& e) {
  return e.kind == ExpectStep::Kind::kJson ||
         std::any_of(e.captures.begin(), e.captures.end(),
                     [](const Capture& c) { return c.from == Capture::From::kJson; });
}

std::string shorten(const std::string& s) { return s.size() > 200 ? s.substr(0, 200) + "..." : s; }

}  // namespace

std::optional<VarValue> capture_from_message(const Capture& capture, const std::string& message,
                                             const json* parsed) {
  switch (capture.from) {
    case Capture::From::kText:
      return VarValue{message, false, true};
    case Capture::From::kRegex: {
      if (capture.regex == nullptr) return std::nullopt;
      re2::StringPiece groups[2];
      const int n = std::min(capture.regex->NumberOfCapturingGroups() + 1, 2);
      if (!capture.regex->Match(message, 0, message.size(), RE2::UNANCHORED, groups, n)) {
        return std::nullopt;
      }
      const re2::StringPiece& g = groups[n - 1];
      return VarValue{std::string(g.data(), g.size()), false, true};
    }
    case Capture::From::kJson: {
      if (parsed == nullptr) return std::nullopt;
      const json::json_pointer ptr(capture.arg);
      if (!parsed->contains(ptr)) return std::nullopt;
      const json& v = parsed->at(ptr);
      if (v.is_string()) return VarValue{v.get<std::string>(), false, true};
      return VarValue{v.dump(-1, ' ', false, json::error_handler_t::replace), true, true};
    }
    case Capture::From::kStatus:
    case Capture::From::kHeader:
    case Capture::From::kCookie:
      return std::nullopt;  // from the upgrade response, not from a message
  }
  return std::nullopt;
}

Expectation::Expectation(const ExpectStep& step, const TemplateContext& ctx) : step_(&step) {
  if (step.pattern.parts.empty()) return;  // constant: the step's own pattern
  const std::string expanded = expand(step.pattern, ctx);
  switch (step.kind) {
    case ExpectStep::Kind::kJson:
      json_ = json::parse(expanded, nullptr, false);
      if (json_.is_discarded()) throw TemplateError("the expected JSON is not JSON once expanded");
      break;
    case ExpectStep::Kind::kText:
      text_ = expanded;
      break;
    case ExpectStep::Kind::kRegex: {
      std::string error;
      regex_ = compile_regex(expanded, &error);
      if (regex_ == nullptr) throw TemplateError("the expanded regex is not valid: " + error);
      break;
    }
    case ExpectStep::Kind::kAny:
    case ExpectStep::Kind::kBinary:
      break;
  }
}

bool Expectation::match(const std::string& message, Vars* vars) const {
  const ExpectStep& e = *step_;
  const bool templated = !e.pattern.parts.empty();
  std::optional<json> parsed;
  if (needs_json(e)) {
    // Bounded nesting: the parse stops at the first level too many instead of building it.
    parsed = try_parse_json_bounded(message);
  }
  bool ok = false;
  switch (e.kind) {
    case ExpectStep::Kind::kAny:
      ok = true;
      break;
    case ExpectStep::Kind::kText:
      ok = message == (templated ? text_ : e.text);
      break;
    case ExpectStep::Kind::kRegex: {
      // RE2 matches in time linear in the message, whatever the pattern: no cut, no deep stack.
      const re2::RE2* re = templated ? regex_.get() : e.regex.get();
      ok = re != nullptr && RE2::PartialMatch(message, *re);
      break;
    }
    case ExpectStep::Kind::kJson:
      ok = parsed && json_subset(templated ? json_ : e.json, *parsed);
      break;
    case ExpectStep::Kind::kBinary:
      ok = bytes_match(e, message);
      break;
  }
  if (!ok || e.captures.empty()) return ok;
  std::vector<std::pair<std::size_t, VarValue>> taken;
  for (const Capture& c : e.captures) {
    auto v = capture_from_message(c, message, parsed ? &*parsed : nullptr);
    if (!v) return false;  // the message lacks what the step captures: not its reply
    taken.emplace_back(c.var, std::move(*v));
  }
  if (vars != nullptr) {
    for (auto& [var, value] : taken) {
      if (vars->size() <= var) vars->resize(var + 1);
      (*vars)[var] = std::move(value);
    }
  }
  return true;
}

std::string Expectation::describe() const {
  const ExpectStep& e = *step_;
  const bool templated = !e.pattern.parts.empty();
  switch (e.kind) {
    case ExpectStep::Kind::kAny:
      return "any message";
    case ExpectStep::Kind::kText:
      return "text " + json(shorten(templated ? text_ : e.text)).dump();
    case ExpectStep::Kind::kRegex:
      return "regex " + json(shorten(templated ? regex_->pattern() : e.text)).dump();
    case ExpectStep::Kind::kJson:
      return "json " +
             shorten(
                 (templated ? json_ : e.json).dump(-1, ' ', false, json::error_handler_t::replace));
    case ExpectStep::Kind::kBinary: {
      std::string hex;
      for (std::size_t i = 0; i < e.bytes.size() && i < 64; ++i) {
        hex += e.mask[i] == 0 ? std::string("??")
                              : fmt::format("{:02x}", static_cast<unsigned char>(e.bytes[i]));
      }
      return (e.prefix ? "binary starting " : "binary ") + hex;
    }
  }
  return {};
}

bool matches(const ExpectStep& expect, const std::string& message) {
  return Expectation(expect, {}).match(message, nullptr);
}

std::shared_ptr<const re2::RE2> compile_regex(const std::string& pattern, std::string* error) {
  RE2::Options options;  // UTF-8, Perl-like classes, longest_match off: search semantics
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(pattern, options);
  if (re->ok()) return re;
  if (error != nullptr) *error = re->error();
  return nullptr;
}

namespace {

void append_uint(std::string& out, std::uint64_t v, int width) {
  if (width == 0) {  // varint: 7 bits a byte, least significant first (MQTT, protobuf)
    do {
      auto byte = static_cast<unsigned char>(v & 0x7FU);
      v >>= 7U;
      if (v != 0) byte |= 0x80U;
      out += static_cast<char>(byte);
    } while (v != 0);
    return;
  }
  for (int i = width - 1; i >= 0; --i) {
    out += static_cast<char>((v >> (8U * static_cast<unsigned>(i))) & 0xFFU);
  }
}

std::uint64_t max_of(int width) {
  return width == 0 ? (std::uint64_t{1} << 28U) - 1  // MQTT's 4-byte limit
                    : (width == 4 ? 0xFFFFFFFFULL
                                  : (std::uint64_t{1} << (8U * static_cast<unsigned>(width))) - 1);
}

}  // namespace

std::string build_binary(const std::vector<BinaryPart>& parts, const TemplateContext& ctx) {
  std::string out;
  for (const auto& part : parts) {
    switch (part.kind) {
      case BinaryPart::Kind::kBytes:
        out += part.bytes;
        break;
      case BinaryPart::Kind::kText:
        out += expand(part.text, ctx);
        break;
      case BinaryPart::Kind::kUint: {
        const std::string text = expand(part.text, ctx);
        std::uint64_t v = 0;
        const bool digits =
            !text.empty() && text.size() <= 19 &&
            std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits) v = std::stoull(text);
        if (!digits || v > max_of(part.width)) {
          throw TemplateError(
              fmt::format("\"{}\" does not fit a {}-byte number", text, part.width));
        }
        append_uint(out, v, part.width);
        break;
      }
      case BinaryPart::Kind::kLength: {
        const std::string inner = build_binary(part.of, ctx);
        if (inner.size() > max_of(part.width)) {
          throw TemplateError(fmt::format("{} bytes do not fit the length prefix", inner.size()));
        }
        append_uint(out, inner.size(), part.width);
        out += inner;
        break;
      }
    }
  }
  return out;
}

}  // namespace wslat
