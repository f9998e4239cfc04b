#include "report.hpp"
namespace wslat {
std::string render_text(const RunResult& r, const RenderOptions&) { return r.scenario_name + "\n"; }
}  // namespace wslat
