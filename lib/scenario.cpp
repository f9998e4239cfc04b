// Scenario files: parse, report every problem with its location, compile templates, and
// compute the worst-case timeout budget.
#include "scenario.hpp"

#include "json_pointer.hpp"
#include "json_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>

#include <fmt/core.h>
#include <openssl/evp.h>
#include <re2/re2.h>

#include "http_syntax.hpp"
#include "metrics.hpp"
#include "profile.hpp"
#include "threshold.hpp"

namespace wslat {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxRepeatTimes = 1'000'000;
constexpr std::int64_t kMaxFlatSteps = 1'000'000;
// Profile overrides in "environments" (see the README's Profiles section).
constexpr double kMinMultiplier = 0.001;
constexpr double kMaxMultiplier = 1000.0;
constexpr double kMaxMargin = 100.0;
constexpr const char* kPlaceholderForms =
    "${env:NAME}, ${iteration}, ${connection}, ${uuid} or ${now_ms} (write $${ for a literal ${)";

// ---------------------------------------------------------------------------------------------
// Locations: nlohmann 3.11 does not expose where a value sits in the text, so a small scanner
// walks the (already parsed, so valid and depth-bounded) text once, without recursion, and
// records where every value and every object key starts as a tree parallel to the document.
// Memory is linear in the text: storing a JSON pointer per value instead took 4.9 GB for
// 100 KB of nested arrays (each pointer as long as its depth, or as its ancestors' keys).

std::string escape_pointer_token(const std::string& k) { return json_pointer_token(k); }

std::string child_pointer(const std::string& parent, const std::string& token) {
  return parent + "/" + escape_pointer_token(token);
}

std::string child_pointer(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

class LocationIndex {
 public:
  explicit LocationIndex(std::string_view text) : text_(text) { scan(); }

  // Offset of the value at `pointer`, else of its nearest ancestor in the text.
  std::optional<std::size_t> value_at(const std::string& pointer) const {
    const auto path = walk(pointer).first;
    if (path.empty()) return std::nullopt;
    return nodes_[path.back()].at;
  }

  // Offset of the key naming the value at `pointer`, else of the key of its nearest ancestor
  // that is an object member; nullopt when there is none (e.g. the document itself).
  std::optional<std::size_t> key_at(const std::string& pointer) const {
    const auto path = walk(pointer).first;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      if (nodes_[*it].key_at != kNone) return nodes_[*it].key_at;
    }
    return std::nullopt;
  }

  // Offset of the key naming exactly the value at `pointer`, or nullopt.
  std::optional<std::size_t> exact_key_at(const std::string& pointer) const {
    const auto [path, complete] = walk(pointer);
    if (!complete || path.empty() || nodes_[path.back()].key_at == kNone) return std::nullopt;
    return nodes_[path.back()].key_at;
  }

 private:
  static constexpr std::size_t kNone = std::string_view::npos;

  struct Node {
    std::size_t at = 0;              // first byte of the value
    std::size_t key_at = kNone;      // first byte of its key, when an object member
    char kind = 0;                   // '{', '[' or 0 for a scalar
    std::vector<std::size_t> items;  // array elements, in order
  };

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_ws() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) {
      ++pos_;
    }
  }

  // Records the value starting at pos_ and moves past it, or into it when it is a container
  // (then it becomes the innermost open one).
  std::size_t begin_value(std::size_t key_at) {
    const std::size_t id = nodes_.size();
    nodes_.push_back({pos_, key_at, 0, {}});
    const char c = peek();
    if (c == '{' || c == '[') {
      nodes_[id].kind = c;
      ++pos_;
      open_.push_back(id);
    } else if (c == '"') {
      skip_string();
    } else {
      while (pos_ < text_.size() &&
             std::string_view(",]} \t\r\n").find(text_[pos_]) == std::string_view::npos) {
        ++pos_;
      }
    }
    return id;
  }

  void scan() {
    skip_ws();
    begin_value(kNone);
    while (!open_.empty()) {
      skip_ws();
      const char c = peek();
      if (pos_ >= text_.size() || c == '}' || c == ']') {
        ++pos_;
        open_.pop_back();
        continue;
      }
      if (c == ',') {
        ++pos_;
        skip_ws();
      }
      const std::size_t parent = open_.back();
      const std::size_t before = pos_;
      if (nodes_[parent].kind == '{') {
        const std::size_t key_at = pos_;
        std::string key = string();
        skip_ws();
        if (peek() == ':') ++pos_;
        skip_ws();
        const std::size_t id = begin_value(key_at);
        members_[{parent, std::move(key)}] = id;  // a repeated key: the last one, as nlohmann
      } else {
        const std::size_t id = begin_value(kNone);
        nodes_[parent].items.push_back(id);
      }
      if (pos_ == before) ++pos_;  // only on text nlohmann rejected: always move on
    }
  }

  void skip_string() {
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      pos_ += text_[pos_] == '\\' ? 2 : 1;
    }
    ++pos_;
  }

  // Returns the decoded string (escapes included) and moves past it.
  std::string string() {
    const std::size_t start = pos_;
    skip_string();
    const json decoded = json::parse(text_.substr(start, pos_ - start), nullptr, false);
    return decoded.is_string() ? decoded.get<std::string>() : std::string();
  }

  // The nodes along `pointer` from the document down, as far as the text has them, and
  // whether the whole pointer was found.
  std::pair<std::vector<std::size_t>, bool> walk(const std::string& pointer) const {
    std::vector<std::size_t> path;
    if (nodes_.empty()) return {path, false};
    path.push_back(0);
    std::size_t i = 0;
    while (i < pointer.size()) {
      const std::size_t end = std::min(pointer.find('/', i + 1), pointer.size());
      const std::string token = unescape_token(pointer.substr(i + 1, end - i - 1));
      i = end;
      const std::size_t id = path.back();
      const Node& node = nodes_[id];
      std::optional<std::size_t> next;
      if (node.kind == '{') {
        const auto it = members_.find({id, token});
        if (it != members_.end()) next = it->second;
      } else if (node.kind == '[' && !token.empty() && token.size() < 19 &&
                 std::all_of(token.begin(), token.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
        const auto index = static_cast<std::size_t>(std::stoull(token));
        if (index < node.items.size()) next = node.items[index];
      }
      if (!next) return {path, false};
      path.push_back(*next);
    }
    return {path, true};
  }

  static std::string unescape_token(const std::string& token) {
    std::string out;
    for (std::size_t i = 0; i < token.size(); ++i) {
      const char next = i + 1 < token.size() ? token[i + 1] : '\0';
      if (token[i] == '~' && (next == '0' || next == '1')) {
        out += next == '0' ? '~' : '/';
        ++i;
      } else {
        out += token[i];
      }
    }
    return out;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::vector<Node> nodes_;
  std::vector<std::size_t> open_;  // containers being read, innermost last
  std::map<std::pair<std::size_t, std::string>, std::size_t> members_;  // (object, key) -> value
};

// 1-based line and column (in characters, not bytes) of a byte offset.
std::pair<int, int> line_column(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0U) != 0x80U) {  // UTF-8 continuation bytes share their character
      ++column;
    }
  }
  return {line, column};
}

