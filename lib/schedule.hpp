// When each connection is meant to start (wrk2: latency counts from the intended start).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "scenario.hpp"

namespace wslat {

struct Shard {
  std::int64_t index = 0;  // 0-based
  std::int64_t count = 1;
};
// "I/N" with 1 <= I <= N (1-based as users write it). Throws UsageError.
Shard parse_shard(const std::string& text);

// Closed model: the connections and concurrency this shard runs (equal parts; the first
// `total % N` shards take one more). Shard splits of all N sum to the whole.
std::int64_t shard_part(std::int64_t total, const Shard& shard);

// Closed model: the connection indices [first, first + count) and the concurrency of a shard.
// With rooms of `room_size` (> 0) the shards take whole rooms in equal parts (a room is never
// split between processes: its members must see each other's broadcasts) and a concurrency in
// proportion to their connections; otherwise equal parts of both.
struct ShardRange {
  std::int64_t first = 0, count = 0, concurrency = 0;
};
ShardRange shard_range(std::int64_t connections, std::int64_t concurrency, std::int64_t room_size,
                       const Shard& shard);

// Open model: intended start offsets (from the run start) of every arrival in this shard.
// Constant rate: arrival k at k / rate. Stages: the rate moves linearly from the previous
// stage's target (0 at the start) to this stage's target over its duration; arrival k is at
// the time the integral of the rate reaches k. Arrivals are dealt to shards round-robin
// (arrival k belongs to shard k % N), so N shards together make exactly the unsharded
// schedule. Throws UsageError when the schedule would exceed 10,000,000 arrivals.
std::vector<Duration> open_schedule(const Load& load, const Shard& shard);

// The same schedule computed on demand, so that planning a run takes memory independent of its
// number of arrivals: offset(k) == open_schedule(load, {0, 1})[k].
class ArrivalSchedule {
 public:
  explicit ArrivalSchedule(const Load& load);  // throws UsageError as open_schedule does
  std::int64_t size() const { return size_; }  // arrivals of the whole (unsharded) load
  Duration offset(std::int64_t k) const;       // intended start of arrival k, 0 <= k < size()

 private:
  struct Piece {  // one segment of the rate curve and the arrivals before it
    std::int64_t first = 0;
    double before = 0;
    Duration start{}, length{};
    double from = 0, to = 0;
  };
  std::vector<Piece> pieces_;
  std::int64_t size_ = 0;
};
// The whole duration of an open-model load (sum of stages, or `duration`).
Duration open_duration(const Load& load);

}  // namespace wslat
