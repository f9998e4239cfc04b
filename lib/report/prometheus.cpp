// The Prometheus text exposition of a result (lib/prometheus.hpp; docs/monitoring.md lists
// every metric and label).
#include "prometheus.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/core.h>

#include "assemble.hpp"
#include "common.hpp"
#include "report.hpp"

namespace wslat {

const std::vector<std::int64_t>& prometheus_bucket_bounds_ns() {
  static const std::vector<std::int64_t> bounds = [] {
    // Mantissas in tenths: steps of 0.1 from 1, 0.2 from 2, 0.4 from 4 and 0.5 from 5, so that
    // no bucket is more than 10% wider than its lower bound.
    std::vector<std::int64_t> mantissas;
    for (std::int64_t m = 10; m < 20; m += 1) mantissas.push_back(m);
    for (std::int64_t m = 20; m < 40; m += 2) mantissas.push_back(m);
    for (std::int64_t m = 40; m < 50; m += 4) mantissas.push_back(m);
    for (std::int64_t m = 50; m < 100; m += 5) mantissas.push_back(m);
    constexpr std::int64_t kLast = 60'000'000'000;  // 60 s
    std::vector<std::int64_t> out;
    for (std::int64_t scale = 1'000; scale <= 1'000'000'000; scale *= 10) {  // 10 us decade on
      for (const std::int64_t m : mantissas) {
        if (m * scale <= kLast) out.push_back(m * scale);
      }
    }
    return out;
  }();
  return bounds;
}

std::vector<std::int64_t> prometheus_cumulative_buckets(const Histogram& h) {
  const auto& bounds = prometheus_bucket_bounds_ns();
  std::vector<std::int64_t> counts(bounds.size(), 0);
  h.for_each_bucket([&](std::int64_t lo_ns, std::int64_t hi_ns, std::int64_t count) {
    const std::int64_t mid = lo_ns + (hi_ns - lo_ns) / 2;
    const auto it = std::lower_bound(bounds.begin(), bounds.end(), mid);
    if (it != bounds.end()) counts[static_cast<std::size_t>(it - bounds.begin())] += count;
  });
  for (std::size_t i = 1; i < counts.size(); ++i) counts[i] += counts[i - 1];
  return counts;
}

std::string prometheus_seconds(std::int64_t ns) {
  const bool negative = ns < 0;
  const std::uint64_t abs_ns =
      negative ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  std::string out = fmt::format("{}{}", negative ? "-" : "", abs_ns / 1'000'000'000);
  std::string fraction = fmt::format("{:09}", abs_ns % 1'000'000'000);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (!fraction.empty()) out += "." + fraction;
  return out;
}

namespace {

// Label values: backslash, double quote and line feed escaped (the exposition format's rules).
std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) { return fmt::format("{}", v); }

// A metric name from any counter name: characters outside [a-zA-Z0-9_] become '_' (a counter
// added later, `rule_matches` or `ws.frames`, still renders as a valid name).
std::string metric_name_part(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) c = '_';
  }
  return out;
}

class Exposition {
 public:
  explicit Exposition(const RunResult& r)
      : base_(fmt::format("scenario=\"{}\",target=\"{}\",profile=\"{}\"",
                          escape_label(r.scenario_name), escape_label(r.target),
                          escape_label(r.profile_name))) {}

  void family(const std::string& name, const char* type, const std::string& help) {
    std::string text;  // HELP escapes backslash and line feed (a counter name is any text)
    for (const char c : help) {
      if (c == '\\') {
        text += "\\\\";
      } else if (c == '\n') {
        text += "\\n";
      } else {
        text += c;
      }
    }
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, text, name, type);
  }
  // One sample; `labels` are the extra ones, already formatted ("phase=\"dns\"").
  void sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += fmt::format("{}{{{}{}{}}} {}\n", name, base_, labels.empty() ? "" : ",", labels, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string base_;
  std::string out_;
};

void phase_histograms(Exposition& e, const RunResult& r) {
  const auto names = report::ordered_metrics(r);
  if (names.empty()) return;
  const std::string name = "wslat_phase_duration_seconds";
  e.family(name, "histogram",
           "Duration of each phase of a WebSocket connection (dns, tcp, tls, upgrade, handshake, "
           "first_message, e2e, rtt.<step>, ...), in seconds");
  const auto& bounds = prometheus_bucket_bounds_ns();
  for (const auto& phase : names) {
    const Histogram& h = r.metrics.at(phase).histogram;
    const std::string label = "phase=\"" + escape_label(phase) + "\"";
    const auto cumulative = prometheus_cumulative_buckets(h);
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      e.sample(name + "_bucket", label + ",le=\"" + prometheus_seconds(bounds[i]) + "\"",
               std::to_string(cumulative[i]));
    }
    e.sample(name + "_bucket", label + ",le=\"+Inf\"", std::to_string(h.count()));
    e.sample(name + "_sum", label, number(h.mean_ns() * static_cast<double>(h.count()) / 1e9));
    e.sample(name + "_count", label, std::to_string(h.count()));
  }
}

