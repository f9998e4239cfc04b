// `wslat monitor --window D`: each phase's p50 and p95 over the probes that started in the last
// D (docs/monitoring.md "Rolling windows"), for /api/samples and the
// wslat_window_phase_p50_seconds / _p95_seconds gauges. Exact to wslat's histogram (1/128
// relative), unlike histogram_quantile over the cumulative buckets, which interpolates within a
// bucket (up to 10% wide). Bounded: a probe keeps only its non-empty buckets (a few per connection
// and phase), and at most `max_probes` probes are kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "result.hpp"

namespace wslat {

class RollingWindow {
 public:
  explicit RollingWindow(double window_s = 300, std::size_t max_probes = 10000);

  // A finished probe that started at `started_unix_s`; drops the probes older than the window
  // (measured from this one) and the oldest beyond max_probes.
  void add(const RunResult& probe, double started_unix_s);

  struct PhaseStats {
    std::int64_t count = 0;  // samples (connections) in the window
    double p50_s = 0, p95_s = 0;
  };
  // Per phase, over the probes kept (those that started within the window of the newest).
  std::map<std::string, PhaseStats> phases() const;
  std::size_t probes() const { return probes_.size(); }
  std::int64_t failed_probes() const;
  double window_s() const { return window_s_; }

 private:
  struct Probe {
    double t = 0;
    bool ok = false;
    // phase -> (bucket index, count) of its non-empty wslat histogram buckets
    std::map<std::string, std::vector<std::pair<std::uint32_t, std::int64_t>>> buckets;
  };
  double window_s_;
  std::size_t max_probes_;
  std::deque<Probe> probes_;
};

}  // namespace wslat
