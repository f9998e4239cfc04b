// Scenario diagnostics (internal to lib/scenario_*.cpp): where a value sits in the file's text,
// how a value is described in a message, "did you mean", and the issues for text that is not
// JSON at all.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenario.hpp"

namespace wslat::scenario_detail {

std::string child_pointer(const std::string& parent, const std::string& token);
std::string child_pointer(const std::string& parent, std::size_t index);

// nlohmann 3.11 does not expose where a value sits in the text, so a small scanner walks the
// (already parsed, so valid and depth-bounded) text once, without recursion, and records where
// every value and every object key starts as a tree parallel to the document. Memory is linear
// in the text: storing a JSON pointer per value instead took 4.9 GB for 100 KB of nested arrays
// (each pointer as long as its depth, or as its ancestors' keys).
class LocationIndex {
 public:
  explicit LocationIndex(std::string_view text) : text_(text) { scan(); }

  // Offset of the value at `pointer`, else of its nearest ancestor in the text.
  std::optional<std::size_t> value_at(const std::string& pointer) const;
  // Offset of the key naming the value at `pointer`, else of the key of its nearest ancestor
  // that is an object member; nullopt when there is none (e.g. the document itself).
  std::optional<std::size_t> key_at(const std::string& pointer) const;
  // Offset of the key naming exactly the value at `pointer`, or nullopt.
  std::optional<std::size_t> exact_key_at(const std::string& pointer) const;

 private:
  static constexpr std::size_t kNone = std::string_view::npos;

  struct Node {
    std::size_t at = 0;              // first byte of the value
    std::size_t key_at = kNone;      // first byte of its key, when an object member
    char kind = 0;                   // '{', '[' or 0 for a scalar
    std::vector<std::size_t> items;  // array elements, in order
  };

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_ws();
  std::size_t begin_value(std::size_t key_at);
  void scan();
  void skip_string();
  std::string string();
  std::pair<std::vector<std::size_t>, bool> walk(const std::string& pointer) const;
  static std::string unescape_token(const std::string& token);

  std::string_view text_;
  std::size_t pos_ = 0;
  std::vector<Node> nodes_;
  std::vector<std::size_t> open_;  // containers being read, innermost last
  std::map<std::pair<std::size_t, std::string>, std::size_t> members_;  // (object, key) -> value
};

// 1-based line and column (in characters, not bytes) of a byte offset.
std::pair<int, int> line_column(std::string_view text, std::size_t offset);

// A value as a message shows it: "an object", "an array", "null" or its JSON text (cut at 60).
std::string describe(const nlohmann::json& j);
// The closest option when it is close enough to be a likely typo (case-insensitive).
std::optional<std::string> closest(const std::string& word,
                                   const std::vector<std::string>& options);
// ": did you mean \"x\"?" for the closest option, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& options);
std::string join(const std::vector<std::string>& items, const std::string& separator);
// parse_duration/parse_rate messages start with the text they were given ("\"5\" is not a
// duration: ..."); keep only the reason so the issue can show the value as written in JSON.
std::string reason_after(const std::string& error, const std::string& marker);

// The issue for text nlohmann refused, located at the first byte of the offending token.
ScenarioIssue syntax_issue(const std::string& text, const std::string& file,
                           const nlohmann::json::parse_error& e);
// A number too large for a double (e.g. 1e999), located at its first occurrence.
ScenarioIssue overflow_issue(const std::string& text, const std::string& file,
                             const nlohmann::json::out_of_range& e);

}  // namespace wslat::scenario_detail
