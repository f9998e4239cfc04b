// A worker: one thread, one io_context, one websocketpp endpoint, its sessions and what they
// record (Worker<Client>). Included only by lib/net/transport_for.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "net/engine.hpp"
#include "net/plan.hpp"
#include "net/session.hpp"

namespace wslat::net {

inline constexpr Metric kLoopLag = latency_slot("loop_lag");

template <typename Client>
class Worker final : public WorkerHandle {
  using SessionPtr = std::shared_ptr<Session<Client>>;

 public:
  Worker(const RunPlan& plan, SampleSlot& slot, SslContextPtr ssl)
      : plan_(plan), samples_(slot), resolver_(io_), tick_(io_) {
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    client_.init_asio(&io_);
    if constexpr (std::is_same_v<Client, TlsClient>) {
      client_.set_tls_init_handler([ssl](const websocketpp::connection_hdl&) { return ssl; });
    } else {
      (void)ssl;
    }
  }

  // t0 = the actual start.
  void run_closed(ClosedPart part, std::int64_t concurrency) override {
    closed_ = part;
    const std::int64_t count =
        part.end > part.first ? (part.end - part.first + part.stride - 1) / part.stride : 0;
    ramp_left_ = std::min<std::int64_t>(concurrency, count);
    ramp_up();
    loop();
  }

  // An arrival that finds no free slot waits (and is charged its wait) until the schedule ends.
  void run_open(OpenPart part, std::int64_t max_concurrency, Duration end) override {
    open_ = part;
    next_arrival_ = due_arrival_ = part.first;
    max_live_ = std::max<std::int64_t>(1, max_concurrency);
    schedule_end_ = plan_.run_start + end;
    arrival_timer_.emplace(io_);
    end_timer_.emplace(io_);
    end_timer_->expires_at(schedule_end_);
    end_timer_->async_wait([this](const asio::error_code& ec) {
      if (!ec) drop_backlog();
    });
    schedule_arrivals();
    loop();
  }

  WorkerResult& result() override { return result_; }
  std::optional<TimePoint> interrupted_at() const override { return interrupted_at_; }

  // --- used by Session ------------------------------------------------------------------------
  const RunPlan& plan() const { return plan_; }
  asio::io_context& io() { return io_; }
  Deadlines& deadlines() { return deadlines_; }
  Client& client() { return client_; }
  asio::ip::tcp::resolver& resolver() { return resolver_; }
  // The scenario's "login" requests: a curl thread, started by the first login.
  LoginClient& login() {
    if (!login_) login_ = std::make_unique<LoginClient>();
    return *login_;
  }
  // The local address for the next connection: round robin over the plan's sources, if any.
  std::optional<asio::ip::address> next_source() {
    if (plan_.sources.empty()) return std::nullopt;
    return plan_.sources[next_source_++ % plan_.sources.size()];
  }

  // --trace: one line on stderr, whole (workers write from their own threads).
  static void trace(const std::string& line) {
    static std::mutex mu;
    const std::lock_guard<std::mutex> lock(mu);
    std::fputs((line + "\n").c_str(), stderr);
  }

