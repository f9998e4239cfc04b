// The live dashboard `wslat monitor` serves at / (docs/monitoring.md "Dashboard"): one
// self-contained HTML page (no external script, style or font) that draws the phases' p50 and
// p95 over the last hour with the thresholds as lines, the current verdict and the latest
// errors, kept live by the monitor's server-sent events (/api/events, cli/event_stream.hpp),
// or by polling /api/samples (lib/monitor_history.hpp) when it cannot have them.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace wslat::cli {

// The page with `initial` (/api/samples as of now) inlined, so the first paint has data.
std::string dashboard_page(const nlohmann::json& initial);

}  // namespace wslat::cli
