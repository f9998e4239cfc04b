// The live-output seam: every output sees every sample, in order, and is finished once.
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "live.hpp"

namespace {

class Recorder : public wslat::LiveOutput {
 public:
  explicit Recorder(std::vector<std::string>& log, std::string name)
      : log_(log), name_(std::move(name)) {}
  void sample(const wslat::LiveSample& s) override {
    log_.push_back(name_ + ":" + std::to_string(s.done) + (s.final ? " final" : ""));
  }
  void finish() override { log_.push_back(name_ + ": finish"); }

 private:
  std::vector<std::string>& log_;
  std::string name_;
};

}  // namespace

TEST_CASE("live outputs: each output sees every sample in order, then finish") {
  std::vector<std::string> log;
  wslat::LiveOutputs outputs;
  outputs.add(std::make_unique<Recorder>(log, "a"));
  outputs.add(std::make_unique<Recorder>(log, "b"));
  const auto callback = outputs.callback();
  wslat::LiveSample s;
  s.done = 1;
  callback(s);
  s.done = 3;
  s.final = true;
  callback(s);
  outputs.finish();
  CHECK(log ==
        std::vector<std::string>{"a:1", "b:1", "a:3 final", "b:3 final", "a: finish", "b: finish"});
}