  void record(Metric m, Clock::duration d) {
    if (m >= delta_.metrics.size()) delta_.metrics.resize(m + 1);  // a step metric
    delta_.metrics[m].record(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }
  void count_opened() { ++delta_.opened; }
  // What the server answered to the upgrade's offers. Most connections get what the one before
  // got: a string compare, not a walk of the string-keyed map (~1.2 k instructions each).
  void count_negotiated(const std::string& subprotocol, const std::string& extensions) {
    bump(result_.subprotocols, subprotocol, last_subprotocol_);
    bump(result_.extensions, extensions, last_extensions_);
  }
  // Counters (counter_slot): `n` more now; a connection's own counts when it ends.
  void count(std::size_t counter, std::int64_t n) { delta_.counters[counter].total += n; }
  // ... and with roles the copy of the connection's role (COUNTER@ROLE).
  void count(std::size_t counter, std::int64_t n, std::size_t role) {
    count(counter, n);
    if (!plan_.scenario->roles.empty()) role_counter(role, counter).total += n;
  }
  // Deliveries never received: the total, and per role of the members that missed them.
  void count_missing(std::size_t counter, const Missing& m) {
    if (m.total == 0) return;
    count(counter, m.total);
    for (std::size_t r = 0; r < m.by_role.size(); ++r) {
      if (m.by_role[r] != 0) role_counter(r, counter).total += m.by_role[r];
    }
  }
  void end_connection_counts(const std::array<std::int64_t, kCounterSlotCount>& counted,
                             std::size_t role) {
    for (std::size_t c = 0; c < counted.size(); ++c) delta_.counters[c].add_connection(counted[c]);
    if (plan_.scenario->roles.empty()) return;
    for (std::size_t c = 0; c < counted.size(); ++c)
      role_counter(role, c).add_connection(counted[c]);
  }
  Counter& role_counter(std::size_t role, std::size_t counter) {
    if (delta_.role_counters.empty()) {
      delta_.role_counters.resize(plan_.scenario->roles.size() * kCounterSlotCount);
    }
    return delta_.role_counters[role * kCounterSlotCount + counter];
  }
  void count_error(const std::string& category, const std::string& message) {
    ++delta_.errors[category];
    if (result_.error_examples.count(category) == 0) {
      result_.error_examples[category] = message;  // assemble_result redacts
    }
  }
  // A masking key for a frame wslat builds itself (xorshift: masks need not be secret here).
  std::uint32_t mask_key() {
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    return static_cast<std::uint32_t>(rng_state_);
  }
  const std::string& filler(std::size_t size) {
    if (filler_.size() != size) filler_.assign(size, 'x');
    return filler_;
  }

  // --export-csv / --export-ndjson: a finished connection's record, published with the sample.
  void export_connection(ConnectionRecord&& r) { delta_.connections.push_back(std::move(r)); }

  void session_done(Session<Client>& s, const TimelinePoint& p, bool failed) {
    if (failed) ++delta_.failed;
    ++delta_.done;
    add_timeline_point(result_, p, kTimelineCap);
    // Release the slot (swap-remove); the session object lives on in pending handlers.
    const std::size_t slot = s.slot();
    live_sessions_[slot] = std::move(live_sessions_.back());
    live_sessions_[slot]->set_slot(slot);
    live_sessions_.pop_back();
    sessions_in_flight = live_sessions_.size();
    ++refills_due_;  // loop() refills once this handler returned (a post cost an epoll_wait)
  }

 private:
  // `t0`: when the connection was due (the open model's schedule); `now`: when it starts.
  void start(std::int64_t index, TimePoint t0, TimePoint now) {
    const double late_ms = ms_between(t0, now);
    if (late_ms > 1.0) {
      ++result_.late_starts;
      result_.max_lateness_ms = std::max(result_.max_lateness_ms, late_ms);
    }
    ++delta_.attempted;
    auto session = std::make_shared<Session<Client>>(*this, index, t0);
    session->set_slot(live_sessions_.size());
    live_sessions_.push_back(session);
    sessions_in_flight = live_sessions_.size();
    session->start();
  }

  // Opens the first `concurrency` sessions a batch per loop turn, so the completions of the
  // first ones are not queued behind the set-up of thousands of others (which would charge
  // wslat's own work to their tcp/upgrade times).
  void ramp_up() {
    constexpr std::int64_t kBatch = 16;
    for (std::int64_t i = 0; i < kBatch && ramp_left_ > 0 && !stopping_; ++i, --ramp_left_) {
      start_next_closed();
    }
    if (ramp_left_ > 0 && !stopping_) asio::post(io_, [this] { ramp_up(); });
  }

  void start_next_closed() {
    if (closed_.first >= closed_.end) return;
    const TimePoint now = Clock::now();  // due as soon as started: never late
    start(closed_.first, now, now);
    closed_.first += closed_.stride;
  }

  bool arrivals_left() const { return next_arrival_ < open_.schedule->size(); }
  TimePoint intended(std::int64_t arrival) const {
    return plan_.run_start + open_.schedule->offset(arrival);
  }

  // Arrivals [due_arrival_, next_arrival_) (step open_.stride) are due and wait for a slot.
  void schedule_arrivals() {
    if (!arrivals_left() || stopping_) return;
    arrival_timer_->expires_at(intended(next_arrival_));
    arrival_timer_->async_wait([this](const asio::error_code& ec) {
      if (ec || stopping_) return;
      const TimePoint now = Clock::now();
      for (int batch = 0; batch < 16 && arrivals_left() && intended(next_arrival_) <= now;
           ++batch) {
        next_arrival_ += open_.stride;
      }
      start_due();
      schedule_arrivals();
    });
  }

  // Due arrivals start in order as slots free up.
  void start_due() {
    while (due_arrival_ < next_arrival_ &&
           static_cast<std::int64_t>(live_sessions_.size()) < max_live_) {
      start(due_arrival_, intended(due_arrival_), Clock::now());
      due_arrival_ += open_.stride;
    }
  }

  void drop_backlog() {
    result_.dropped += (next_arrival_ - due_arrival_) / open_.stride;
    due_arrival_ = next_arrival_;
    maybe_finish();
  }

  void refill() {
    if (!stopping_) {
      if (arrival_timer_) {
        start_due();
      } else {
        start_next_closed();
      }
    }
    maybe_finish();
  }

  bool all_started() const {
    if (arrival_timer_) return !arrivals_left() && due_arrival_ == next_arrival_;
    return closed_.first >= closed_.end && ramp_left_ == 0;
  }

  void maybe_finish() {
    if (live_sessions_.empty() && (all_started() || stopping_)) {
      tick_.cancel();
      if (arrival_timer_) arrival_timer_->cancel();
      if (end_timer_) end_timer_->cancel();
      io_.stop();  // websocketpp may keep internal timers of terminated connections alive
    }
  }

  // Every 100 ms: record how late the loop woke up (loop_lag: wslat's own queueing, which
  // includes every handler that was ready ahead of the tick; lib/saturation.hpp), notice a stop
  // request, publish what was recorded since the last tick.
  void on_tick() {
    tick_.expires_after(std::chrono::milliseconds(100));
    tick_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      record(kLoopLag, Clock::now() - tick_.expiry());
      samples_.publish(delta_);
      const auto* stop = plan_.opts->stop_requested;
      if (!stopping_ && stop != nullptr && stop->load(std::memory_order_relaxed)) interrupt();
      on_tick();
    });
  }

