// The json report: the stored result itself (schema wslat.result/1), pretty-printed.
#include "report.hpp"

namespace wslat {

std::string render_json(const RunResult& r) {
  // Server messages quoted in error examples may not be valid UTF-8: replace, never throw.
  return to_json(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace wslat
