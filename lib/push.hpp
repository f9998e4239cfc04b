// `wslat run --push URL`: where in a Prometheus Pushgateway a run's metrics go. Pure; the
// PUT itself is in cli/push.cpp. docs/monitoring.md "Pushgateway".
#pragma once

#include <string>

#include "result.hpp"

namespace wslat {

// RFC 4648 base64url without padding ("" encodes as "="), as the Pushgateway reads a
// grouping-key value written `label@base64/VALUE`.
std::string base64url(const std::string& bytes);

// `base` (the Pushgateway, e.g. http://127.0.0.1:9091, maybe with a path prefix) plus the
// grouping key job=wslat, scenario, target, profile (and shard with --shard), every value
// base64url-encoded (a target URL has slashes): .../metrics/job/wslat/scenario@base64/...
std::string pushgateway_url(const std::string& base, const RunResult& r);

}  // namespace wslat
