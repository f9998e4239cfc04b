// `wslat run --push URL`: PUT the run's final metrics (the --export-prometheus exposition) to
// a Prometheus Pushgateway under the grouping key of lib/push.hpp.
#pragma once

#include <string>

#include "result.hpp"

namespace wslat::cli {

// Throws UsageError (exit 64) unless `url` is an http:// or https:// URL ("" is fine: off).
void check_push_url(const std::string& url);

// PUTs `r` to the Pushgateway at `base` (10 s at most). "" on success, else what went wrong.
std::string push_result(const std::string& base, const RunResult& r);

}  // namespace wslat::cli
