// The worker's deadline queue (lib/net/deadlines.hpp): one timer for every session's phase
// deadline. Phase timeouts must fire as the per-session timers did: each at its time, never
// after it was cancelled, moved later or earlier, and a "never" (TimePoint::max) never fires.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "net/deadlines.hpp"

namespace wslat::net {
namespace {

using std::chrono::milliseconds;

struct Probe final : Deadlined {
  Probe(std::string n, std::vector<std::string>& log, Deadlines& q)
      : name(std::move(n)), log_(log), q_(q) {}
  ~Probe() {
    if (has_deadline()) q_.cancel(*this);
  }
  void on_deadline() override {
    fired_at = Clock::now();
    log_.push_back(name);
    if (then) {
      auto f = then;
      then = nullptr;
      f(*this);
    }
  }
  std::string name;
  TimePoint fired_at{};
  void (*then)(Probe&) = nullptr;
  std::vector<std::string>& log_;
  Deadlines& q_;
};

TEST_CASE("deadlines: each fires once, in order, not before its time, and cancelled ones never") {
  asio::io_context io;
  Deadlines q(io);
  std::vector<std::string> log;
  Probe a("a", log, q), b("b", log, q), c("c", log, q), d("d", log, q), never("never", log, q);
  const TimePoint start = Clock::now();
  q.set(c, start + milliseconds(60));
  q.set(a, start + milliseconds(20));
  q.set(b, start + milliseconds(40));
  q.set(d, start + milliseconds(10));
  q.set(never, TimePoint::max());
  q.cancel(d);                         // cancelled before it was due: never fires
  q.set(b, start + milliseconds(80));  // moved later: fires at the new time, after c
  q.set(c, start + milliseconds(30));  // moved earlier
  a.then = [](Probe& p) { p.q_.set(p, Clock::now() + milliseconds(5)); };  // re-armed inside
  io.run_for(std::chrono::seconds(5));  // returns once nothing but `never` is queued
  CHECK(log == std::vector<std::string>{"a", "a", "c", "b"});
  CHECK(c.fired_at >= start + milliseconds(30));
  CHECK(b.fired_at >= start + milliseconds(80));
  CHECK(never.has_deadline());
  CHECK_FALSE(d.has_deadline());
  CHECK(q.size() == 1);
}

}  // namespace
}  // namespace wslat::net
