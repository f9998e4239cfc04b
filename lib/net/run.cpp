// The run's coordination: split the shard's load over worker threads, start them, add up what
// they publish into live samples (the progress callback), and merge their results into the
// RawRun once they stopped. No websocketpp here: the workers come from the Transport
// (lib/net/engine.hpp, built in lib/net/transport*.cpp).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pthread.h>

#include "error.hpp"
#include "metrics.hpp"
#include "net/curl_shim.hpp"
#include "net/engine.hpp"
#include "runner.hpp"
#include "schedule.hpp"

namespace wslat {
namespace net {
namespace {

// The shard's load and how it is split: worker t takes every threads-th connection of this
// shard, computed as it goes.
struct LoadSplit {
  bool open = false;
  std::int64_t threads = 1;
  std::int64_t total = 0;        // connections (closed) or arrivals (open) of this shard
  std::int64_t concurrency = 0;  // closed: at once; open: max_concurrency
  std::int64_t first = 0;        // closed: the shard's first connection index
  std::optional<ArrivalSchedule> schedule;
  Duration open_end{};  // open: the schedule's length
};

LoadSplit split_load(const RunOptions& opts, std::int64_t room_size) {
  const Load& load = opts.load;
  LoadSplit s;
  s.open = load.open_model();
  s.threads = std::max(1, opts.threads);
  if (s.open) {
    s.schedule.emplace(load);
    s.total = shard_part(s.schedule->size(), opts.shard);  // arrivals k with k % N == shard index
    s.threads = std::max<std::int64_t>(
        1, std::min<std::int64_t>(s.threads, std::max<std::int64_t>(1, s.total)));
    s.concurrency = shard_part(load.max_concurrency, opts.shard);
    s.open_end = open_duration(load);
  } else {
    const ShardRange range = shard_range(load.connections, load.concurrency, room_size, opts.shard);
    s.total = range.count;
    s.first = range.first;
    s.concurrency = std::max<std::int64_t>(1, range.concurrency);
    s.concurrency = std::min(s.concurrency, std::max<std::int64_t>(1, s.total));
    s.threads = std::min(s.threads, s.concurrency);
  }
  return s;
}

// Equal parts of `total` for `n` workers (the first `total % n` take one more).
std::int64_t part(std::int64_t total, std::int64_t n, std::int64_t i) {
  return total / n + (i < total % n ? 1 : 0);
}

// Worker t's share of the load, run on its thread.
void run_share(WorkerHandle& worker, const LoadSplit& s, const Shard& shard, std::int64_t t) {
  const std::int64_t concurrency = part(s.concurrency, s.threads, t);
  if (s.open) {
    worker.run_open({&*s.schedule, shard.index + shard.count * t, shard.count * s.threads},
                    concurrency, s.open_end);
  } else {
    worker.run_closed({s.first + t, s.first + s.total, s.threads}, concurrency);
  }
}

// A worker thread on the default stack (RLIMIT_STACK, usually 8 MiB): nothing on it recurses
// with its input any more (RE2 matches without recursion; JSON nesting is bounded). Workers
// once reserved 256 MiB each for std::regex, so a run under `prlimit --as 768M` failed. Joins
// on destruction, so a failure to start the next worker leaves none running unjoined.
class WorkerThread {
 public:
  explicit WorkerThread(std::function<void()> fn)
      : fn_(std::make_unique<std::function<void()>>(std::move(fn))) {
    const int rc = pthread_create(&id_, nullptr, &WorkerThread::entry, fn_.get());
    if (rc != 0) throw RunError("cannot start a worker thread: " + std::string(std::strerror(rc)));
  }
  WorkerThread(WorkerThread&& other) noexcept : id_(other.id_), fn_(std::move(other.fn_)) {
    other.joinable_ = false;
  }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;
  WorkerThread& operator=(WorkerThread&&) = delete;
  ~WorkerThread() { join(); }
  void join() {
    if (joinable_) pthread_join(id_, nullptr);
    joinable_ = false;
  }

