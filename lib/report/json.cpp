// The json report: the stored result itself (schema wslat.result/1), pretty-printed, with the
// timeline's rows one per line.
#include <cmath>
#include <iterator>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "report.hpp"

namespace wslat {

namespace {

// The timeline's rows, [t_ms, <one column per timeline metric>, ok], one per line at the
// indentation dump(2) gives a top-level array. Pretty-printed by nlohmann, a row took 7 lines
// and ~6 k instructions (a timeline point per connection, up to 5000); here one line and ~1 k.
// Numbers are the shortest that read back to the same double, as nlohmann writes them; an
// absent or non-finite phase is null, as timeline_json writes it.
std::string timeline_rows(const std::vector<TimelinePoint>& points) {
  if (points.empty()) return "[]";
  fmt::memory_buffer out;
  const auto number = [&](double v) {
    if (std::isfinite(v)) {
      fmt::format_to(std::back_inserter(out), FMT_COMPILE("{}"), v);
    } else {
      out.append(std::string_view("null"));
    }
  };
  out.append(std::string_view("["));
  for (std::size_t i = 0; i < points.size(); ++i) {
    out.append(std::string_view(i == 0 ? "\n    [" : ",\n    ["));
    number(points[i].t_ms);
    for (double ms : points[i].ms) {
      out.append(std::string_view(","));
      if (ms < 0) {
        out.append(std::string_view("null"));
      } else {
        number(ms);
      }
    }
    out.append(std::string_view(points[i].ok ? ",true]" : ",false]"));
  }
  out.append(std::string_view("\n  ]"));
  return fmt::to_string(out);
}

}  // namespace

std::string render_json(const RunResult& r) {
  nlohmann::json j = to_json_without_timeline(r);
  j["timeline"] = nullptr;  // a placeholder: a top-level key sits alone at a 2-space indent
  // Server messages quoted in error examples may not be valid UTF-8: replace, never throw.
  std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string placeholder = "\n  \"timeline\": null";
  const std::size_t at = text.find(placeholder);
  const std::size_t value = at + placeholder.size() - 4;  // where "null" starts
  return text.replace(value, 4, timeline_rows(r.timeline));
}

}  // namespace wslat
