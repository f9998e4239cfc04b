// One fixed RunResult shared by the result, reporter and HTML screenshot tests: fixed
// samples, fixed start time, two thresholds (one failing), two error categories and a
// comparison with one regressed and one inconclusive metric.
#pragma once

#include <cstdint>

#include "result.hpp"

namespace wslat::test {

// Deterministic, bell-shaped latencies (ms) without a random generator: the mean of three
// walks with strides co-prime to their moduli, skewed right like real latencies, plus a
// sparse slow tail.
inline double fixture_latency_ms(int i, double base, double spread, int tail_every, double tail) {
  const double walk =
      (static_cast<double>((i * 37) % 101) / 100.0 + static_cast<double>((i * 53) % 97) / 96.0 +
       static_cast<double>((i * 71) % 89) / 88.0) /
      3.0;
  return base + spread * walk * walk + (i % tail_every == tail_every - 1 ? tail : 0.0);
}

inline Histogram fixture_histogram(int n, double base, double spread, int tail_every, double tail) {
  Histogram h;
  for (int i = 0; i < n; ++i) {
    const double ms = fixture_latency_ms(i, base, spread, tail_every, tail);
    h.record_ns(static_cast<std::int64_t>(ms * 1e6));
  }
  return h;
}

inline ThresholdOutcome fixture_threshold(const RunResult& r, const std::string& metric,
                                          const std::string& expr, double limit_ms) {
  ThresholdOutcome t;
  t.metric = metric;
  t.expr = expr;
  t.unit = "ms";
  t.limit = limit_ms;
  t.actual = r.metrics.at(metric).summary.p95;
  t.pass = *t.actual < limit_ms;
  return t;
}

inline MetricComparison fixture_comparison(const RunResult& r, const std::string& metric,
                                           double baseline_p50, double baseline_p95, double p_value,
                                           const std::string& verdict, const std::string& reason) {
  const Summary& s = r.metrics.at(metric).summary;
  MetricComparison c;
  c.metric = metric;
  c.gated = true;
  c.baseline_p50 = baseline_p50;
  c.current_p50 = s.p50;
  c.baseline_p95 = baseline_p95;
  c.current_p95 = s.p95;
  c.baseline_count = 200;
  c.current_count = s.count;
  c.delta_p50_ms = s.p50 - baseline_p50;
  c.delta_p50_pct = 100.0 * c.delta_p50_ms / baseline_p50;
  c.delta_p95_ms = s.p95 - baseline_p95;
  c.delta_p95_pct = 100.0 * c.delta_p95_ms / baseline_p95;
  c.p_value = p_value;
  c.verdict = verdict;
  c.reason = reason;
  return c;
}

inline void fixture_identity(RunResult& r) {
  r.tool_version = "0.1.0";
  r.scenario_name = "chat-golden-path";
  r.scenario_file = "scenarios/chat.json";
  r.scenario_sha256 = "3f2a9c0d5e7b41a8c6d2e9f01b3c5a7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b";
  r.target = "ws://127.0.0.1:8080/ws";
  r.profile_name = "local";
  r.profile_multiplier = 0.3;
  r.profile_margin = 0.0;
  r.profile_source = "default";
  r.started_at = "2026-11-27T14:00:00Z";
  r.host = "ci-runner-1";
  r.duration_ms = 1234.5;
  r.attempted = 200;
  r.opened = 197;
  r.failed = 3;
  r.errors = {{"close.1011", 2}, {"http.502", 1}};
  r.error_examples = {{"close.1011", "server closed with 1011: \"backend unavailable\""},
                      {"http.502", "upgrade answered 502 Bad Gateway"}};
  r.load.model = "closed";
  r.load.concurrency = 20;
  r.load.achieved_rate = 162.0;
  r.timeouts_ms = {
      {"connect", 1500.0}, {"handshake", 1500.0}, {"message", 1500.0}, {"close", 600.0}};
  r.request_headers = {{"Authorization", "***"}, {"X-Client", "wslat"}};
  r.warnings = {"baseline was recorded with profile staging, this run used local"};
}

inline void fixture_metrics(RunResult& r) {
  r.metrics["tcp"].histogram = fixture_histogram(197, 0.08, 0.10, 40, 0.3);
  r.metrics["upgrade"].histogram = fixture_histogram(197, 0.30, 0.20, 40, 0.4);
  r.metrics["handshake"].histogram = fixture_histogram(197, 0.42, 0.35, 25, 0.9);
  r.metrics["e2e"].histogram = fixture_histogram(195, 200.0, 150.0, 20, 140.0);
  r.metrics["perceived"].histogram = fixture_histogram(195, 2.1, 1.5, 30, 6.0);
  refresh_summaries(r);
}

// 197 opened connections sent 10 messages of 64 bytes each; 2 of them (closed with 1011)
// received nothing back.
inline void fixture_counters(RunResult& r) {
  const auto counter = [](std::int64_t total, std::int64_t min, std::int64_t max) {
    Counter c;
    c.total = c.per_connection_sum = total;
    c.connections = 197;
    c.min = min;
    c.max = max;
    return c;
  };
  r.counters["msgs_sent"] = counter(1970, 10, 10);
  r.counters["msgs_received"] = counter(1950, 0, 10);
  r.counters["bytes_sent"] = counter(126080, 640, 640);
  r.counters["bytes_received"] = counter(124800, 0, 640);
}

inline void fixture_timeline(RunResult& r) {
  for (int i = 0; i < 200; ++i) {
    TimelinePoint p;
    p.t_ms = 6.0 * i;
    p.ok = i % 67 != 66;  // 3 failures, spread over the run
    if (p.ok) {
      p.ms[timeline_slot("handshake")] = fixture_latency_ms(i, 0.42, 0.35, 25, 0.9);
      p.ms[timeline_slot("e2e")] = fixture_latency_ms(i, 200.0, 150.0, 20, 140.0);
      p.ms[timeline_slot("perceived")] = fixture_latency_ms(i, 2.1, 1.5, 30, 6.0);
    }
    r.timeline.push_back(p);
  }
}

inline void fixture_comparison(RunResult& r) {
  Comparison c;
  c.baseline_file = "results/baselines/chat-golden-path.local.json";
  c.baseline_started_at = "2026-11-20T09:30:00Z";
  c.baseline_tool_version = "0.1.0";
  c.metrics.push_back(fixture_comparison(r, "handshake", 0.55, 0.80, 0.62, "unchanged",
                                         "p50 and p95 within 10% of the baseline"));
  c.metrics.push_back(fixture_comparison(r, "e2e", 190.0, 260.0, 0.0003, "regressed",
                                         "p50 slower by more than 10% and 0.5ms, p < 0.01"));
  c.metrics.push_back(fixture_comparison(r, "perceived", 2.3, 3.0, 0.2, "inconclusive",
                                         "slower, but not significant (p = 0.2)"));
  c.warnings = {"baseline tool version matches; target differs: ws://10.0.0.5:8080/ws"};
  c.regressed = true;
  r.comparison = c;
}

// The fixed result, verdict decided (fail: exit 1, reasons 1 and 2).
inline RunResult fixture_result() {
  RunResult r;
  fixture_identity(r);
  fixture_metrics(r);
  fixture_counters(r);
  r.thresholds.push_back(fixture_threshold(r, "handshake", "p95 < 3s", 900.0));
  r.thresholds.push_back(fixture_threshold(r, "e2e", "p95 < 1s", 300.0));
  fixture_timeline(r);
  fixture_comparison(r);
  decide_verdict(r);
  return r;
}

// A chat-room run: 2 rooms of 1 sender and 50 listeners, 10 broadcasts each; deliveries
// around 100 ms, the room complete a few ms after half of it.
inline RunResult rooms_fixture_result() {
  RunResult r;
  fixture_identity(r);
  r.scenario_name = "chat-room";
  r.attempted = r.opened = 102;
  r.failed = 0;
  r.errors.clear();
  r.error_examples.clear();
  r.metrics["handshake"].histogram = fixture_histogram(102, 0.42, 0.35, 25, 0.9);
  r.metrics["handshake@listener"].histogram = fixture_histogram(100, 0.42, 0.35, 25, 0.9);
  r.metrics["handshake@sender"].histogram = fixture_histogram(2, 0.42, 0.35, 25, 0.9);
  r.metrics["delivery"].histogram = fixture_histogram(1000, 100.5, 3.0, 50, 4.0);
  r.metrics["delivery@listener"].histogram = fixture_histogram(1000, 100.5, 3.0, 50, 4.0);
  r.metrics["fanout_50"].histogram = fixture_histogram(20, 101.0, 1.5, 10, 1.0);
  r.metrics["fanout_90"].histogram = fixture_histogram(20, 102.5, 2.0, 10, 2.0);
  r.metrics["fanout"].histogram = fixture_histogram(20, 103.0, 3.0, 10, 4.0);
  refresh_summaries(r);
  decide_verdict(r);
  return r;
}

}  // namespace wslat::test
