#include "timeouts.hpp"

#include <cmath>
#include <utility>

#include <fmt/format.h>

namespace wslat {

Duration scale_duration(Duration d, double factor) {
  const double ns = static_cast<double>(d.count()) * factor;
  // Saturate rather than overflow: a budget beyond ~292 years means "no limit" anyway.
  if (!(ns < 9.2e18)) return Duration::max();  // also inf and NaN
  return Duration(static_cast<Duration::rep>(std::llround(ns)));
}

ScaledTimeout TimeoutPlan::wait(const std::optional<Duration>& within) const {
  if (!within) return {written.message, effective.message};
  return {*within, scale_duration(*within, factor)};
}

std::string TimeoutPlan::describe(const ScaledTimeout& t) const {
  if (note.empty()) return format_duration(t.effective);
  return fmt::format("{} ({} {})", format_duration(t.effective), format_duration(t.written), note);
}

TimeoutPlan scaled_timeouts(const Timeouts& written, double factor, std::string note) {
  TimeoutPlan plan;
  plan.written = written;
  plan.factor = factor;
  plan.note = std::move(note);
  for (const TimeoutField& f : kTimeoutFields) {
    plan.effective.*f.field = scale_duration(written.*f.field, factor);
  }
  return plan;
}

}  // namespace wslat