// ---------------------------------------------------------------------------------------------
// Small helpers for messages.

std::string describe(const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::null:
      return "null";
    default: {
      std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
      if (text.size() > 60) text = text.substr(0, 57) + "...";
      return text;
    }
  }
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest candidate when it is close enough to be a likely typo.
std::optional<std::string> closest(const std::string& word,
                                   const std::vector<std::string>& options) {
  std::optional<std::string> best;
  std::size_t best_distance = word.size() <= 3 ? 1 : 2 + word.size() / 8;
  for (const auto& option : options) {
    const std::size_t d = edit_distance(word, option);
    if (d <= best_distance && (!best || d < best_distance)) {
      best = option;
      best_distance = d;
    }
  }
  return best;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string json_escape_body(const std::string& s) {
  const std::string quoted = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

// parse_duration/parse_rate messages start with the text they were given ("\"5\" is not a
// duration: ..."); keep only the reason so the issue can show the value as written in JSON.
std::string reason_after(const std::string& error, const std::string& marker) {
  const auto at = error.find(marker);
  return at == std::string::npos ? error : error.substr(at + marker.size());
}

Duration saturating_add(Duration a, Duration b) {
  const auto max = Duration::max().count();
  return a.count() > max - b.count() ? Duration::max() : a + b;
}

Duration saturating_mul(Duration d, std::int64_t times) {
  if (times > 0 && d.count() > Duration::max().count() / times) return Duration::max();
  return d * times;
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

// "4KiB", "16MiB", "1024B", "1.5MB": bytes, or nullopt.
std::optional<std::int64_t> parse_size(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) {
    ++i;
  }
  if (i == 0 || i == text.size()) return std::nullopt;
  std::string unit = text.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::map<std::string, double> kUnits = {
      {"b", 1.0},     {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0},
      {"kb", 1000.0}, {"mb", 1e6},     {"gb", 1e9}};
  const auto unit_it = kUnits.find(unit);
  if (unit_it == kUnits.end()) return std::nullopt;
  char* end = nullptr;
  const std::string number = text.substr(0, i);
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  const double bytes = value * unit_it->second;
  if (bytes < 1.0 || bytes > 9e15) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

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

bool json_subset(const json& expected, const json& actual) {
  if (!expected.is_object()) return expected == actual;
  if (!actual.is_object()) return false;
  for (const auto& [key, value] : expected.items()) {
    const auto it = actual.find(key);
    if (it == actual.end() || !json_subset(value, *it)) return false;
  }
  return true;
}

std::string sha256_hex(const std::string& bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw RunError("could not compute the SHA-256 of the scenario file (OpenSSL failure)");
  }
  std::string out;
  for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::string format_issues(const std::vector<ScenarioIssue>& issues) {
  std::string out;
  for (const auto& issue : issues) {
    if (!out.empty()) out += '\n';
    out += format_issue(issue);
  }
  if (issues.size() > 1) {
    out += fmt::format("\n{} problems in {}", issues.size(), issues.front().file);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The checker: walks the parsed document, builds the Scenario and collects every issue.

enum class TemplateScope { kEnvOnly, kAll };

const std::vector<std::string> kTopLevelKeys = {
    "name",     "target",           "headers",    "subprotocols", "redact",
    "load",     "timeouts",         "steps",      "thresholds",   "environments",
    "embedded", "max_message_size", "description"};
const std::vector<std::string> kStepKinds = {"connect", "send",  "expect", "sleep",
                                             "ping",    "close", "repeat"};

class Checker {
 public:
  Checker(const std::string& text, std::string file, const EnvLookup& env)
      : text_(text), file_(std::move(file)), env_(env), locations_(text_) {}

  Scenario check(const json& doc);

 private:
  // The issue at a byte offset of the text (line 0 when unknown).
  ScenarioIssue located(std::optional<std::size_t> offset, std::string ptr,
                        std::string message) const {
    ScenarioIssue issue{file_, 0, 0, std::move(ptr), std::move(message)};
    if (offset) std::tie(issue.line, issue.column) = line_column(text_, *offset);
    return issue;
  }

  // At the value `ptr` names, else at its nearest ancestor in the text.
  void issue(const std::string& ptr, std::string message) {
    issues_.push_back(located(locations_.value_at(ptr), ptr, std::move(message)));
  }
  // At the key naming `ptr` (or the nearest ancestor's key), else as issue().
  void key_issue(const std::string& ptr, std::string message) {
    const auto key = locations_.key_at(ptr);
    issues_.push_back(located(key ? key : locations_.value_at(ptr), ptr, std::move(message)));
  }

  // Keys of an object in file order (nlohmann sorts them), so output follows the file.
  std::vector<std::string> ordered_keys(const json& obj, const std::string& ptr) const {
    std::vector<std::pair<std::size_t, std::string>> keyed;
    for (const auto& item : obj.items()) {
      keyed.emplace_back(locations_.exact_key_at(child_pointer(ptr, item.key())).value_or(0),
                         item.key());
    }
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (auto& k : keyed) out.push_back(std::move(k.second));
    return out;
  }

  void check_keys(const json& obj, const std::string& ptr, const std::vector<std::string>& allowed,
                  const std::string& what);
  bool require_object(const json& j, const std::string& ptr, const std::string& what);
  std::optional<std::string> get_string(const json& j, const std::string& ptr,
                                        const std::string& what);
  std::optional<Duration> get_duration(const json& j, const std::string& ptr, bool allow_zero);
  std::optional<std::int64_t> get_positive_int(const json& j, const std::string& ptr,
                                               std::int64_t max);
  std::optional<std::int64_t> get_size(const json& j, const std::string& ptr);
  std::optional<double> get_number(const json& j, const std::string& ptr, double lo, double hi,
                                   const char* meaning);

  Template compile(const std::string& text, const std::string& ptr, TemplateScope scope);
  void compile_json(Template& out, const json& j, const std::string& ptr);
  std::string resolve_target(const json& j, const std::string& ptr);

  void check_headers(const json& j, Scenario& s);
  std::vector<std::string> get_string_array(const json& j, const std::string& ptr);
  Load check_load(const json& j, const std::string& ptr);
  void check_open_load(const json& j, const std::string& ptr, Load& load);
  Timeouts check_timeouts(const json& j, const std::string& ptr);
  std::vector<ThresholdSpec> check_thresholds(const json& j, const std::string& ptr);
  std::map<std::string, ProfileOverride> check_environments(const json& j, const std::string& ptr);

  std::vector<Step> check_steps(const json& j, const std::string& ptr, int depth);
  std::optional<Step> check_step(const json& j, const std::string& ptr, int depth,
                                 std::size_t index);
  void check_send(const json& j, const std::string& ptr, SendStep& send);
  void check_expect(const json& j, const std::string& ptr, ExpectStep& expect);
  void check_ping(const json& j, const std::string& ptr, PingStep& ping);
  void check_close(const json& j, const std::string& ptr, CloseStep& close, int depth);
  void check_repeat(const json& j, const std::string& ptr, RepeatStep& repeat, int depth);
  void check_cross(const Scenario& s);

  const std::string& text_;
  std::string file_;
  const EnvLookup& env_;
  LocationIndex locations_;
  std::vector<ScenarioIssue> issues_;
  std::vector<std::string> secrets_;
  bool closed_ = false;  // a top-level close was seen: later steps are issues
  int ready_marks_ = 0;
};

void Checker::check_keys(const json& obj, const std::string& ptr,
                         const std::vector<std::string>& allowed, const std::string& what) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string message = fmt::format("unknown key \"{}\" in {}", key, what);
    if (const auto suggestion = closest(key, allowed)) {
      message += fmt::format(": did you mean \"{}\"?", *suggestion);
    } else if (allowed.empty()) {
      message += ": it takes no keys, write {}";
    } else {
      message += fmt::format(": expected one of {}", join(allowed, ", "));
    }
    key_issue(child_pointer(ptr, key), message);
  }
}

bool Checker::require_object(const json& j, const std::string& ptr, const std::string& what) {
  if (j.is_object()) return true;
  issue(ptr, fmt::format("{} is not an object: {} must be an object {{...}}", describe(j), what));
  return false;
}

std::optional<std::string> Checker::get_string(const json& j, const std::string& ptr,
                                               const std::string& what) {
  if (j.is_string()) return j.get<std::string>();
  issue(ptr, fmt::format("{} is not a string: expected {}", describe(j), what));
  return std::nullopt;
}

std::optional<Duration> Checker::get_duration(const json& j, const std::string& ptr,
                                              bool allow_zero) {
  std::string error;
  const std::string text = j.is_string() ? j.get<std::string>() : j.dump();
  const auto d = j.is_string() || j.is_number() ? parse_duration(text, &error) : std::nullopt;
  if (!d) {
    if (error.empty()) error = "expected a string such as \"250ms\", \"1.5s\" or \"2m\"";
    issue(ptr, fmt::format("{} is not a duration: {}", describe(j),
                           reason_after(error, " is not a duration: ")));
    return std::nullopt;
  }
  if (!allow_zero && d->count() <= 0) {
    issue(ptr, fmt::format("{} is zero: a timeout must be positive, e.g. \"5s\"", describe(j)));
    return std::nullopt;
  }
  return d;
}

std::optional<std::int64_t> Checker::get_positive_int(const json& j, const std::string& ptr,
                                                      std::int64_t max) {
  const bool integer = j.is_number_unsigned() || j.is_number_integer();
  if (integer && j.get<std::int64_t>() >= 1 &&
      (j.is_number_integer() || j.get<std::uint64_t>() <= static_cast<std::uint64_t>(max)) &&
      j.get<std::int64_t>() <= max) {
    return j.get<std::int64_t>();
  }
  issue(ptr,
        fmt::format("{} is not allowed here: expected an integer from 1 to {}", describe(j), max));
  return std::nullopt;
}

std::optional<std::int64_t> Checker::get_size(const json& j, const std::string& ptr) {
  if (j.is_number_unsigned() || j.is_number_integer()) {
    if (j.get<std::int64_t>() >= 1) return j.get<std::int64_t>();
  } else if (j.is_string()) {
    if (const auto bytes = parse_size(j.get<std::string>())) return bytes;
  }
  issue(ptr, fmt::format("{} is not a size: expected a positive number of bytes (1024) or a "
                         "string with a unit: \"1024B\", \"64KiB\", \"16MiB\", \"1MB\"",
                         describe(j)));
  return std::nullopt;
}

std::optional<double> Checker::get_number(const json& j, const std::string& ptr, double lo,
                                          double hi, const char* meaning) {
  if (j.is_number() && j.get<double>() >= lo && j.get<double>() <= hi) return j.get<double>();
  issue(ptr, fmt::format("{} is not allowed here: expected a number from {} to {} ({})",
                         describe(j), lo, hi, meaning));
  return std::nullopt;
}

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

std::string Checker::resolve_target(const json& j, const std::string& ptr) {
  const auto written = get_string(j, ptr, "a ws:// or wss:// URL, or \"embedded\"");
  if (!written) return {};
  const std::size_t before = issues_.size();
  const std::string url = expand(compile(*written, ptr, TemplateScope::kEnvOnly), {});
  if (issues_.size() != before || url.empty() || url == "embedded") return url;
  // Checked after ${env:...} expansion: that is what goes into the request line. The message
  // quotes the value as written, never the expansion (a secret).
  std::string problem;
  if (!parse_ws_url(url, &problem)) {
    issue(ptr, fmt::format("{} is not a WebSocket URL: {}; expected ws://HOST[:PORT]/PATH, "
                           "wss://HOST[:PORT]/PATH or \"embedded\"",
                           describe(j), problem));
  }
  return url;
}

void Checker::check_headers(const json& j, Scenario& s) {
  if (!require_object(j, "/headers", "\"headers\"")) return;
  for (const auto& name : ordered_keys(j, "/headers")) {
    const json& value = j[name];
    const std::string ptr = child_pointer("/headers", name);
    if (const auto why = header_name_problem(name)) {
      key_issue(ptr,
                fmt::format("{} is not a valid HTTP header name: {}", quote_escaped(name), *why));
    }
    const auto text = get_string(value, ptr, "a header value (a string)");
    if (!text) continue;
    Template t = compile(*text, ptr, TemplateScope::kAll);
    // Every literal byte, ${env:...} values included; the runtime placeholders expand to
    // digits, hex and '-' only (the runner checks the expansion again before sending).
    if (const auto why = header_value_problem(expand(t, {}))) issue(ptr, *why);
    s.headers.emplace_back(name, std::move(t));
  }
}

std::vector<std::string> Checker::get_string_array(const json& j, const std::string& ptr) {
  std::vector<std::string> out;
  if (!j.is_array()) {
    issue(ptr, fmt::format("{} is not an array: expected an array of strings, e.g. [\"a\"]",
                           describe(j)));
    return out;
  }
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string item_ptr = child_pointer(ptr, i);
    const auto text = get_string(j[i], item_ptr, "a non-empty string");
    if (text && text->empty()) issue(item_ptr, "empty string: expected a non-empty string");
    if (text && !text->empty()) out.push_back(*text);
  }
  return out;
}

Load Checker::check_load(const json& j, const std::string& ptr) {
  Load load;
  if (!require_object(j, ptr, "\"load\"")) return load;
  check_keys(j, ptr,
             {"connections", "concurrency", "rate", "duration", "stages", "max_concurrency"},
             "\"load\"");
  const bool closed = j.contains("connections") || j.contains("concurrency");
  const bool open = j.contains("rate") || j.contains("duration") || j.contains("stages") ||
                    j.contains("max_concurrency");
  if (closed && open) {
    issue(ptr,
          "mixes the closed model (connections, concurrency) with the open model (rate, "
          "duration, stages, max_concurrency): use one of them");
    return load;
  }
  if (open) {
    check_open_load(j, ptr, load);
    return load;
  }
  if (j.contains("connections")) {
    load.connections = get_positive_int(j["connections"], ptr + "/connections", 100'000'000)
                           .value_or(load.connections);
  }
  if (j.contains("concurrency")) {
    load.concurrency = get_positive_int(j["concurrency"], ptr + "/concurrency", 1'000'000)
                           .value_or(load.concurrency);
  }
  return load;
}

void Checker::check_open_load(const json& j, const std::string& ptr, Load& load) {
  std::string error;
  if (j.contains("rate")) {
    const json& r = j["rate"];
    load.rate = r.is_string() ? parse_rate(r.get<std::string>(), &error) : std::nullopt;
    if (!load.rate) {
      issue(ptr + "/rate", fmt::format("{} is not a rate: {}", describe(r),
                                       error.empty() ? "expected e.g. \"20/s\" or \"1200/m\""
                                                     : reason_after(error, " is not a rate: ")));
    }
  }
  if (j.contains("duration")) load.duration = get_duration(j["duration"], ptr + "/duration", false);
  if (j.contains("max_concurrency")) {
    load.max_concurrency =
        get_positive_int(j["max_concurrency"], ptr + "/max_concurrency", 1'000'000)
            .value_or(load.max_concurrency);
  }
  if (j.contains("stages")) {
    const json& stages = j["stages"];
    const std::string stages_ptr = ptr + "/stages";
    if (!stages.is_array() || stages.empty()) {
      issue(stages_ptr, fmt::format("{} is not allowed here: expected a non-empty array of "
                                    "{{\"duration\": \"30s\", \"target\": \"20/s\"}}",
                                    describe(stages)));
    } else {
      for (std::size_t i = 0; i < stages.size(); ++i) {
        const std::string sp = child_pointer(stages_ptr, i);
        if (!require_object(stages[i], sp, "a stage")) continue;
        check_keys(stages[i], sp, {"duration", "target"}, "a stage");
        Stage stage;
        if (!stages[i].contains("duration") || !stages[i].contains("target")) {
          issue(sp,
                "a stage needs both \"duration\" and \"target\", e.g. {\"duration\": \"30s\", "
                "\"target\": \"20/s\"}");
          continue;
        }
        stage.duration =
            get_duration(stages[i]["duration"], sp + "/duration", false).value_or(Duration{});
        const json& target = stages[i]["target"];
        const std::string text = target.is_string() ? target.get<std::string>() : "";
        // A ramp down to zero is legitimate; parse_rate rejects zero rates on purpose.
        const auto slash = text.find('/');
        const bool zero = slash != std::string::npos && slash > 0 &&
                          text.find_first_not_of("0.") >= slash &&
                          parse_rate("1" + text.substr(slash)).has_value();
        std::string rate_error;
        const auto rate = zero ? std::optional<Rate>(Rate{0.0}) : parse_rate(text, &rate_error);
        if (!rate) {
          issue(sp + "/target",
                fmt::format("{} is not a rate: {}", describe(target),
                            rate_error.empty() ? "expected e.g. \"20/s\" or \"0/s\""
                                               : reason_after(rate_error, " is not a rate: ")));
        }
        stage.target = rate.value_or(Rate{});
        load.stages.push_back(stage);
      }
    }
  }
  if (load.stages.empty() && !j.contains("stages")) {
    if (!j.contains("rate")) {
      issue(ptr, "the open model needs \"rate\" (e.g. \"20/s\") with \"duration\", or \"stages\"");
    } else if (!j.contains("duration")) {
      issue(ptr, "\"rate\" needs a \"duration\" (e.g. \"30s\"): how long to keep arriving");
    }
  }
}

Timeouts Checker::check_timeouts(const json& j, const std::string& ptr) {
  Timeouts t;
  if (!require_object(j, ptr, "\"timeouts\"")) return t;
  std::vector<std::string> keys;
  for (const TimeoutField& f : kTimeoutFields) keys.emplace_back(f.name);
  check_keys(j, ptr, keys, "\"timeouts\"");
  for (const TimeoutField& f : kTimeoutFields) {
    if (!j.contains(f.name)) continue;
    if (const auto d = get_duration(j[f.name], ptr + "/" + f.name, false)) t.*f.field = *d;
  }
  return t;
}

std::vector<ThresholdSpec> Checker::check_thresholds(const json& j, const std::string& ptr) {
  std::vector<ThresholdSpec> out;
  if (!require_object(j, ptr, "\"thresholds\" (metric -> [expressions])")) return out;
  const auto& metrics = known_metrics();
  for (const auto& metric : ordered_keys(j, ptr)) {
    const json& exprs = j[metric];
    const std::string mp = child_pointer(ptr, metric);
    if (!takes_thresholds(metric)) {
      const auto suggestion = closest(metric, metrics);
      key_issue(mp, fmt::format("unknown metric \"{}\"{} (known metrics: {})", metric,
                                suggestion ? ": did you mean \"" + *suggestion + "\"?" : "",
                                join(metrics, ", ")));
      continue;
    }
    if (!exprs.is_array()) {
      issue(mp, fmt::format("{} is not an array: expected an array of expressions, e.g. "
                            "[\"p95 < 1s\"]",
                            describe(exprs)));
      continue;
    }
    for (std::size_t i = 0; i < exprs.size(); ++i) {
      const std::string ep = child_pointer(mp, i);
      const auto expr = get_string(exprs[i], ep, "an expression such as \"p95 < 1s\"");
      if (!expr) continue;
      try {
        parse_threshold(metric, *expr, ep);
        out.push_back({metric, *expr, ep});
      } catch (const UsageError& e) {
        // parse_threshold names `where` itself; the issue carries the pointer already.
        std::string message = e.what();
        if (message.rfind(ep + ": ", 0) == 0) message = message.substr(ep.size() + 2);
        issue(ep, message);
      }
    }
  }
  return out;
}

std::map<std::string, ProfileOverride> Checker::check_environments(const json& j,
                                                                   const std::string& ptr) {
  std::map<std::string, ProfileOverride> out;
  if (!require_object(j, ptr, "\"environments\" (profile -> overrides)")) return out;
  for (const auto& name : ordered_keys(j, ptr)) {
    const json& value = j[name];
    const std::string np = child_pointer(ptr, name);
    const auto canonical = canonical_profile_name(name);
    if (!canonical) {
      key_issue(np, fmt::format("unknown profile \"{}\": expected one of production (prod), "
                                "staging (stage), development (dev), local, test",
                                name));
      continue;
    }
    if (out.count(*canonical) != 0) {
      key_issue(np,
                fmt::format("profile \"{}\" is given twice (as an alias of {})", name, *canonical));
      continue;
    }
    if (!require_object(value, np, "a profile override")) continue;
    check_keys(value, np, {"multiplier", "margin", "target"}, "a profile override");
    ProfileOverride o;
    // Bounded so that scaled durations stay meaningful: 1e308 overflowed every `within` in
    // `run` (negative: immediate timeouts), and a tiny multiplier scaled them all to zero.
    if (value.contains("multiplier")) {
      o.multiplier = get_number(value["multiplier"], np + "/multiplier", kMinMultiplier,
                                kMaxMultiplier, "thresholds and timeouts are multiplied by it");
    }
    if (value.contains("margin")) {
      o.margin = get_number(value["margin"], np + "/margin", 0.0, kMaxMargin,
                            "timeouts also grow by it: 0.2 is 20%");
    }
    if (value.contains("target")) o.target = resolve_target(value["target"], np + "/target");
    out[*canonical] = o;
  }
  return out;
}

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
  const std::string kinds = join(kStepKinds, ", ");
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
  const json& body = j.begin().value();
  const std::string bp = child_pointer(ptr, kind);
  Step step{};
  step.pointer = ptr;
  if (kind == "connect") {
    step.kind = Step::Kind::kConnect;
    if (depth != 0 || index != 0) {
      issue(ptr,
            "connect must be the first step of the scenario (it is implied there when "
            "missing); one connection per scenario run");
    }
    if (require_object(body, bp, "\"connect\"")) check_keys(body, bp, {}, "\"connect\"");
  } else if (kind == "send") {
    step.kind = Step::Kind::kSend;
    check_send(body, bp, step.send);
  } else if (kind == "expect") {
    step.kind = Step::Kind::kExpect;
    check_expect(body, bp, step.expect);
  } else if (kind == "sleep") {
    step.kind = Step::Kind::kSleep;
    step.sleep.duration = get_duration(body, bp, true).value_or(Duration{});
  } else if (kind == "ping") {
    step.kind = Step::Kind::kPing;
    check_ping(body, bp, step.ping);
  } else if (kind == "close") {
    step.kind = Step::Kind::kClose;
    check_close(body, bp, step.close, depth);
  } else if (kind == "repeat") {
    step.kind = Step::Kind::kRepeat;
    check_repeat(body, bp, step.repeat, depth);
  } else {
    const auto suggestion = closest(kind, kStepKinds);
    key_issue(bp, fmt::format("unknown step \"{}\"{} (steps: {})", kind,
                              suggestion ? ": did you mean \"" + *suggestion + "\"?" : "", kinds));
    return std::nullopt;
  }
  return step;
}

void Checker::check_send(const json& j, const std::string& ptr, SendStep& send) {
  const std::vector<std::string> forms = {"text", "json", "binary", "size"};
  if (!require_object(j, ptr, "\"send\"")) return;
  check_keys(j, ptr, forms, "\"send\"");
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
      send.payload = compile(*text, fp, TemplateScope::kAll);
    }
  } else if (form == "json") {
    send.kind = SendStep::Kind::kJson;
    compile_json(send.payload, value, fp);
  } else if (form == "binary") {
    send.kind = SendStep::Kind::kBinary;
    const auto hex = get_string(value, fp, "hex bytes such as \"deadbeef\"");
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

void Checker::check_expect(const json& j, const std::string& ptr, ExpectStep& expect) {
  const std::vector<std::string> matchers = {"json", "text", "regex", "any"};
  if (!require_object(j, ptr, "\"expect\"")) return;
  check_keys(j, ptr, {"json", "text", "regex", "any", "within", "mark"}, "\"expect\"");
  std::vector<std::string> given;
  for (const auto& m : matchers) {
    if (j.contains(m)) given.push_back(m);
  }
  if (given.size() != 1) {
    issue(ptr, fmt::format("\"expect\" needs exactly one matcher (json, text, regex or any); "
                           "found {}",
                           given.empty() ? "none" : join(given, " and ")));
  } else {
    const std::string mp = ptr + "/" + given.front();
    const json& value = j[given.front()];
    if (given.front() == "json") {
      expect.kind = ExpectStep::Kind::kJson;
      expect.json = value;
    } else if (given.front() == "text") {
      expect.kind = ExpectStep::Kind::kText;
      expect.text = get_string(value, mp, "the exact text expected").value_or("");
    } else if (given.front() == "regex") {
      expect.kind = ExpectStep::Kind::kRegex;
      expect.text = get_string(value, mp, "a regular expression (RE2 syntax)").value_or("");
      std::string error;
      if (group_depth(expect.text) > kMaxRegexDepth) {
        issue(mp, fmt::format("the regular expression nests groups deeper than {}: simplify it",
                              kMaxRegexDepth));
      } else if (expect.regex = compile_regex(expect.text, &error); expect.regex == nullptr) {
        issue(mp, fmt::format("{} is not a valid regular expression: {} (wslat uses RE2 syntax: "
                              "no backreferences or lookaround)",
                              describe(value), error));
      }
    } else {
      expect.kind = ExpectStep::Kind::kAny;
      if (value != json(true))
        issue(mp, fmt::format("{} is not allowed: write \"any\": true", describe(value)));
    }
  }
  if (j.contains("within")) expect.within = get_duration(j["within"], ptr + "/within", false);
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

void Checker::check_ping(const json& j, const std::string& ptr, PingStep& ping) {
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

void Checker::check_close(const json& j, const std::string& ptr, CloseStep& close, int depth) {
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

void Checker::check_repeat(const json& j, const std::string& ptr, RepeatStep& repeat, int depth) {
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
    repeat.steps = check_steps(j["steps"], ptr + "/steps", depth + 1);
  }
}

std::int64_t count_flat(const std::vector<Step>& steps) {
  std::int64_t n = 0;
  for (const auto& step : steps) {
    const std::int64_t inner = step.kind == Step::Kind::kRepeat ? count_flat(step.repeat.steps) : 1;
    const std::int64_t times = step.kind == Step::Kind::kRepeat ? step.repeat.times : 1;
    n += inner > (kMaxFlatSteps + 1) / std::max<std::int64_t>(times, 1) ? kMaxFlatSteps + 1
                                                                        : inner * times;
    n = std::min(n, kMaxFlatSteps + 1);
  }
  return n;
}

void check_send_sizes(const std::vector<Step>& steps, std::int64_t max_bytes,
                      std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& step : steps) {
    if (step.kind == Step::Kind::kRepeat) check_send_sizes(step.repeat.steps, max_bytes, out);
    if (step.kind == Step::Kind::kSend && step.send.kind == SendStep::Kind::kSize &&
        static_cast<std::int64_t>(step.send.size) > max_bytes) {
      out.emplace_back(step.pointer + "/send/size",
                       fmt::format("{} bytes exceeds max_message_size ({} bytes): raise "
                                   "\"max_message_size\" or send less",
                                   step.send.size, max_bytes));
    }
  }
}

void Checker::check_cross(const Scenario& s) {
  if (count_flat(s.steps) > kMaxFlatSteps) {
    issue("/steps", fmt::format("the steps unroll to more than {} steps (repeats multiplied): "
                                "lower the repeat counts",
                                kMaxFlatSteps));
  }
  std::vector<std::pair<std::string, std::string>> too_big;
  check_send_sizes(s.steps, s.max_message_bytes, too_big);
  for (const auto& [ptr, message] : too_big) issue(ptr, message);
}

Scenario Checker::check(const json& doc) {
  Scenario s;
  s.file = file_;
  if (!require_object(doc, "", "a scenario file")) throw ScenarioError(issues_);
  check_keys(doc, "", kTopLevelKeys, "the scenario");
  if (!doc.contains("name")) {
    issue("", "missing \"name\": give the scenario a name, e.g. \"name\": \"chat-golden-path\"");
  } else if (const auto name = get_string(doc["name"], "/name", "a non-empty name")) {
    if (name->empty()) issue("/name", "empty name: expected a non-empty string");
    s.name = *name;
  }
  if (doc.contains("target")) s.target = resolve_target(doc["target"], "/target");
  if (doc.contains("headers")) check_headers(doc["headers"], s);
  if (doc.contains("subprotocols")) {
    s.subprotocols = get_string_array(doc["subprotocols"], "/subprotocols");
    const json& list = doc["subprotocols"];
    for (std::size_t i = 0; list.is_array() && i < list.size(); ++i) {
      if (!list[i].is_string() || list[i].get<std::string>().empty()) continue;  // said above
      if (const auto why = subprotocol_problem(list[i].get<std::string>())) {
        issue(child_pointer("/subprotocols", i), *why);
      }
    }
  }
  if (doc.contains("redact")) s.redact = get_string_array(doc["redact"], "/redact");
  if (doc.contains("load")) s.load = check_load(doc["load"], "/load");
  if (doc.contains("timeouts")) s.timeouts = check_timeouts(doc["timeouts"], "/timeouts");
  if (doc.contains("max_message_size")) {
    s.max_message_bytes =
        get_size(doc["max_message_size"], "/max_message_size").value_or(s.max_message_bytes);
  }
  if (doc.contains("embedded")) {
    if (require_object(doc["embedded"], "/embedded", "\"embedded\" (serve options)")) {
      s.embedded = doc["embedded"];
    }
  }
  if (!doc.contains("steps")) {
    issue("",
          "missing \"steps\": expected a non-empty array of steps, e.g. "
          "[{\"send\": {\"text\": \"hi\"}}, {\"expect\": {\"any\": true}}]");
  } else {
    s.steps = check_steps(doc["steps"], "/steps", 0);
  }
  if (s.steps.empty() || s.steps.front().kind != Step::Kind::kConnect) {
    Step connect{};
    connect.kind = Step::Kind::kConnect;
    connect.pointer = "/steps";  // implied: not written in the file
    s.steps.insert(s.steps.begin(), connect);
  }
  if (doc.contains("thresholds")) {
    s.thresholds = check_thresholds(doc["thresholds"], "/thresholds");
  } else {
    s.thresholds = default_thresholds();
    s.thresholds_defaulted = true;
  }
  if (doc.contains("environments")) {
    s.environments = check_environments(doc["environments"], "/environments");
  }
  check_cross(s);
  if (!issues_.empty()) {
    std::stable_sort(issues_.begin(), issues_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    throw ScenarioError(issues_);
  }
  s.secrets = secrets_;
  return s;
}

// nlohmann reports the last byte of the offending token; users look for its first byte.
std::size_t token_start(const std::string& text, std::size_t offset, const std::string& message) {
  if (offset >= text.size()) return offset;
  if (message.find("unexpected string literal") != std::string::npos && text[offset] == '"') {
    std::size_t i = offset;
    while (i > 0 && !(text[i - 1] == '"' && (i < 2 || text[i - 2] != '\\'))) --i;
    return i > 0 ? i - 1 : offset;
  }
  if (message.find("literal") != std::string::npos) {
    std::size_t i = offset;
    while (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) != 0 ||
                     std::string_view("+-.").find(text[i - 1]) != std::string_view::npos)) {
      --i;
    }
    return i;
  }
  return offset;
}

ScenarioIssue syntax_issue(const std::string& text, const std::string& file,
                           const json::parse_error& e) {
  // e.byte is the 1-based index of the last byte read; nlohmann's message already says what
  // was expected, after its own "line L, column C: " prefix, which we replace by ours.
  std::string message = e.what();
  const auto syntax = message.find("syntax error");
  if (syntax != std::string::npos) {
    message = message.substr(syntax);
  } else if (const auto colon = message.find("]: "); colon != std::string::npos) {
    message = message.substr(colon + 3);
  }
  const std::size_t offset = token_start(text, e.byte > 0 ? e.byte - 1 : 0, message);
  const auto [line, column] = line_column(text, offset);
  const bool unexpected_token = message.find("unexpected") != std::string::npos;
  if (unexpected_token && (message.find("; expected '}'") != std::string::npos ||
                           message.find("; expected ']'") != std::string::npos)) {
    message += " (is a comma missing before it?)";
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    message = "the file is empty: expected a JSON object {\"name\": ..., \"steps\": [...]}";
  }
  return {file, line, column, "", "invalid JSON: " + message};
}

// A number too large for a double: nlohmann names the token but not where it is, so the
// first occurrence of the token locates it.
ScenarioIssue overflow_issue(const std::string& text, const std::string& file,
                             const json::out_of_range& e) {
  const std::string message = e.what();
  const auto open = message.find("parsing '");
  const auto close = open == std::string::npos ? open : message.find('\'', open + 9);
  const std::string token =
      close == std::string::npos ? std::string() : message.substr(open + 9, close - open - 9);
  const auto at = token.empty() ? std::string::npos : text.find(token);
  const auto [line, column] = line_column(text, at == std::string::npos ? 0 : at);
  return {file, at == std::string::npos ? 0 : line, at == std::string::npos ? 0 : column, "",
          fmt::format("invalid JSON: the number {} is out of range: numbers must be within "
                      "+-1.7e308 (durations and sizes are strings such as \"5s\", \"1MiB\")",
                      token.empty() ? "here" : token)};
}

// Contribution of steps to the budget, without the items (used for repeats).
Duration steps_budget(const std::vector<Step>& steps, const TimeoutPlan& t,
                      std::vector<BudgetItem>* items);

Duration step_budget(const Step& step, const TimeoutPlan& t, std::vector<BudgetItem>* items) {
  auto add = [&](const std::string& what, Duration d) {
    if (items != nullptr) items->push_back({step.pointer, what, d});
    return d;
  };
  switch (step.kind) {
    case Step::Kind::kConnect: {
      const Duration connect = add("connect timeout", t.effective.connect);
      return saturating_add(connect, add("handshake timeout", t.effective.handshake));
    }
    case Step::Kind::kExpect:
      return add(step.expect.within ? "expect within" : "expect (message timeout)",
                 t.wait(step.expect.within).effective);
    case Step::Kind::kPing:
      return add(step.ping.within ? "ping within" : "ping (message timeout)",
                 t.wait(step.ping.within).effective);
    case Step::Kind::kSleep:
      return add("sleep", step.sleep.duration);
    case Step::Kind::kClose:
      return add("close timeout", t.effective.close);
    case Step::Kind::kRepeat: {
      const Duration once = steps_budget(step.repeat.steps, t, nullptr);
      return add(fmt::format("repeat ×{} ({} each)", step.repeat.times, format_duration(once)),
                 saturating_mul(once, step.repeat.times));
    }
    case Step::Kind::kSend:
      break;
  }
  return Duration{};
}

Duration steps_budget(const std::vector<Step>& steps, const TimeoutPlan& t,
                      std::vector<BudgetItem>* items) {
  Duration total{};
  for (const auto& step : steps) total = saturating_add(total, step_budget(step, t, items));
  return total;
}

void flatten_into(const std::vector<Step>& steps, std::int64_t iteration,
                  std::vector<FlatStep>& out) {
  for (const auto& step : steps) {
    if (step.kind != Step::Kind::kRepeat) {
      if (static_cast<std::int64_t>(out.size()) >= kMaxFlatSteps) {
        throw UsageError(
            fmt::format("{}: the steps unroll to more than {} steps (repeats "
                        "multiplied): lower the repeat counts",
                        step.pointer, kMaxFlatSteps));
      }
      out.push_back({&step, iteration});
      continue;
    }
    for (std::int64_t i = 0; i < step.repeat.times; ++i) flatten_into(step.repeat.steps, i, out);
  }
}

}  // namespace

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

