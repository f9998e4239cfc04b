#include "json_text.hpp"

#include <fmt/core.h>

namespace wslat {
namespace {

using nlohmann::json;

// Thrown from the parser callback to stop at the first level too deep, before it is built.
struct StopTooDeep {};

json parse_with_limit(std::string_view text, int max_depth, bool allow_exceptions) {
  // The callback sees the number of enclosing containers when one starts: the document is
  // depth 0, so a container starting at depth max_depth is level max_depth + 1.
  const json::parser_callback_t limit = [max_depth](int depth, json::parse_event_t event,
                                                    json& /*parsed*/) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw StopTooDeep{};
    }
    return true;
  };
  return json::parse(text.begin(), text.end(), limit, allow_exceptions);
}

}  // namespace

std::string too_deep_message(int max_depth) {
  return fmt::format(
      "nested deeper than {} levels of arrays and objects: wslat reads at most {}; flatten "
      "the structure",
      max_depth, max_depth);
}

JsonTooDeep::JsonTooDeep(std::size_t offset, int max_depth)
    : std::runtime_error(too_deep_message(max_depth)), offset_(offset) {}

json parse_json_bounded(std::string_view text, int max_depth) {
  try {
    return parse_with_limit(text, max_depth, true);
  } catch (const StopTooDeep&) {
    const std::size_t at = find_too_deep(text, max_depth);
    throw JsonTooDeep(at == std::string_view::npos ? 0 : at, max_depth);
  }
}

std::optional<json> try_parse_json_bounded(std::string_view text, int max_depth) {
  // For messages on the hot path: a byte scan is cheaper than the callback parser, and on
  // text that is JSON it finds exactly what the callback would.
  if (find_too_deep(text, max_depth) != std::string_view::npos) return std::nullopt;
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::size_t find_too_deep(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace wslat
