#include "report.hpp"
namespace wslat {
std::string render_junit(const RunResult& r) { return r.scenario_name + "\n"; }
}  // namespace wslat
