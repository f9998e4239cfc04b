// JSON text from outside (scenario, result and baseline files, server messages) with its
// nesting bounded. nlohmann parses iteratively, but copying, comparing, dumping and our own
// checks recurse once per level, and a deep value costs ~40 bytes per byte of text: 100 KB of
// '[' once crashed `validate`. Refusing the nesting before it is built keeps all of that small.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace wslat {

// Arrays and objects nested deeper than this are refused (the document itself is level 1).
inline constexpr int kMaxJsonDepth = 128;

// The text nests deeper than allowed; offset() is the byte offset of the '[' or '{' that opens
// the first level too many.
class JsonTooDeep : public std::runtime_error {
 public:
  JsonTooDeep(std::size_t offset, int max_depth);
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

// "nested deeper than 128 levels of arrays and objects: ..." (what() of JsonTooDeep).
std::string too_deep_message(int max_depth);

// nlohmann::json::parse, except that nesting deeper than `max_depth` throws JsonTooDeep as
// soon as the parser reaches it (a syntax error before that point is still a parse_error).
nlohmann::json parse_json_bounded(std::string_view text, int max_depth = kMaxJsonDepth);

// The same without exceptions (for messages): nullopt when the text is not JSON or nests too
// deep.
std::optional<nlohmann::json> try_parse_json_bounded(std::string_view text,
                                                     int max_depth = kMaxJsonDepth);

// Byte offset of the first '[' or '{' (outside strings) that opens level max_depth + 1, or
// std::string_view::npos. One linear pass, no allocation.
std::size_t find_too_deep(std::string_view text, int max_depth);

}  // namespace wslat
