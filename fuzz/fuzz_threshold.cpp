// Fuzzes threshold expressions ("p95 < 3s", "rate < 1%") and the --threshold flag form
// ("METRIC: EXPR"): a Threshold or a UsageError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.hpp"
#include "threshold.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const wslat::ThresholdSpec spec = wslat::parse_threshold_flag(text);
    (void)wslat::parse_threshold(spec.metric, spec.expr, spec.pointer);
  } catch (const wslat::UsageError&) {
  }
  // The same text as the expression of each kind of metric.
  for (const char* metric : {"handshake", "errors"}) {
    try {
      (void)wslat::parse_threshold(metric, text, "/thresholds/x/0");
    } catch (const wslat::UsageError&) {
    }
  }
  return 0;
}
