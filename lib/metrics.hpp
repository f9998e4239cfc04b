// The metric registry: every metric wslat knows, in report order, with what each stage of the
// pipeline needs to know about it. The runner's histogram slots, the order of the result's
// "metrics", the names thresholds and --gate accept, the gate's default set, the default
// thresholds, the main phases of the reports, the history and the timeline all read this table.
//
// Adding a metric: one line in kMetricRegistry, plus the place that records it (for a phase of
// a connection, lib/net/session.hpp: `constexpr std::size_t kX = latency_slot("x")` and a
// `record(kX, ...)` where the phase ends; for a timeline metric also `p.ms[timeline_slot("x")]`
// where the session's TimelinePoint is filled). Document it in the README's metric table.
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wslat {

enum class MetricKind {
  kLatency,  // a histogram of durations, under the result's "metrics"; thresholds on p95, mean...
  kCounter,  // a count of events (messages, bytes), under the result's "counters"
  kErrors,   // connections that failed: thresholds on "rate" and "count"; no histogram
};

// What a scenario must do for a connection to reach the metric. The default threshold of a
// metric the scenario cannot reach does not apply (a scenario that never sends has no e2e).
enum class MetricReach { kConnect, kExpect, kExpectAfterSend };

struct MetricDef {
  // The name in results, thresholds and --gate. A family of metrics ends in a parameter in
  // angle brackets: "rtt.<step>" names "rtt.login", "rtt.echo", ... (any non-empty suffix).
  std::string_view name;
  MetricKind kind;
  bool gated;     // watched by the gate when --gate is not given
  bool timeline;  // a main phase: a column of TimelinePoint (the HTML timeline), a trend in
                  // `wslat history`, a line of the text report's distribution section
  std::string_view default_threshold;  // applies when the scenario has no "thresholds"; "" none
  MetricReach reach;

  constexpr bool family() const { return name.find('<') != std::string_view::npos; }
  // "rtt." for "rtt.<step>"; the whole name for a single metric.
  constexpr std::string_view prefix() const { return name.substr(0, name.find('<')); }
  // True when `metric` is this metric, or a member of this family.
  constexpr bool names(std::string_view metric) const {
    if (!family()) return metric == name;
    const std::string_view p = prefix();
    return metric.size() > p.size() && metric.substr(0, p.size()) == p;
  }
};

// clang-format off
inline constexpr MetricDef kMetricRegistry[] = {
    // name          kind                    gated  timeline  default     reached by
    // The scenario's "login" request, from the connection's intended start to its response.
    {"login",         MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"dns",           MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"tcp",           MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"proxy",         MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"tls",           MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"upgrade",       MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"handshake",     MetricKind::kLatency,   true,  true,     "p95 < 3s",  MetricReach::kConnect},
    {"first_message", MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"e2e",           MetricKind::kLatency,   true,  true,     "p95 < 1s",  MetricReach::kExpectAfterSend},
    {"rtt",           MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    // A named expect's own rtt: from the send of the same name, else the last send.
    {"rtt.<step>",    MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"perceived",     MetricKind::kLatency,   true,  true,     "p95 < 2s",  MetricReach::kExpect},
    {"ping",          MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"close",         MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    // Reconnects (README "Reconnects"): the try that opened the connection again, from its start
    // to the open; and the time without a connection, from the loss (or the reconnect step's
    // close) to that open, the failed tries and waits included.
    {"reconnect",     MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"disconnected",  MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"session",       MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"loop_lag",      MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    // Rooms: a broadcast's receipt by another member (receipt - send, one clock), and per
    // broadcast the time until every expected member had it (README "Roles, rooms and delivery").
    {"delivery",      MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"fanout",        MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    // ... and until half and 90% of them had it (the HTML report's fan-out picture).
    {"fanout_50",     MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"fanout_90",     MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    // A member's send marked "join" -> another member's receipt of its presence event.
    {"presence",      MetricKind::kLatency,   false, false,    "",          MetricReach::kConnect},
    {"errors",        MetricKind::kErrors,    false, false,    "rate < 1%", MetricReach::kConnect},
    // Counters: data messages (text, binary) and their payload bytes; not control frames, frame
    // headers or the upgrade (README "Counters").
    {"msgs_sent",      MetricKind::kCounter,  false, false,    "",          MetricReach::kConnect},
    {"msgs_received",  MetricKind::kCounter,  false, false,    "",          MetricReach::kConnect},
    {"bytes_sent",     MetricKind::kCounter,  false, false,    "",          MetricReach::kConnect},
    {"bytes_received", MetricKind::kCounter,  false, false,    "",          MetricReach::kConnect},
    // Runs that offer permessage-deflate only: those payloads as they went on the wire
    // (compressed where it was negotiated), still without frame headers.
    {"wire_bytes_sent",     MetricKind::kCounter, false, false, "",         MetricReach::kConnect},
    {"wire_bytes_received", MetricKind::kCounter, false, false, "",         MetricReach::kConnect},
    // Messages the scenario's rules ("on") matched, and the messages they sent (also in
    // msgs_sent).
    {"rule_matches",   MetricKind::kCounter,  false, false,    "",          MetricReach::kConnect},
    {"rule_sends",     MetricKind::kCounter,  false, false,    "",          MetricReach::kConnect},
    // Sends marked "broadcast", and the deliveries their expected recipients never got within
    // "delivery_wait" (counted against the sender's connection).
    {"broadcasts",       MetricKind::kCounter, false, false,   "",          MetricReach::kConnect},
    {"delivery_missing", MetricKind::kCounter, false, false,   "",          MetricReach::kConnect},
    // Deliveries of broadcasts this process did not send, timed by the send time the message
    // carries ("sent_at"): on wall clocks, so clock skew between machines adds to them.
    {"delivery_remote",  MetricKind::kCounter, false, false,   "",          MetricReach::kConnect},
    // Presence events of joins that a member already in the room never got within
    // "delivery_wait" (counted against the joiner's connection).
    {"presence_missing", MetricKind::kCounter, false, false,   "",          MetricReach::kConnect},
    // Connections opened again (reconnect steps and "on_drop"), and the tries that failed.
    {"reconnects",         MetricKind::kCounter, false, false, "",          MetricReach::kConnect},
    {"reconnect_failures", MetricKind::kCounter, false, false, "",          MetricReach::kConnect},
};
// clang-format on

namespace metric_registry_detail {

constexpr bool is_latency_slot(const MetricDef& m) {
  return m.kind == MetricKind::kLatency && !m.family();
}

// The position of `name` among the entries that `in` selects; a name that is not there throws,
// which stops the build where the position is a constant.
template <typename Pred>
constexpr std::size_t position(std::string_view name, Pred in) {
  std::size_t n = 0;
  for (const MetricDef& m : kMetricRegistry) {
    if (!in(m)) continue;
    if (m.name == name) return n;
    ++n;
  }
  throw std::invalid_argument("not a metric of this kind in kMetricRegistry");
}

template <typename Pred>
constexpr std::size_t count(Pred in) {
  std::size_t n = 0;
  for (const MetricDef& m : kMetricRegistry) n += in(m) ? 1 : 0;
  return n;
}

constexpr bool valid() {
  // NOLINTNEXTLINE(readability-use-anyofallof): std::all_of is constexpr only from C++20
  for (const MetricDef& m : kMetricRegistry) {
    if (m.timeline && !is_latency_slot(m)) return false;  // a timeline column is one latency
    if (m.gated && m.kind != MetricKind::kLatency) return false;  // the gate compares histograms
  }
  return true;
}
static_assert(valid(), "kMetricRegistry: timeline and gated metrics must be latencies");

}  // namespace metric_registry_detail

// The runner's fixed histogram slots: one per latency metric that is not a family, in
// registry order. latency_slot("x") of an unknown name does not compile where it is constant.
inline constexpr std::size_t kLatencySlotCount =
    metric_registry_detail::count(metric_registry_detail::is_latency_slot);
constexpr std::size_t latency_slot(std::string_view name) {
  return metric_registry_detail::position(name, metric_registry_detail::is_latency_slot);
}

// The runner's counter slots: one per counter, in registry order (the result's "counters").
inline constexpr std::size_t kCounterSlotCount = metric_registry_detail::count(
    [](const MetricDef& m) { return m.kind == MetricKind::kCounter; });
constexpr std::size_t counter_slot(std::string_view name) {
  return metric_registry_detail::position(
      name, [](const MetricDef& m) { return m.kind == MetricKind::kCounter; });
}

// The columns of TimelinePoint::ms (the main phases), in registry order.
inline constexpr std::size_t kTimelineMetricCount =
    metric_registry_detail::count([](const MetricDef& m) { return m.timeline; });
constexpr std::size_t timeline_slot(std::string_view name) {
  return metric_registry_detail::position(name, [](const MetricDef& m) { return m.timeline; });
}

// The entry that names `metric` (a single metric, or the family it belongs to); nullptr when
// none does. A latency metric or a counter of one role, "METRIC@ROLE" (handshake@listener,
// delivery_missing@listener), is METRIC's.
const MetricDef* find_metric(std::string_view metric);

// True when thresholds may name `metric`: every metric of the registry (latencies, also
// METRIC@ROLE; errors; counters, also COUNTER@ROLE, on their run total).
bool takes_thresholds(std::string_view metric);

// Why thresholds may not name `metric`: `unknown metric "x"`.
std::string threshold_refusal(std::string_view metric);

// Latency metrics (not families) in report order: the runner's slots, the result's "metrics".
const std::vector<std::string>& metric_order();
// Counters in report order: the runner's counter slots, the result's "counters".
const std::vector<std::string>& counter_order();
// What thresholds may name, as shown in messages: latencies and errors in registry order
// (families as their pattern, "rtt.<step>"), then the counters.
const std::vector<std::string>& known_metrics();
// The main phases (TimelinePoint::ms columns, history trends, text distribution).
const std::vector<std::string>& timeline_metrics();
// What the gate watches by default (then also every metric with a threshold).
const std::vector<std::string>& default_gate_metrics();

// Sorts metric names in report order: registry order, members of a family at the family's
// place (alphabetically), names the registry does not know last (alphabetically).
void sort_in_report_order(std::vector<std::string>& names);

}  // namespace wslat
