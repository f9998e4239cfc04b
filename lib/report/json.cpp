// The json report: the stored result itself (schema wslat.result/1), pretty-printed, with the
// timeline's rows one per line.
#include "report.hpp"

namespace wslat {

std::string render_json(const RunResult& r) {
  nlohmann::json j = to_json_without_timeline(r);
  j["timeline"] = nullptr;  // a placeholder: a top-level key sits alone at a 2-space indent
  // Server messages quoted in error examples may not be valid UTF-8: replace, never throw.
  std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string placeholder = "\n  \"timeline\": null";
  const std::size_t at = text.find(placeholder);
  const std::size_t value = at + placeholder.size() - 4;  // where "null" starts
  return text.replace(value, 4, timeline_rows_json(r.timeline));
}

}  // namespace wslat
