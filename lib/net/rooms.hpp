// Delivery latency inside rooms: the broadcasts members sent that the other members have not
// all received yet. One board per run, shared by every worker thread: a mutex per room (members
// of a room may live on different workers), so the workers only meet when they share a room.
// Memory is bounded: a broadcast leaves when every expected member got it or when its wait
// ("delivery_wait") is over; its members that never got it are then counted missing.
// README "Roles, rooms and delivery latency".
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "net/engine.hpp"

namespace wslat::net {

// Deliveries that never arrived: in all, and with roles per role of the member that did not get
// them (delivery_missing@listener: listeners' missing deliveries).
struct Missing {
  std::int64_t total = 0;
  std::vector<std::int64_t> by_role;  // index: Scenario::roles; empty without roles

  void add(std::size_t role, std::size_t roles, std::int64_t n) {
    total += n;
    if (roles == 0) return;
    if (by_role.size() < roles) by_role.resize(roles);
    by_role[role] += n;
  }
};

class RoomBoard {
 public:
  // `role_of` (with `roles` roles) names each member's role, for the missing counts per role.
  explicit RoomBoard(Duration wait, std::function<std::size_t(std::int64_t)> role_of = nullptr,
                     std::size_t roles = 0)
      : wait_(wait), role_of_(std::move(role_of)), roles_(role_of_ ? roles : 0) {}

  // `member` (a connection index) is open in `room` / has ended.
  void join(std::int64_t room, std::int64_t member) {
    Room& r = room_(room);
    const std::lock_guard<std::mutex> lock(r.mu);
    r.open.insert(member);
  }
  void leave(std::int64_t room, std::int64_t member) {
    Room& r = room_(room);
    const std::lock_guard<std::mutex> lock(r.mu);
    r.open.erase(member);
  }

  // `sender` broadcast `id` at `sent`: every other member open now is expected to receive it.
  // Returns the deliveries of earlier broadcasts whose wait is over and that never arrived.
  Missing broadcast(std::int64_t room, std::int64_t sender, std::string id, TimePoint sent) {
    Room& r = room_(room);
    const std::lock_guard<std::mutex> lock(r.mu);
    return broadcast_locked(r, sender, std::move(id), sent);
  }
  // join() and broadcast() as one step (a presence event announces the member it adds): the
  // members that joined before it expect it, and none that joins after it. Two calls would let
  // two members of a room on different workers each join before the other's broadcast, and
  // each then expect the other's event as well as the earlier ones.
  Missing join_and_broadcast(std::int64_t room, std::int64_t member, std::string id,
                             TimePoint sent) {
    Room& r = room_(room);
    const std::lock_guard<std::mutex> lock(r.mu);
    r.open.insert(member);
    return broadcast_locked(r, member, std::move(id), sent);
  }

  struct Receipt {
    std::optional<Duration> delivery;  // this member's: receipt - send
    std::optional<Duration> fanout;    // set when this receipt was the last expected one
    std::optional<Duration> fanout_50, fanout_90;  // ... the one that made half, 90% of them
    Missing missing;                               // of broadcasts whose wait ended meanwhile
    // A broadcast of this process (still waiting) carries the id: false for one that another
    // process sent (or that left the board), which only the message's send time can time.
    bool known = false;
  };
  // `member` received a message carrying `id` at `at`.
  Receipt receive(std::int64_t room, std::int64_t member, const std::string& id, TimePoint at) {
    Receipt out;
    Room& r = room_(room);
    const std::lock_guard<std::mutex> lock(r.mu);
    out.missing = expire(r, at);
    for (auto it = r.pending.begin(); it != r.pending.end(); ++it) {
      if (it->id != id) continue;
      out.known = true;
      const auto pos = std::lower_bound(it->expected.begin(), it->expected.end(), member);
      if (pos == it->expected.end() || *pos != member) return out;  // not expected (joined later)
      const auto k = static_cast<std::size_t>(pos - it->expected.begin());
      if (it->got[k]) return out;  // a duplicate
      it->got[k] = true;
      out.delivery =
          std::max(Duration::zero(), std::chrono::duration_cast<Duration>(at - it->sent));
      const std::size_t n = it->expected.size();
      ++it->received;
      if (it->received == share_of(n, 50)) out.fanout_50 = out.delivery;
      if (it->received == share_of(n, 90)) out.fanout_90 = out.delivery;
      if (it->received == n) {
        out.fanout = out.delivery;
        r.pending.erase(it);
      }
      return out;
    }
    return out;
  }

  // The run is over (the last worker stopped): every broadcast still waiting is missing those
  // deliveries.
  Missing finish_all() {
    Missing missing;
    const std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, r] : rooms_) {
      const std::lock_guard<std::mutex> room_lock(r->mu);
      expire(*r, TimePoint::max(), missing);
    }
    return missing;
  }

  // Workers call worker_started() before they run and worker_stopped() after; true for the
  // last one to stop.
  void worker_started() {
    const std::lock_guard<std::mutex> lock(mu_);
    ++workers_;
  }
  bool worker_stopped() {
    const std::lock_guard<std::mutex> lock(mu_);
    return --workers_ == 0;
  }

 private:
  struct Pending {
    std::string id;
    TimePoint sent;
    std::vector<std::int64_t> expected;  // sorted
    std::vector<bool> got;
    std::size_t received = 0;
  };
  struct Room {
    std::mutex mu;
    std::set<std::int64_t> open;
    std::deque<Pending> pending;  // in send order, so in expiry order
  };

  // broadcast() under the room's lock.
  Missing broadcast_locked(Room& r, std::int64_t sender, std::string id, TimePoint sent) {
    Missing missing = expire(r, sent);
    Pending p{std::move(id), sent, {}, {}, 0};
    for (const std::int64_t m : r.open) {
      if (m != sender) p.expected.push_back(m);  // sorted: a std::set
    }
    p.got.assign(p.expected.size(), false);
    // Also with no one to expect: its id stays known to this process until its wait is over, so
    // an echo is never taken for a broadcast of another process (Receipt::known).
    r.pending.push_back(std::move(p));
    return missing;
  }

  // How many of `n` members make `percent`% of them (rounded up: 90% of 5 is 5).
  static std::size_t share_of(std::size_t n, std::size_t percent) {
    return (n * percent + 99) / 100;
  }

  Room& room_(std::int64_t room) {
    const std::lock_guard<std::mutex> lock(mu_);
    auto& r = rooms_[room];
    if (!r) r = std::make_unique<Room>();
    return *r;
  }

  // Removes the broadcasts whose wait ended by `now`; returns their deliveries not received.
  Missing expire(Room& r, TimePoint now) const {
    Missing missing;
    expire(r, now, missing);
    return missing;
  }
  void expire(Room& r, TimePoint now, Missing& missing) const {
    while (!r.pending.empty() &&
           (now == TimePoint::max() || now - r.pending.front().sent >= wait_)) {
      const Pending& p = r.pending.front();
      if (roles_ == 0) {
        missing.total += static_cast<std::int64_t>(p.expected.size() - p.received);
      } else {
        for (std::size_t k = 0; k < p.expected.size(); ++k) {
          if (!p.got[k]) missing.add(role_of_(p.expected[k]), roles_, 1);
        }
      }
      r.pending.pop_front();
    }
  }

  Duration wait_;
  std::function<std::size_t(std::int64_t)> role_of_;
  std::size_t roles_;
  std::mutex mu_;  // rooms_ and workers_
  std::map<std::int64_t, std::unique_ptr<Room>> rooms_;
  int workers_ = 0;
};

}  // namespace wslat::net
