#include "metrics.hpp"

#include <algorithm>
#include <iterator>
#include <tuple>

namespace wslat {
namespace {

template <typename Pred>
std::vector<std::string> names_where(Pred in) {
  std::vector<std::string> out;
  for (const MetricDef& m : kMetricRegistry) {
    if (in(m)) out.emplace_back(m.name);
  }
  return out;
}

std::size_t rank(const std::string& name) {
  const MetricDef* m = find_metric(name);
  return m == nullptr ? std::size(kMetricRegistry) : static_cast<std::size_t>(m - kMetricRegistry);
}

}  // namespace

const MetricDef* find_metric(std::string_view metric) {
  const std::size_t at = metric.find('@');
  if (at != std::string_view::npos && at > 0 && at + 1 < metric.size()) {
    const MetricDef* base = find_metric(metric.substr(0, at));
    return base != nullptr && base->kind != MetricKind::kErrors ? base : nullptr;
  }
  const MetricDef* family = nullptr;
  for (const MetricDef& m : kMetricRegistry) {
    if (!m.family() && m.names(metric)) return &m;  // an exact name wins over a family
    if (family == nullptr && m.names(metric)) family = &m;
  }
  return family;
}

bool takes_thresholds(std::string_view metric) {
  const MetricDef* m = find_metric(metric);
  return m != nullptr;
}

std::string threshold_refusal(std::string_view metric) {
  return "unknown metric \"" + std::string(metric) + "\"";
}

const std::vector<std::string>& metric_order() {
  static const std::vector<std::string> names =
      names_where([](const MetricDef& m) { return metric_registry_detail::is_latency_slot(m); });
  return names;
}

const std::vector<std::string>& counter_order() {
  static const std::vector<std::string> names =
      names_where([](const MetricDef& m) { return m.kind == MetricKind::kCounter; });
  return names;
}

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names = [] {
    // Latencies and errors, then the counters.
    auto out = names_where([](const MetricDef& m) { return m.kind != MetricKind::kCounter; });
    for (const auto& c : counter_order()) out.push_back(c);
    return out;
  }();
  return names;
}

const std::vector<std::string>& timeline_metrics() {
  static const std::vector<std::string> names =
      names_where([](const MetricDef& m) { return m.timeline; });
  return names;
}

const std::vector<std::string>& default_gate_metrics() {
  static const std::vector<std::string> names =
      names_where([](const MetricDef& m) { return m.gated; });
  return names;
}

void sort_in_report_order(std::vector<std::string>& names) {
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return std::forward_as_tuple(rank(a), a) < std::forward_as_tuple(rank(b), b);
  });
}

}  // namespace wslat
