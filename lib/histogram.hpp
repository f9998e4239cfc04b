// A mergeable log-linear latency histogram in the spirit of HdrHistogram_c:
// values are nanoseconds, range 1 us .. 1 h, relative error <= 1% (actually <= 1/128).
// Exact count, min, max, sum and sum of squares are kept beside the buckets so that
// mean and stddev are exact; percentiles come from the buckets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace wslat {

class Histogram {
 public:
  static constexpr std::int64_t kLowestNs = 1'000;               // 1 us
  static constexpr std::int64_t kHighestNs = 3'600'000'000'000;  // 1 h

  Histogram();

  // Values below 1 us count in the lowest bucket, above 1 h in the highest; min/max/sum
  // stay exact either way.
  void record(std::chrono::nanoseconds value);
  void record_ns(std::int64_t value_ns);
  // Adds every sample of `other` (exact: merging then querying equals recording all).
  void add(const Histogram& other);

  std::int64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::int64_t min_ns() const;
  std::int64_t max_ns() const;
  double mean_ns() const;
  double stddev_ns() const;  // population standard deviation
  // p in [0, 100]. Returns a value equivalent (within the bucket precision) to the
  // sample at rank ceil(p/100 * count), clamped to [min, max]. 0 when empty.
  std::int64_t value_at_percentile(double p) const;

  // Buckets in ascending value order with a non-zero count:
  // fn(lowest_equivalent_ns, highest_equivalent_ns, count).
  void for_each_bucket(const std::function<void(std::int64_t lo_ns, std::int64_t hi_ns,
                                                std::int64_t count)>& fn) const;
  // Raw access for statistics: number of buckets, count and representative (midpoint) value.
  std::size_t bucket_count() const;
  std::int64_t count_at(std::size_t index) const { return counts_.empty() ? 0 : counts_[index]; }
  std::int64_t bucket_midpoint_ns(std::size_t index) const;
  std::int64_t bucket_lowest_ns(std::size_t index) const;
  std::int64_t bucket_highest_ns(std::size_t index) const;
  std::size_t bucket_index(std::int64_t value_ns) const;

  bool operator==(const Histogram& other) const;

  // Compact JSON: {"unit":"ns","lowest":1000,"highest":...,"sub_buckets":256,
  // "count":N,"min":..,"max":..,"sum":..,"sum_sq":..,"buckets":[[index,count],...]}.
  // from_json validates everything and throws std::invalid_argument with a clear message.
  nlohmann::json to_json() const;
  static Histogram from_json(const nlohmann::json& j);

 private:
  void allocate_buckets();
  // Allocated at the first sample (33 KiB): a run holds ~100 histograms (per metric, per worker,
  // live windows), most never recorded into; zeroing them all cost ~3 M instructions and ~800
  // page faults at every start. Empty means every bucket is zero.
  std::vector<std::int64_t> counts_;
  std::int64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  double sum_ = 0.0;
  double sum_sq_ = 0.0;
};

}  // namespace wslat
