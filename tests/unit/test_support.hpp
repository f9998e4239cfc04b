// Small builders shared by the unit tests.
#pragma once

#include <cstdint>
#include <vector>

#include "histogram.hpp"

namespace wslat::test {

// A histogram holding these samples, given in milliseconds.
inline Histogram hist_of(const std::vector<double>& ms) {
  Histogram h;
  for (double v : ms) h.record_ns(static_cast<std::int64_t>(v * 1e6));
  return h;
}

}  // namespace wslat::test