 private:
  static void* entry(void* arg) {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  }
  pthread_t id_{};
  std::unique_ptr<std::function<void()>> fn_;
  bool joinable_ = true;
};

// The live sample: what every worker published so far, added up (see LiveSample). Only the
// coordinating thread calls take().
class LiveSampler {
 public:
  LiveSampler(std::vector<SampleSlot>& slots, const LoadSplit& split, TimePoint run_start,
              std::vector<std::string> step_metrics, const std::vector<Role>& roles)
      : slots_(slots), run_start_(run_start), step_metrics_(std::move(step_metrics)) {
    sample_.total = split.open ? 0 : split.total;
    for (const auto& name : counter_order()) sample_.counters[name];
    // Every role's copy of every counter, COUNTER@ROLE (SampleDelta::role_counters' order).
    for (const Role& role : roles) {
      for (const auto& name : counter_order()) {
        role_counter_names_.push_back(name + "@" + role.name);
        sample_.counters[role_counter_names_.back()];
      }
    }
    sample_.duration_s = std::chrono::duration<double>(split.open_end).count();
  }

  // Adds what the workers published since the last call; `now` frames the rate.
  const LiveSample& take(TimePoint now) {
    for (auto& slot : slots_) {
      slot.take_into(scratch_);
      add(scratch_);
      scratch_.clear();
    }
    sample_.elapsed_s = std::chrono::duration<double>(now - run_start_).count();
    sample_.achieved_rate =
        sample_.elapsed_s > 0 ? static_cast<double>(sample_.attempted) / sample_.elapsed_s : 0;
    return sample_;
  }
  LiveSample& sample() { return sample_; }
  // The connections finished since the last call (RunOptions::connections).
  std::vector<ConnectionRecord>& connections() { return connections_; }

 private:
  void add(SampleDelta& d) {
    for (std::size_t m = 0; m < d.metrics.size(); ++m) {
      if (d.metrics[m].empty()) continue;
      const std::string& name =
          m < kLatencySlotCount ? metric_order()[m] : step_metrics_[m - kLatencySlotCount];
      sample_.metrics[name].add(d.metrics[m]);
    }
    for (std::size_t c = 0; c < d.counters.size(); ++c) {
      sample_.counters[counter_order()[c]].add(d.counters[c]);
    }
    for (std::size_t c = 0; c < d.role_counters.size() && c < role_counter_names_.size(); ++c) {
      if (!d.role_counters[c].empty())
        sample_.counters[role_counter_names_[c]].add(d.role_counters[c]);
    }
    for (const auto& [category, n] : d.errors) sample_.errors[category] += n;
    sample_.attempted += d.attempted;
    sample_.opened += d.opened;
    sample_.failed += d.failed;
    sample_.done += d.done;
    for (auto& c : d.connections) connections_.push_back(std::move(c));
  }