bool matches(const ExpectStep& expect, const std::string& message) {
  switch (expect.kind) {
    case ExpectStep::Kind::kAny:
      return true;
    case ExpectStep::Kind::kText:
      return message == expect.text;
    case ExpectStep::Kind::kRegex:
      // RE2 matches in time linear in the message, whatever the pattern: no cut, no deep stack.
      return expect.regex != nullptr && RE2::PartialMatch(message, *expect.regex);
    case ExpectStep::Kind::kJson: {
      // Bounded nesting: the parse stops at the first level too many instead of building it.
      const auto actual = try_parse_json_bounded(message);
      return actual && json_subset(expect.json, *actual);
    }
  }
  return false;
}

std::shared_ptr<const re2::RE2> compile_regex(const std::string& pattern, std::string* error) {
  RE2::Options options;  // UTF-8, Perl-like classes, longest_match off: search semantics
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(pattern, options);
  if (re->ok()) return re;
  if (error != nullptr) *error = re->error();
  return nullptr;
}

std::vector<FlatStep> flatten(const std::vector<Step>& steps) {
  std::vector<FlatStep> out;
  flatten_into(steps, 0, out);
  return out;
}

std::string format_issue(const ScenarioIssue& issue) {
  std::string out = issue.file;
  if (issue.line > 0) out += fmt::format(":{}:{}", issue.line, issue.column);
  out += ": ";
  if (!issue.pointer.empty()) out += issue.pointer + ": ";
  return out + issue.message;
}

