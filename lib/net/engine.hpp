// Between the run's coordination (lib/net/run.cpp: load split, threads, live samples, merging)
// and its websocketpp side (lib/net/transport*.cpp: plan, workers, sessions). This header does
// not include websocketpp or Asio, so the coordination compiles without them.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connections.hpp"
#include "histogram.hpp"
#include "metrics.hpp"
#include "result.hpp"
#include "runner.hpp"
#include "schedule.hpp"

namespace wslat::net {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

inline double ms_between(TimePoint a, TimePoint b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A worker's share of the load, as arithmetic progressions of connection indices (first,
// first + stride, ...) rather than lists: planning takes memory independent of the count.
struct ClosedPart {
  std::int64_t first = 0, end = 0, stride = 1;  // indices first + j * stride < end
};
struct OpenPart {
  const ArrivalSchedule* schedule = nullptr;
  std::int64_t first = 0, stride = 1;  // arrivals first + j * stride < schedule->size()
};

// What one worker measured since it last published: histograms in the registry's latency
// slots (slot i is metric_order()[i]) and counters. The worker records into its own delta on
// its thread and hands it over through its SampleSlot.
struct SampleDelta {
  // The registry's slots, then the scenario's step metrics (Scenario::step_metrics), created
  // when first recorded.
  std::vector<Histogram> metrics = std::vector<Histogram>(kLatencySlotCount);
  std::array<Counter, kCounterSlotCount> counters;  // slot i is counter_order()[i]
  // With roles, each role's copy (COUNTER@ROLE): role r's slot c at r * kCounterSlotCount + c,
  // created when first counted.
  std::vector<Counter> role_counters;
  std::map<std::string, std::int64_t> errors;
  std::int64_t attempted = 0, opened = 0, failed = 0, done = 0;
  std::vector<ConnectionRecord> connections;  // finished, when RunOptions::connections is set

  bool empty() const {
    return attempted == 0 && opened == 0 && failed == 0 && done == 0 && errors.empty() &&
           std::all_of(metrics.begin(), metrics.end(),
                       [](const Histogram& h) { return h.empty(); }) &&
           std::all_of(counters.begin(), counters.end(),
                       [](const Counter& c) { return c.empty(); }) &&
           std::all_of(role_counters.begin(), role_counters.end(),
                       [](const Counter& c) { return c.empty(); }) &&
           connections.empty();
  }
  void add(const SampleDelta& other) {
    if (metrics.size() < other.metrics.size()) metrics.resize(other.metrics.size());
    for (std::size_t m = 0; m < other.metrics.size(); ++m) {
      if (!other.metrics[m].empty()) metrics[m].add(other.metrics[m]);
    }
    for (std::size_t c = 0; c < counters.size(); ++c) counters[c].add(other.counters[c]);
    if (role_counters.size() < other.role_counters.size()) {
      role_counters.resize(other.role_counters.size());
    }
    for (std::size_t c = 0; c < other.role_counters.size(); ++c) {
      role_counters[c].add(other.role_counters[c]);
    }
    for (const auto& [category, n] : other.errors) errors[category] += n;
    attempted += other.attempted;
    opened += other.opened;
    failed += other.failed;
    done += other.done;
    connections.insert(connections.end(), other.connections.begin(), other.connections.end());
  }
  void clear() {
    for (auto& h : metrics) {
      if (!h.empty()) h = Histogram();
    }
    counters.fill(Counter{});
    std::fill(role_counters.begin(), role_counters.end(), Counter{});
    errors.clear();
    attempted = opened = failed = done = 0;
    connections.clear();
  }
};

// One worker's mailbox to the coordinator. The worker publishes (every tick and when it stops),
// the coordinator takes; the lock is held for a merge of one delta (worker) or a swap
// (coordinator), never while either waits for anything else.
class SampleSlot {
 public:
  // Worker thread: moves `delta` into the slot and leaves it empty.
  void publish(SampleDelta& delta) {
    if (delta.empty()) return;
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (pending_.empty()) {
        std::swap(pending_, delta);
      } else {
        pending_.add(delta);
      }
    }
    delta.clear();
  }
  // Coordinator: what was published since the last take.
  void take_into(SampleDelta& out) {
    const std::lock_guard<std::mutex> lock(mu_);
    std::swap(out, pending_);
  }

 private:
  std::mutex mu_;
  SampleDelta pending_;
};

// What only the final result needs, read by the coordinator after the worker's thread joined.
struct WorkerResult {
  std::map<std::string, std::string> error_examples;  // the first per category
  // Sec-WebSocket-Protocol / -Extensions as answered ("" = absent) -> upgrades.
  std::map<std::string, std::int64_t> subprotocols, extensions;
  std::int64_t late_starts = 0, dropped = 0;
  double max_lateness_ms = 0;
  std::vector<TimelinePoint> timeline;
  std::size_t timeline_stride = 1;
  std::size_t timeline_seen = 0;
};

constexpr std::size_t kTimelineCap = kMaxTimelinePoints;  // per worker

inline void add_timeline_point(WorkerResult& r, const TimelinePoint& p, std::size_t cap) {
  if (r.timeline_seen++ % r.timeline_stride != 0) return;
  r.timeline.push_back(p);
  if (r.timeline.size() >= cap) {  // keep every other point, sample half as often from now on
    std::size_t w = 0;
    for (std::size_t i = 0; i < r.timeline.size(); i += 2) r.timeline[w++] = r.timeline[i];
    r.timeline.resize(w);
    r.timeline_stride *= 2;
  }
}

// One worker thread's loop (Worker<Client> in lib/net/worker.hpp). run_* runs on the worker's
// thread until its share is done or a stop request ends it; the rest is read after the join.
class WorkerHandle {
 public:
  virtual ~WorkerHandle() = default;
  // Closed model: at most `concurrency` at once, each started as soon as a slot frees.
  virtual void run_closed(ClosedPart part, std::int64_t concurrency) = 0;
  // Open model: arrivals at intended times, at most `max_concurrency` live; `end` is the
  // schedule's length.
  virtual void run_open(OpenPart part, std::int64_t max_concurrency, Duration end) = 0;
  virtual WorkerResult& result() = 0;
  // When a stop request reached this worker (nullopt: it never did).
  virtual std::optional<TimePoint> interrupted_at() const = 0;
};

// The websocketpp side of one run, built before any connection.
class Transport {
 public:
  virtual ~Transport() = default;
  // Chooses the local addresses to spread `concurrency` live connections over (`requested` > 0
  // forces their number). Throws UsageError when the target does not allow it.
  virtual void choose_sources(int requested, std::int64_t concurrency) = 0;
  // A worker publishing into `slot`. Call before start().
  virtual std::unique_ptr<WorkerHandle> make_worker(SampleSlot& slot) = 0;
  // The run's time zero (intended start times count from it). Before any worker thread starts.
  virtual void start(TimePoint run_start) = 0;
};

// Checks the target, the request's headers and subprotocols, and loads the TLS trust (all
// UsageError, exit 64, before any connection).
std::unique_ptr<Transport> make_transport(const Scenario& scenario, const RunOptions& opts);

}  // namespace wslat::net