  std::vector<SampleSlot>& slots_;
  TimePoint run_start_;
  std::vector<std::string> step_metrics_;        // names of the slots after the registry's
  std::vector<std::string> role_counter_names_;  // of SampleDelta::role_counters
  SampleDelta scratch_;
  LiveSample sample_;
  std::vector<ConnectionRecord> connections_;
};

// Runs every worker on its own thread; meanwhile a live sample goes to the progress callback
// every 250 ms. Returns when all threads joined. One worker and nothing to do beside it (no
// progress callback, no export): it runs on this thread, and the process stays
// single-threaded. Then libstdc++'s shared_ptr counts (websocketpp copies ~90 per connection)
// and glibc's malloc skip their atomic operations and locks: ~3% less CPU per connection
// (bench/README.md, "One thread").
void run_workers(std::vector<std::unique_ptr<WorkerHandle>>& workers, const LoadSplit& split,
                 const RunOptions& opts, LiveSampler& sampler) {
  if (workers.size() == 1 && !opts.on_progress && opts.connections == nullptr) {
    run_share(*workers.front(), split, opts.shard, 0);
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::size_t running = workers.size();
  std::vector<WorkerThread> pool;
  pool.reserve(workers.size());
  for (std::size_t i = 0; i < workers.size(); ++i) {
    pool.emplace_back([&, i] {
      run_share(*workers[i], split, opts.shard, static_cast<std::int64_t>(i));
      const std::lock_guard<std::mutex> lock(mu);
      --running;
      cv.notify_one();
    });
  }
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      if (cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return running == 0; })) break;
    }
    if (opts.on_progress || opts.connections) {
      const LiveSample& sample = sampler.take(Clock::now());
      if (opts.on_progress) opts.on_progress(sample);
      if (opts.connections) opts.connections->add(sampler.connections());
    }
  }
  for (auto& th : pool) th.join();
}

// The timeline of every worker, in time order, thinned like every other timeline (thin_timeline).
std::vector<TimelinePoint> merged_timeline(std::vector<std::unique_ptr<WorkerHandle>>& workers) {
  std::vector<TimelinePoint> all;
  for (auto& w : workers) {
    const auto& t = w->result().timeline;
    all.insert(all.end(), t.begin(), t.end());
  }
  thin_timeline(all);
  return all;
}

LoadStats load_stats(std::vector<std::unique_ptr<WorkerHandle>>& workers, const LoadSplit& s,
                     std::int64_t attempted, TimePoint run_start, TimePoint end) {
  LoadStats load;
  for (auto& w : workers) {
    const WorkerResult& r = w->result();
    load.late_starts += r.late_starts;
    load.dropped += r.dropped;
    load.max_lateness_ms = std::max(load.max_lateness_ms, r.max_lateness_ms);
  }
  load.model = s.open ? "open" : "closed";
  load.concurrency = s.concurrency;
  load.threads = static_cast<int>(s.threads);
  const double open_s = std::chrono::duration<double>(s.open_end).count();
  if (s.open && open_s > 0) load.target_rate = static_cast<double>(s.total) / open_s;
  // Connections started per second of the run; for the open model per second of the
  // schedule's window: not of the drain after it (the last sessions finishing), and only up to
  // an interruption (the rest was never due).
  double window_s = ms_between(run_start, end) / 1000.0;
  if (s.open && open_s > 0) {
    window_s = open_s;
    for (auto& w : workers) {
      if (const auto at = w->interrupted_at()) {
        window_s = std::min(window_s, ms_between(run_start, *at) / 1000.0);
      }
    }
  }
  load.achieved_rate = window_s > 0 ? static_cast<double>(attempted) / window_s : 0;
  return load;
}

// The RawRun of stopped workers: the final sample's histograms and counts, the rest from each
// worker's result.
RawRun assemble_raw(const LiveSample& final_sample,
                    std::vector<std::unique_ptr<WorkerHandle>>& workers, const LoadSplit& split,
                    TimePoint run_start, TimePoint end) {
  RawRun out;
  out.metrics = final_sample.metrics;
  out.errors = final_sample.errors;
  out.counters = final_sample.counters;
  out.attempted = final_sample.attempted;
  out.opened = final_sample.opened;
  out.failed = final_sample.failed;
  out.duration_ms = ms_between(run_start, end);
  for (auto& w : workers) {
    for (const auto& [k, v] : w->result().error_examples) out.error_examples.emplace(k, v);
    for (const auto& [k, v] : w->result().subprotocols) out.negotiated.subprotocols[k] += v;
    for (const auto& [k, v] : w->result().extensions) out.negotiated.extensions[k] += v;
    out.interrupted = out.interrupted || w->interrupted_at().has_value();
  }
  out.timeline = merged_timeline(workers);
  out.load = load_stats(workers, split, out.attempted, run_start, end);
  return out;
}

