// Live outputs: what watches a run while it lasts. The runner hands every LiveSample (about every
// 250 ms, then the final one after the workers stopped) to one callback, RunOptions::on_progress;
// LiveOutputs fans it out to each output in turn, on the coordinating thread.
//
// Adding a live output (a Prometheus endpoint, a dashboard): a class implementing LiveOutput in
// its own file, its option in cli/run.cpp (add_run_command) and one line in live_outputs() there.
// Copy what it needs from the sample in sample(), serve it from its own thread, and stop that in
// finish(). Metrics and counters appear in the sample as soon as a session records them.
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "runner.hpp"

namespace wslat {

class LiveOutput {
 public:
  LiveOutput() = default;
  LiveOutput(const LiveOutput&) = delete;
  LiveOutput& operator=(const LiveOutput&) = delete;
  virtual ~LiveOutput() = default;
  // Every sample of the run, in order; counts only grow. Must return quickly: the coordinator
  // takes the next sample after every output has seen this one.
  virtual void sample(const LiveSample& s) = 0;
  // The run is over (finished or interrupted): clear a line, flush, close a listener.
  virtual void finish() {}
};

class LiveOutputs {
 public:
  void add(std::unique_ptr<LiveOutput> out) { outputs_.push_back(std::move(out)); }
  bool empty() const { return outputs_.empty(); }
  // The callback for RunOptions::on_progress; valid while this object lives.
  std::function<void(const LiveSample&)> callback() {
    return [this](const LiveSample& s) {
      for (auto& out : outputs_) out->sample(s);
    };
  }
  void finish() {
    for (auto& out : outputs_) out->finish();
  }

 private:
  std::vector<std::unique_ptr<LiveOutput>> outputs_;
};

}  // namespace wslat