ScenarioError::ScenarioError(std::vector<ScenarioIssue> issues)
    : UsageError(format_issues(issues)), issues_(std::move(issues)) {}

Scenario parse_scenario(const std::string& text, const std::string& file, const EnvLookup& env) {
  json doc;
  try {
    doc = parse_json_bounded(text);
  } catch (const JsonTooDeep& e) {
    const auto [line, column] = line_column(text, e.offset());
    throw ScenarioError({{file, line, column, "", std::string("invalid JSON: ") + e.what()}});
  } catch (const json::parse_error& e) {
    throw ScenarioError({syntax_issue(text, file, e)});
  } catch (const json::out_of_range& e) {
    throw ScenarioError({overflow_issue(text, file, e)});  // e.g. 1e999 (found by fuzzing)
  }
  Scenario s = Checker(text, file, env).check(doc);
  s.sha256 = sha256_hex(text);
  return s;
}

Scenario load_scenario(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UsageError(fmt::format("cannot read scenario file {}: {}", path, std::strerror(errno)));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return parse_scenario(bytes.str(), path, env);
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::vector<ThresholdSpec> default_thresholds() {
  std::vector<ThresholdSpec> out;
  for (const MetricDef& m : kMetricRegistry) {
    if (m.default_threshold.empty()) continue;
    out.push_back({std::string(m.name), std::string(m.default_threshold), "default"});
  }
  return out;
}

TimeoutBudget worst_case_budget(const Scenario& s, const Timeouts& written) {
  return worst_case_budget(s, unscaled_timeouts(written));
}

TimeoutBudget worst_case_budget(const Scenario& s, const TimeoutPlan& timeouts) {
  TimeoutBudget budget;
  budget.total = steps_budget(s.steps, timeouts, &budget.items);
  const Duration close = timeouts.effective.close;
  if (s.steps.empty() || s.steps.back().kind != Step::Kind::kClose) {
    budget.items.push_back({"/steps", "implicit close at the end", close});
    budget.total = saturating_add(budget.total, close);
  }
  return budget;
}

}  // namespace wslat
