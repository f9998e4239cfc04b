#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "error.hpp"
#include "schedule.hpp"

using namespace std::chrono_literals;
using wslat::Duration;

namespace {

double seconds(Duration d) { return static_cast<double>(d.count()) / 1e9; }

wslat::Load rate_load(double per_second, Duration duration) {
  wslat::Load load;
  load.rate = wslat::Rate{per_second};
  load.duration = duration;
  return load;
}

// 0 -> 10/s over 10s, 10/s for 10s, 10/s -> 0 over 10s, then 5s at 0/s.
wslat::Load ramp_load() {
  wslat::Load load;
  load.stages = {{10s, {10}}, {10s, {10}}, {10s, {0}}, {5s, {0}}};
  return load;
}

}  // namespace

TEST_CASE("parse_shard reads 1-based I/N") {
  const wslat::Shard s = wslat::parse_shard("2/4");
  CHECK(s.index == 1);
  CHECK(s.count == 4);
  CHECK(wslat::parse_shard("1/1").index == 0);
  for (const char* bad : {"0/4", "5/4", "x", "1/0", "", "1/", "/4", "-1/4", "1/4x", "1.5/4"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(wslat::parse_shard(bad), doctest::Contains("expected I/N"),
                         wslat::UsageError);
  }
}

TEST_CASE("shard_part splits evenly and the parts sum to the total") {
  CHECK(wslat::shard_part(10, {0, 3}) == 4);
  CHECK(wslat::shard_part(10, {1, 3}) == 3);
  CHECK(wslat::shard_part(10, {2, 3}) == 3);
  for (const std::int64_t total : {0, 1, 7, 100, 1001}) {
    for (const std::int64_t n : {1, 2, 3, 8}) {
      std::int64_t sum = 0;
      for (std::int64_t i = 0; i < n; ++i) sum += wslat::shard_part(total, {i, n});
      CHECK(sum == total);
    }
  }
}

TEST_CASE("shard_range: shards hold whole rooms, the parts cover every connection once") {
  // 3 rooms of 5 in 2 shards: rooms 0-1 and room 2, never 8 + 7 connections.
  auto a = wslat::shard_range(15, 15, 5, {0, 2});
  auto b = wslat::shard_range(15, 15, 5, {1, 2});
  CHECK(a.first == 0);
  CHECK(a.count == 10);
  CHECK(a.concurrency == 10);
  CHECK(b.first == 10);
  CHECK(b.count == 5);
  CHECK(b.concurrency == 5);
  // Without rooms: equal parts, as before.
  a = wslat::shard_range(15, 15, 0, {0, 2});
  CHECK(a.count == 8);
  CHECK(wslat::shard_range(15, 15, 0, {1, 2}).first == 8);
  // A partial last room; more shards than rooms (some empty); every connection once.
  for (const std::int64_t n : {1, 2, 3, 5, 8}) {
    std::int64_t next = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto r = wslat::shard_range(23, 10, 5, {i, n});
      CHECK(r.first == next);
      if (r.count > 0) CHECK(r.first % 5 == 0);
      next = r.first + r.count;
    }
    CHECK(next == 23);
  }
}

TEST_CASE("a constant rate starts arrival k at k / rate, strictly before the end") {
  const auto times = wslat::open_schedule(rate_load(20, 1s), {0, 1});
  REQUIRE(times.size() == 20);
  for (std::size_t k = 0; k < times.size(); ++k) CHECK(times[k] == Duration(k * 50'000'000));
  CHECK(wslat::open_schedule(rate_load(3, 1500ms), {0, 1}).size() == 5);  // 0 .33 .67 1 1.33
  CHECK(wslat::open_schedule(rate_load(0.1, 30s), {0, 1}).size() == 3);   // 0 10 20
  CHECK(wslat::open_duration(rate_load(20, 1s)) == 1s);
}

TEST_CASE("ramps place arrival k where the integral of the rate reaches k") {
  const auto times = wslat::open_schedule(ramp_load(), {0, 1});
  // 50 arrivals while ramping up, 100 at the plateau, 50 ramping down, none at 0/s.
  REQUIRE(times.size() == 200);
  CHECK(wslat::open_duration(ramp_load()) == 35s);
  for (std::size_t k = 0; k < times.size(); ++k) {
    const double c = static_cast<double>(k);
    double expected = 0;
    if (k < 50) {
      expected = std::sqrt(2 * c);  // integral of t dt = t^2 / 2
    } else if (k < 150) {
      expected = 10 + (c - 50) / 10;
    } else {
      expected = 20 + 10 - std::sqrt(100 - 2 * (c - 150));  // 10t - t^2/2 = c - 150
    }
    CAPTURE(k);
    CHECK(seconds(times[k]) == doctest::Approx(expected).epsilon(1e-9));
  }
  CHECK(std::is_sorted(times.begin(), times.end()));
  CHECK(seconds(times.back()) < 30);
}

TEST_CASE("shards together make exactly the unsharded schedule") {
  for (const wslat::Load& load : {ramp_load(), rate_load(33, 3s)}) {
    const auto whole = wslat::open_schedule(load, {0, 1});
    for (const std::int64_t n : {2, 3, 7}) {
      std::vector<Duration> together;
      for (std::int64_t i = 0; i < n; ++i) {
        const auto part = wslat::open_schedule(load, {i, n});
        // Round-robin: shard i holds arrivals i, i+n, i+2n, ...
        for (std::size_t j = 0; j < part.size(); ++j) {
          CHECK(part[j] == whole[static_cast<std::size_t>(i) + j * static_cast<std::size_t>(n)]);
        }
        together.insert(together.end(), part.begin(), part.end());
      }
      std::sort(together.begin(), together.end());
      CHECK(together == whole);
    }
  }
}

TEST_CASE("ArrivalSchedule computes open_schedule's offsets on demand") {
  // Planning keeps no list per arrival (a 10M-arrival plan once took 160 MB before the run).
  for (const wslat::Load& load : {rate_load(20, 1s), rate_load(3, 1500ms), ramp_load()}) {
    const auto whole = wslat::open_schedule(load, {0, 1});
    const wslat::ArrivalSchedule lazy(load);
    REQUIRE(lazy.size() == static_cast<std::int64_t>(whole.size()));
    for (std::size_t k = 0; k < whole.size(); ++k) {
      CHECK(lazy.offset(static_cast<std::int64_t>(k)) == whole[k]);
    }
  }
  const wslat::ArrivalSchedule big(rate_load(1e4, 1000s));  // 10M arrivals, nothing stored
  CHECK(big.size() == 10'000'000);
  CHECK(big.offset(9'999'999) == std::chrono::nanoseconds(999'999'900'000));
}

TEST_CASE("open_schedule refuses absurd loads and a rate without duration") {
  CHECK_THROWS_WITH_AS(wslat::open_schedule(rate_load(1e6, 1h), {0, 1}),
                       doctest::Contains("10,000,000"), wslat::UsageError);
  wslat::Load no_duration;
  no_duration.rate = wslat::Rate{10};
  CHECK_THROWS_AS(wslat::open_schedule(no_duration, {0, 1}), wslat::UsageError);
}
