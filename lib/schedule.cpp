#include "schedule.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

#include "error.hpp"

namespace wslat {
namespace {

constexpr double kMaxArrivals = 10'000'000;
constexpr double kNsPerSecond = 1e9;

// One piece of the rate curve: linear from `from` to `to` arrivals/s over
// `length`.
struct Segment {
  Duration length{};
  double from = 0;
  double to = 0;
  double seconds() const { return static_cast<double>(length.count()) / kNsPerSecond; }
  double arrivals() const { return (from + to) / 2 * seconds(); }
};

std::vector<Segment> segments_of(const Load& load) {
  std::vector<Segment> out;
  if (!load.stages.empty()) {
    double previous = 0;  // ramps start from zero
    for (const Stage& s : load.stages) {
      out.push_back({s.duration, previous, s.target.per_second});
      previous = s.target.per_second;
    }
    return out;
  }
  if (!load.rate) throw std::invalid_argument("open_schedule: a closed-model load has no arrivals");
  if (!load.duration) {
    throw UsageError(
        "load: an arrival \"rate\" needs a \"duration\" (e.g. "
        "\"duration\": \"30s\")");
  }
  out.push_back({*load.duration, load.rate->per_second, load.rate->per_second});
  return out;
}

// Seconds into the segment at which `c` further arrivals have accumulated: the
// root of from*t + (to-from)/(2T)*t^2 = c. Written as 2c / (b + sqrt(b^2 +
// 4ac)), which stays exact for flat segments (a = 0) and does not cancel when
// the rate falls.
double time_of(const Segment& s, double c) {
  if (c <= 0) return 0;
  const double a = (s.to - s.from) / (2 * s.seconds());
  const double b = s.from;
  const double root = std::sqrt(std::max(0.0, b * b + 4 * a * c));
  return std::min(2 * c / (b + root), s.seconds());
}

bool parse_int(std::string_view s, std::int64_t& out) {
  const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && res.ec == std::errc() && res.ptr == s.data() + s.size();
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const std::size_t slash = text.find('/');
  std::int64_t i = 0;
  std::int64_t n = 0;
  const std::string_view s(text);
  if (slash == std::string::npos || !parse_int(s.substr(0, slash), i) ||
      !parse_int(s.substr(slash + 1), n) || n < 1 || i < 1 || i > n) {
    throw UsageError(
        fmt::format("--shard \"{}\": expected I/N with 1 <= I <= "
                    "N, e.g. --shard 1/4 for the first of 4 parts",
                    text));
  }
  return Shard{i - 1, n};
}

std::int64_t shard_part(std::int64_t total, const Shard& shard) {
  const std::int64_t base = total / shard.count;
  return base + (shard.index < total % shard.count ? 1 : 0);
}

ShardRange shard_range(std::int64_t connections, std::int64_t concurrency, std::int64_t room_size,
                       const Shard& shard) {
  ShardRange r;
  if (room_size <= 0) {
    r.count = shard_part(connections, shard);
    r.concurrency = shard_part(concurrency, shard);
    for (std::int64_t i = 0; i < shard.index; ++i)
      r.first += shard_part(connections, {i, shard.count});
    return r;
  }
  const std::int64_t rooms = (connections + room_size - 1) / room_size;
  std::int64_t first_room = 0;
  for (std::int64_t i = 0; i < shard.index; ++i) first_room += shard_part(rooms, {i, shard.count});
  const std::int64_t end_room = first_room + shard_part(rooms, shard);
  r.first = std::min(connections, first_room * room_size);
  r.count = std::min(connections, end_room * room_size) - r.first;
  // In proportion, rounded up: a room whose members wait for each other needs them all at once
  // when the whole run had them all at once.
  r.concurrency = connections > 0 ? (concurrency * r.count + connections - 1) / connections : 0;
  return r;
}

ArrivalSchedule::ArrivalSchedule(const Load& load) {
  const std::vector<Segment> segments = segments_of(load);
  double expected = 0;
  for (const Segment& s : segments) expected += s.arrivals();
  if (!(expected <= kMaxArrivals)) {
    throw UsageError(
        fmt::format("load: the rate and duration make {:.0f} arrivals, more "
                    "than the 10,000,000 one run can "
                    "schedule; lower the rate or the duration, or split the "
                    "load with --shard",
                    expected));
  }
  double before = 0;  // arrivals accumulated before the current segment
  Duration start{0};
  std::int64_t first = 0;
  for (const Segment& s : segments) {
    const double end = before + s.arrivals();
    // An arrival exactly at a segment's end belongs to the next one (or, at the very end of
    // the load, to nobody); the epsilon keeps binary rounding from deciding that. Arrival k
    // is in this segment while k < end - epsilon.
    const double bound = end - 1e-9 * std::max(1.0, end);
    const auto last = std::max(first, static_cast<std::int64_t>(std::ceil(bound)));
    pieces_.push_back({first, before, start, s.length, s.from, s.to});
    first = last;
    before = end;
    start += s.length;
  }
  size_ = first;
}

Duration ArrivalSchedule::offset(std::int64_t k) const {
  // The last piece starting at or before k (pieces holding no arrival are skipped over).
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), k,
                             [](std::int64_t v, const Piece& p) { return v < p.first; });
  const Piece& p = *std::prev(it);
  const Segment s{p.length, p.from, p.to};
  const double t = time_of(s, static_cast<double>(k) - p.before);
  return p.start + Duration(static_cast<Duration::rep>(std::llround(t * kNsPerSecond)));
}

std::vector<Duration> open_schedule(const Load& load, const Shard& shard) {
  const ArrivalSchedule schedule(load);
  std::vector<Duration> out;
  out.reserve(static_cast<std::size_t>(shard_part(schedule.size(), shard)));
  for (std::int64_t k = shard.index; k < schedule.size(); k += shard.count) {
    out.push_back(schedule.offset(k));
  }
  return out;
}

Duration open_duration(const Load& load) {
  if (load.stages.empty()) return load.duration.value_or(Duration{0});
  Duration total{0};
  for (const Stage& s : load.stages) total += s.duration;
  return total;
}

}  // namespace wslat
