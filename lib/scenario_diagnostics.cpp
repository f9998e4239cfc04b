// Scenario diagnostics: locations in the text, messages, "did you mean", JSON syntax issues, and
// the ScenarioError that carries them all.
#include "scenario_diagnostics.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/core.h>

#include "json_pointer.hpp"

namespace wslat {
namespace scenario_detail {

using nlohmann::json;

std::string child_pointer(const std::string& parent, const std::string& token) {
  return parent + "/" + json_pointer_token(token);
}

std::string child_pointer(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

// ---------------------------------------------------------------------------------------------
// Locations.

std::optional<std::size_t> LocationIndex::value_at(const std::string& pointer) const {
  const auto path = walk(pointer).first;
  if (path.empty()) return std::nullopt;
  return nodes_[path.back()].at;
}

std::optional<std::size_t> LocationIndex::key_at(const std::string& pointer) const {
  const auto path = walk(pointer).first;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    if (nodes_[*it].key_at != kNone) return nodes_[*it].key_at;
  }
  return std::nullopt;
}

std::optional<std::size_t> LocationIndex::exact_key_at(const std::string& pointer) const {
  const auto [path, complete] = walk(pointer);
  if (!complete || path.empty() || nodes_[path.back()].key_at == kNone) return std::nullopt;
  return nodes_[path.back()].key_at;
}

void LocationIndex::skip_ws() {
  while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) {
    ++pos_;
  }
}

// Records the value starting at pos_ and moves past it, or into it when it is a container
// (then it becomes the innermost open one).
std::size_t LocationIndex::begin_value(std::size_t key_at) {
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

void LocationIndex::scan() {
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

void LocationIndex::skip_string() {
  ++pos_;
  while (pos_ < text_.size() && text_[pos_] != '"') {
    pos_ += text_[pos_] == '\\' ? 2 : 1;
  }
  ++pos_;
}

// Returns the decoded string (escapes included) and moves past it.
std::string LocationIndex::string() {
  const std::size_t start = pos_;
  skip_string();
  const json decoded = json::parse(text_.substr(start, pos_ - start), nullptr, false);
  return decoded.is_string() ? decoded.get<std::string>() : std::string();
}

// The nodes along `pointer` from the document down, as far as the text has them, and
// whether the whole pointer was found.
std::pair<std::vector<std::size_t>, bool> LocationIndex::walk(const std::string& pointer) const {
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

std::string LocationIndex::unescape_token(const std::string& token) {
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
// Messages.

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

std::string did_you_mean(const std::string& word, const std::vector<std::string>& options) {
  const auto suggestion = closest(word, options);
  return suggestion ? ": did you mean \"" + *suggestion + "\"?" : "";
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string reason_after(const std::string& error, const std::string& marker) {
  const auto at = error.find(marker);
  return at == std::string::npos ? error : error.substr(at + marker.size());
}

// ---------------------------------------------------------------------------------------------
// Text that is not JSON.

namespace {

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

}  // namespace

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

}  // namespace scenario_detail

namespace {

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

}  // namespace

std::string format_issue(const ScenarioIssue& issue) {
  std::string out = issue.file;
  if (issue.line > 0) out += fmt::format(":{}:{}", issue.line, issue.column);
  out += ": ";
  if (!issue.pointer.empty()) out += issue.pointer + ": ";
  return out + issue.message;
}

ScenarioError::ScenarioError(std::vector<ScenarioIssue> issues)
    : UsageError(format_issues(issues)), issues_(std::move(issues)) {}

}  // namespace wslat