void connection_counters(Exposition& e, const RunResult& r) {
  const std::pair<const char*, std::int64_t> connections[] = {
      {"attempted", r.attempted}, {"opened", r.opened}, {"failed", r.failed}};
  for (const auto& [what, value] : connections) {
    const std::string name = fmt::format("wslat_connections_{}_total", what);
    e.family(name, "counter", fmt::format("WebSocket connections {}", what));
    e.sample(name, "", std::to_string(value));
  }
  e.family("wslat_errors_total", "counter",
           "Failed connections by error category (README \"Errors\"), e.g. connect.refused");
  for (const auto& [category, count] : r.errors) {
    e.sample("wslat_errors_total", "category=\"" + escape_label(category) + "\"",
             std::to_string(count));
  }
  // Every counter of the result, known or not (README "Counters"); names that collide after
  // sanitizing are rendered once, the first in report order.
  std::set<std::string> seen = {"wslat_connections_attempted_total",
                                "wslat_connections_opened_total",
                                "wslat_connections_failed_total",
                                "wslat_errors_total",
                                "wslat_probes_total",
                                "wslat_probes_failed_total"};
  std::set<std::string> families;  // the counters' own, for their roles' samples
  for (const auto& counter : report::ordered_counters(r)) {
    // A role's copy, COUNTER@ROLE: a sample of COUNTER's family labelled with the role (report
    // order puts it after COUNTER).
    const std::size_t at = counter.find('@');
    const std::string name = "wslat_" + metric_name_part(counter.substr(0, at)) + "_total";
    if (at != std::string::npos) {
      if (families.count(name) != 0) {
        e.sample(name, "role=\"" + escape_label(counter.substr(at + 1)) + "\"",
                 std::to_string(r.counters.at(counter).total));
      }
      continue;
    }
    if (!seen.insert(name).second) continue;
    families.insert(name);
    e.family(name, "counter",
             fmt::format("The {} counter of the result (README \"Counters\")", counter));
    e.sample(name, "", std::to_string(r.counters.at(counter).total));
  }
}

void thresholds(Exposition& e, const RunResult& r) {
  if (r.thresholds.empty()) return;
  e.family("wslat_threshold_pass", "gauge",
           "1 when the threshold was met, 0 when it was breached (a monitor: at the last probe)");
  for (const auto& t : r.thresholds) {
    e.sample("wslat_threshold_pass",
             "metric=\"" + escape_label(t.metric) + "\",threshold=\"" + escape_label(t.expr) + "\"",
             t.pass ? "1" : "0");
  }
}

void run_facts(Exposition& e, const RunResult& r) {
  if (const auto started = parse_utc_timestamp(r.started_at)) {
    e.family("wslat_run_start_timestamp_seconds", "gauge", "When the run started, Unix time");
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(started->time_since_epoch());
    e.sample("wslat_run_start_timestamp_seconds", "",
             number(static_cast<double>(ms.count()) / 1e3));
  }
  e.family("wslat_run_duration_seconds", "gauge", "How long the run took");
  e.sample("wslat_run_duration_seconds", "", number(r.duration_ms / 1e3));
  e.family("wslat_run_exit_code", "gauge",
           "The run's exit code (README \"Exit codes\"): 0 pass, 1 threshold breached, ...");
  e.sample("wslat_run_exit_code", "", std::to_string(r.exit_code));
}