  void interrupt() {
    stopping_ = true;
    interrupted_at_ = Clock::now();
    if (arrival_timer_) arrival_timer_->cancel();
    due_arrival_ = next_arrival_;      // waiting arrivals are not started (nor dropped: stopped)
    const auto live = live_sessions_;  // sessions remove themselves as they finish
    for (const auto& s : live) s->interrupt();
    maybe_finish();
  }

  void loop() {
    on_tick();
    maybe_finish();
    // One handler at a time, and the refills its finished sessions asked for right after it:
    // what a post did, without the non-blocking epoll_wait Asio makes before running a posted
    // handler (its reactor task is queued ahead of it), one per connection.
    while (!io_.stopped()) {
      const std::size_t ran = io_.run_one();
      if (refills_due_ == 0) {
        if (ran == 0) break;
        continue;
      }
      for (; refills_due_ > 0; --refills_due_) refill();
    }
    // Rooms: the last worker to stop counts the deliveries still missing.
    if (plan_.rooms && plan_.rooms->worker_stopped()) {
      count_missing(kDeliveryMissing, plan_.rooms->finish_all());
    }
    if (plan_.presence && plan_.presence->worker_stopped()) {
      count_missing(kPresenceMissing, plan_.presence->finish_all());
    }
    samples_.publish(delta_);  // the rest: the coordinator's final sample is then complete
  }

  const RunPlan& plan_;
  SampleSlot& samples_;
  asio::io_context io_{1};
  Deadlines deadlines_{io_};  // every session's phase deadline; outlives client_'s sessions
  Client client_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer tick_;
  std::optional<asio::steady_timer> arrival_timer_, end_timer_;
  SampleDelta delta_;  // recorded since the last publication
  WorkerResult result_;
  // The entry of result_.subprotocols / .extensions counted last (map entries never move).
  struct LastCount {
    const std::string* key = nullptr;
    std::int64_t* count = nullptr;
  };
  LastCount last_subprotocol_, last_extensions_;
  static void bump(std::map<std::string, std::int64_t>& counts, const std::string& key,
                   LastCount& last) {
    if (last.count == nullptr || *last.key != key) {
      const auto it = counts.try_emplace(key, 0).first;
      last = {&it->first, &it->second};
    }
    ++*last.count;
  }
  std::vector<SessionPtr> live_sessions_;
  // After io_ and deadlines_: stopped (its thread joined) before they go, and the sessions its
  // unfinished logins hold are released on the destroying thread.
  std::unique_ptr<LoginClient> login_;
  ClosedPart closed_;  // first: the next index to start
  std::int64_t ramp_left_ = 0;
  OpenPart open_;
  std::int64_t next_arrival_ = 0, due_arrival_ = 0;
  std::optional<TimePoint> interrupted_at_;
  std::int64_t max_live_ = 1;
  TimePoint schedule_end_{};
  std::string filler_;
  std::uint64_t rng_state_ = std::random_device{}() | 1ULL;
  std::size_t next_source_ = 0;
  std::size_t refills_due_ = 0;  // sessions finished in the handler that just ran
  bool stopping_ = false;
};

}  // namespace wslat::net
