#include "monitor_window.hpp"

#include <algorithm>
#include <cmath>

#include "histogram.hpp"

namespace wslat {

RollingWindow::RollingWindow(double window_s, std::size_t max_probes)
    : window_s_(window_s), max_probes_(max_probes) {}

void RollingWindow::add(const RunResult& probe, double started_unix_s) {
  Probe p;
  p.t = started_unix_s;
  p.ok = probe.failed == 0 && probe.opened > 0;
  for (const auto& [name, metric] : probe.metrics) {
    const Histogram& h = metric.histogram;
    if (h.count() == 0) continue;
    auto& out = p.buckets[name];
    for (std::size_t i = 0; i < h.bucket_count(); ++i) {
      if (h.count_at(i) != 0) out.emplace_back(static_cast<std::uint32_t>(i), h.count_at(i));
    }
  }
  probes_.push_back(std::move(p));
  while (!probes_.empty() &&
         (probes_.size() > max_probes_ || probes_.front().t <= started_unix_s - window_s_)) {
    probes_.pop_front();
  }
}

std::int64_t RollingWindow::failed_probes() const {
  return static_cast<std::int64_t>(
      std::count_if(probes_.begin(), probes_.end(), [](const Probe& p) { return !p.ok; }));
}

std::map<std::string, RollingWindow::PhaseStats> RollingWindow::phases() const {
  std::map<std::string, std::map<std::uint32_t, std::int64_t>> merged;
  for (const auto& p : probes_) {
    for (const auto& [name, buckets] : p.buckets) {
      auto& m = merged[name];
      for (const auto& [index, count] : buckets) m[index] += count;
    }
  }
  static const Histogram layout;  // bucket index -> value
  std::map<std::string, PhaseStats> out;
  for (const auto& entry : merged) {
    const auto& m = entry.second;  // a lambda below uses it: not a structured binding (C++17)
    std::int64_t total = 0;
    for (const auto& kv : m) total += kv.second;
    // The sample at rank ceil(q * count), as Histogram::value_at_percentile.
    const auto at = [&](double q) {
      const double exact = q * static_cast<double>(total);
      const auto rank = std::clamp<std::int64_t>(
          static_cast<std::int64_t>(std::ceil(exact - exact * 1e-12)), 1, total);
      std::int64_t seen = 0;
      for (const auto& [index, count] : m) {
        seen += count;
        if (seen >= rank) return static_cast<double>(layout.bucket_midpoint_ns(index)) / 1e9;
      }
      return static_cast<double>(layout.bucket_midpoint_ns(m.rbegin()->first)) / 1e9;
    };
    out[entry.first] = {total, at(0.5), at(0.95)};
  }
  return out;
}

}  // namespace wslat