void probe_facts(Exposition& e, const ProbeStats& p) {
  e.family("wslat_probes_total", "counter", "Probes (runs of the scenario) finished");
  e.sample("wslat_probes_total", "", std::to_string(p.probes));
  e.family("wslat_probes_failed_total", "counter", "Probes with at least one failed connection");
  e.sample("wslat_probes_failed_total", "", std::to_string(p.failed_probes));
  e.family("wslat_probe_success", "gauge",
           "1 when every connection of the last probe opened and completed, else 0");
  e.sample("wslat_probe_success", "", p.last_success ? "1" : "0");
  e.family("wslat_last_probe_timestamp_seconds", "gauge",
           "When the last finished probe started, Unix time");
  e.sample("wslat_last_probe_timestamp_seconds", "", number(p.last_probe_unix_s));
  e.family("wslat_probe_duration_seconds", "gauge", "How long the last finished probe took");
  e.sample("wslat_probe_duration_seconds", "", number(p.last_probe_duration_s));
  if (p.last_regressed) {
    e.family("wslat_regression", "gauge",
             "1 when the last probe regressed against the baseline (--baseline), else 0");
    e.sample("wslat_regression", "", *p.last_regressed ? "1" : "0");
  }
}

void window_gauges(Exposition& e, const RollingWindow& w) {
  e.family("wslat_window_seconds", "gauge", "The rolling window's length (--window)");
  e.sample("wslat_window_seconds", "", number(w.window_s()));
  e.family("wslat_window_probes", "gauge", "Probes that started within the rolling window");
  e.sample("wslat_window_probes", "", std::to_string(w.probes()));
  e.family("wslat_window_probes_failed", "gauge",
           "Probes within the rolling window with at least one failed connection");
  e.sample("wslat_window_probes_failed", "", std::to_string(w.failed_probes()));
  const auto phases = w.phases();
  if (phases.empty()) return;
  // Two families rather than a `quantile` label: that label is a summary's, and these are
  // gauges (promtool check metrics says so).
  for (const bool p95 : {false, true}) {
    const std::string name =
        p95 ? "wslat_window_phase_p95_seconds" : "wslat_window_phase_p50_seconds";
    e.family(name, "gauge",
             fmt::format("The {} of each phase over the probes within the rolling window",
                         p95 ? "p95" : "p50"));
    for (const auto& [phase, p] : phases) {
      e.sample(name, "phase=\"" + escape_label(phase) + "\"", number(p95 ? p.p95_s : p.p50_s));
    }
  }
  e.family("wslat_window_phase_samples", "gauge",
           "Samples (connections) of each phase within the rolling window");
  for (const auto& [phase, p] : phases) {
    e.sample("wslat_window_phase_samples", "phase=\"" + escape_label(phase) + "\"",
             std::to_string(p.count));
  }
}

}  // namespace

std::string render_prometheus(const RunResult& r, const std::optional<ProbeStats>& probe,
                              const RollingWindow* window) {
  Exposition e(r);
  phase_histograms(e, r);
  connection_counters(e, r);
  thresholds(e, r);
  if (probe) {
    probe_facts(e, *probe);
    if (window != nullptr) window_gauges(e, *window);
  } else {
    run_facts(e, r);
  }
  return e.take();
}

std::string merge_prometheus_expositions(const std::vector<std::string>& parts) {
  if (parts.size() == 1) return parts.front();
  std::vector<std::string> order;                 // family names, first appearance first
  std::map<std::string, std::string> head, body;  // "# HELP/# TYPE" lines; samples
  for (const auto& part : parts) {
    std::string family;
    std::size_t at = 0;
    while (at < part.size()) {
      auto end = part.find('\n', at);
      if (end == std::string::npos) end = part.size();
      const std::string line = part.substr(at, end - at) + "\n";
      at = end + 1;
      if (line.rfind("# HELP ", 0) == 0) {
        family = line.substr(7, line.find(' ', 7) - 7);
        if (head.count(family) == 0) {
          order.push_back(family);
          head[family] = line;
        }
      } else if (line.rfind("# TYPE ", 0) == 0) {
        if (head[family].find("# TYPE ") == std::string::npos) head[family] += line;
      } else {
        body[family] += line;
      }
    }
  }
  std::string out;
  for (const auto& family : order) out += head[family] + body[family];
  return out;
}

}  // namespace wslat