// A dropped arrival is a connection the load called for and nobody got: counted as attempted
// and failed (category "dropped"), so the errors threshold sees a load that was not applied.
// In the final sample too, which then equals the RawRun.
void count_dropped(RawRun& out, LiveSample& final_sample, std::int64_t max_concurrency) {
  const std::int64_t dropped = out.load.dropped;
  if (dropped == 0) return;
  for (auto* counts :
       {&out.attempted, &out.failed, &final_sample.attempted, &final_sample.failed}) {
    *counts += dropped;
  }
  out.errors["dropped"] += dropped;
  final_sample.errors["dropped"] += dropped;
  out.error_examples.emplace("dropped", "the arrival found max_concurrency (" +
                                            std::to_string(max_concurrency) +
                                            ") connections live until the schedule ended: "
                                            "never started");
}

// The names of the histogram slots after the registry's: the step metrics, then per role a copy
// of the registry's and the step metrics' named METRIC@ROLE (RunPlan::role_slots).
std::vector<std::string> extra_slot_names(const Scenario& s) {
  std::vector<std::string> out = s.step_metrics;
  for (const Role& role : s.roles) {
    for (const auto& m : metric_order()) out.push_back(m + "@" + role.name);
    for (const auto& m : s.step_metrics) out.push_back(m + "@" + role.name);
  }
  return out;
}

}  // namespace
}  // namespace net

RawRun run_scenario(const Scenario& scenario, const RunOptions& opts) {
  using namespace net;  // NOLINT(google-build-using-namespace): this file's own namespace
  const auto transport = make_transport(scenario, opts);
  if (scenario.login) {
    if (const std::string why = curl_unavailable(); !why.empty()) {
      throw RunError("the scenario's \"login\" needs libcurl: " + why);
    }
  }
  if (scenario.room_size > 0 && opts.shard.count > 1 && opts.load.open_model()) {
    throw UsageError(
        "--shard with \"rooms\" needs the closed model (\"load\": {\"connections\": N, "
        "\"concurrency\": C}): under an arrival rate the shards take every N-th arrival, which "
        "would split every room between processes whose members cannot see each other");
  }
  if (scenario.rooms_by && opts.shard.count > 1) {
    throw UsageError(
        "--shard with \"rooms\": {\"by\": ...} is not supported: the rooms come from the data "
        "rows, so a shard (a range of connections) cannot be sure to hold whole rooms and its "
        "members would miss the broadcasts of the other processes; run one process, or use "
        "\"rooms\": {\"size\": N} with the data file's rows ordered by room");
  }
  const LoadSplit split = split_load(opts, scenario.room_size);
  transport->choose_sources(opts.source_addresses, split.concurrency);
  std::vector<SampleSlot> slots(static_cast<std::size_t>(split.threads));
  std::vector<std::unique_ptr<WorkerHandle>> workers;
  workers.reserve(slots.size());
  for (auto& slot : slots) workers.push_back(transport->make_worker(slot));
  const TimePoint run_start = Clock::now();
  if (opts.connections) opts.connections->start(std::chrono::system_clock::now());
  transport->start(run_start);

  LiveSampler sampler(slots, split, run_start, extra_slot_names(scenario), scenario.roles);
  run_workers(workers, split, opts, sampler);
  const TimePoint end = Clock::now();

  LiveSample& final_sample = sampler.sample();
  sampler.take(end);  // what the workers published last, when they stopped
  if (opts.connections) opts.connections->add(sampler.connections());
  final_sample.final = true;
  RawRun out = assemble_raw(final_sample, workers, split, run_start, end);
  if (opts.permessage_deflate) out.negotiated.offered_extensions = opts.deflate_offer;
  count_dropped(out, final_sample, split.concurrency);
  if (opts.on_progress) opts.on_progress(final_sample);
  return out;
}

}  // namespace wslat
