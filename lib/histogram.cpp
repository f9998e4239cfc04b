#include "histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wslat {
namespace {

// Layout (HdrHistogram with 2 significant digits: 256 sub-buckets, the upper 128 of each
// power-of-two range distinct). A value v with highest set bit e lies in the range
// [2^e, 2^(e+1)), split into 128 equal buckets of width 2^(e-7). The width is at most
// v/128, so any value in a bucket is within 1/128 < 1% of every other value in it.
constexpr int kSubBucketBits = 8;
constexpr std::int64_t kSubBucketCount = std::int64_t{1} << kSubBucketBits;  // 256
constexpr std::int64_t kHalfCount = kSubBucketCount / 2;                     // 128
constexpr int kHalfBits = kSubBucketBits - 1;                                // 7

constexpr int highest_bit(std::uint64_t v) { return 63 - __builtin_clzll(v); }

constexpr int kMinExponent = highest_bit(static_cast<std::uint64_t>(Histogram::kLowestNs));
constexpr int kMaxExponent = highest_bit(static_cast<std::uint64_t>(Histogram::kHighestNs));
constexpr std::size_t kBucketCount =
    static_cast<std::size_t>((kMaxExponent - kMinExponent + 1) * kHalfCount);

std::int64_t clamp_to_range(std::int64_t v) {
  return std::clamp(v, Histogram::kLowestNs, Histogram::kHighestNs);
}

// Index of an in-range value: the exponent selects the 128-bucket block, the 7 bits below
// the highest set bit select the bucket inside it. No loops, no branches on the data.
std::size_t index_of(std::int64_t in_range) {
  const auto v = static_cast<std::uint64_t>(in_range);
  const int exponent = highest_bit(v);
  const std::uint64_t sub = v >> (exponent - kHalfBits);  // in [128, 255]
  return static_cast<std::size_t>(exponent - kMinExponent) * kHalfCount +
         static_cast<std::size_t>(sub - kHalfCount);
}

std::int64_t lowest_of(std::size_t index) {
  const int exponent = static_cast<int>(index / kHalfCount) + kMinExponent;
  const auto sub = static_cast<std::int64_t>(index % kHalfCount) + kHalfCount;
  return sub << (exponent - kHalfBits);
}

std::int64_t width_of(std::size_t index) {
  const int exponent = static_cast<int>(index / kHalfCount) + kMinExponent;
  return std::int64_t{1} << (exponent - kHalfBits);
}

// First and last buckets an in-range value can land in (the rest of the top block is unused).
const std::size_t kFirstUsable = index_of(Histogram::kLowestNs);
const std::size_t kLastUsable = index_of(Histogram::kHighestNs);

[[noreturn]] void corrupt(const std::string& what) {
  throw std::invalid_argument("histogram: " + what);
}

std::int64_t read_int(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) corrupt(fmt::format("missing \"{}\"", key));
  if (it->is_number_unsigned()) {
    if (it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      corrupt(fmt::format("\"{}\" is too large", key));
    }
    return static_cast<std::int64_t>(it->get<std::uint64_t>());
  }
  if (!it->is_number_integer()) corrupt(fmt::format("\"{}\" must be an integer", key));
  return it->get<std::int64_t>();
}

double read_number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) corrupt(fmt::format("missing \"{}\"", key));
  if (!it->is_number()) corrupt(fmt::format("\"{}\" must be a number", key));
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0) corrupt(fmt::format("\"{}\" must be finite and >= 0", key));
  return v;
}

void expect_int(const nlohmann::json& j, const char* key, std::int64_t expected) {
  const std::int64_t got = read_int(j, key);
  if (got != expected) {
    corrupt(fmt::format("\"{}\" is {} but this version of wslat uses {} (incompatible layout)", key,
                        got, expected));
  }
}

std::int64_t read_element(const nlohmann::json& e, std::size_t pos, const char* what) {
  if (e.is_number_unsigned() && e.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(e.get<std::uint64_t>());
  }
  if (e.is_number_integer() && !e.is_number_unsigned()) return e.get<std::int64_t>();
  corrupt(fmt::format("\"buckets\"[{}]: the {} must be an integer in range", pos, what));
}

// Validated sparse buckets into `counts`; returns their total.
std::int64_t read_buckets(const nlohmann::json& j, std::vector<std::int64_t>& counts) {
  const auto buckets = j.find("buckets");
  if (buckets == j.end() || !buckets->is_array()) corrupt("\"buckets\" must be an array");
  std::int64_t total = 0;
  std::size_t previous = 0;
  for (std::size_t pos = 0; pos < buckets->size(); ++pos) {
    const auto& e = (*buckets)[pos];
    if (!e.is_array() || e.size() != 2) {
      corrupt(fmt::format("\"buckets\"[{}] must be an [index, count] pair", pos));
    }
    const std::int64_t index = read_element(e[0], pos, "index");
    const std::int64_t n = read_element(e[1], pos, "count");
    if (index < static_cast<std::int64_t>(kFirstUsable) ||
        index > static_cast<std::int64_t>(kLastUsable)) {
      corrupt(fmt::format("\"buckets\"[{}]: index {} is outside {}..{}", pos, index, kFirstUsable,
                          kLastUsable));
    }
    const auto at = static_cast<std::size_t>(index);
    if (pos > 0 && at <= previous) {
      corrupt(fmt::format("\"buckets\"[{}]: indices must be strictly increasing", pos));
    }
    if (n < 0) corrupt(fmt::format("\"buckets\"[{}]: negative count {}", pos, n));
    if (__builtin_add_overflow(total, n, &total)) corrupt("bucket counts overflow");
    counts[at] = n;
    previous = at;
  }
  return total;
}

struct Exact {
  std::int64_t count, min, max;
  double sum, sum_sq;
};

// The exact fields must describe the buckets, or percentiles would fall outside [min, max].
void check_consistency(const std::vector<std::int64_t>& counts, const Exact& e) {
  if (e.count == 0) {
    if (e.min != 0 || e.max != 0 || e.sum != 0 || e.sum_sq != 0) {
      corrupt("an empty histogram must have min, max, sum and sum_sq 0");
    }
    return;
  }
  if (e.min < 0 || e.min > e.max) corrupt(fmt::format("min {} and max {} disagree", e.min, e.max));
  std::size_t first = 0;
  while (counts[first] == 0) ++first;
  std::size_t last = counts.size() - 1;
  while (counts[last] == 0) --last;
  if (index_of(clamp_to_range(e.min)) != first || index_of(clamp_to_range(e.max)) != last) {
    corrupt(fmt::format("min {} / max {} do not match the lowest / highest non-empty bucket", e.min,
                        e.max));
  }
  const double n = static_cast<double>(e.count);
  const double lo = n * static_cast<double>(e.min);
  const double hi = n * static_cast<double>(e.max);
  const double slack = 1e-9 * hi + 1.0;  // sums are doubles
  if (e.sum < lo - slack || e.sum > hi + slack) {
    corrupt(fmt::format("sum {} is impossible for {} samples between {} and {}", e.sum, e.count,
                        e.min, e.max));
  }
}

bool nearly_equal(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

}  // namespace

Histogram::Histogram() = default;

std::size_t Histogram::bucket_count() const { return kBucketCount; }

void Histogram::allocate_buckets() {
  if (counts_.empty()) counts_.assign(kBucketCount, 0);
}

void Histogram::record(std::chrono::nanoseconds value) { record_ns(value.count()); }

void Histogram::record_ns(std::int64_t value_ns) {
  // A negative latency can only come from clock adjustments; count it as zero.
  const std::int64_t v = std::max<std::int64_t>(value_ns, 0);
  allocate_buckets();
  ++counts_[index_of(clamp_to_range(v))];
  if (count_ == 0 || v < min_) min_ = v;
  if (count_ == 0 || v > max_) max_ = v;
  ++count_;
  const auto d = static_cast<double>(v);
  sum_ += d;
  sum_sq_ += d * d;
}

void Histogram::add(const Histogram& other) {
  if (other.count_ == 0) return;
  allocate_buckets();
  for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
  sum_sq_ += other.sum_sq_;
}

std::int64_t Histogram::min_ns() const { return min_; }
std::int64_t Histogram::max_ns() const { return max_; }

double Histogram::mean_ns() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }

double Histogram::stddev_ns() const {
  if (count_ == 0) return 0.0;
  const double n = static_cast<double>(count_);
  const double mean = sum_ / n;
  // Rounding can push the variance of near-constant samples slightly below zero.
  return std::sqrt(std::max(0.0, sum_sq_ / n - mean * mean));
}

std::int64_t Histogram::value_at_percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;  // also NaN
  if (p >= 100) return max_;
  // The tiny downward nudge keeps 99.9% of 1000 at rank 999 despite binary rounding.
  const double exact = p / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<std::int64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::clamp<std::int64_t>(rank, 1, count_);
  if (rank == 1) return min_;
  if (rank == count_) return max_;
  std::int64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_midpoint_ns(i), min_, max_);
  }
  return max_;
}

void Histogram::for_each_bucket(const std::function<void(std::int64_t lo_ns, std::int64_t hi_ns,
                                                         std::int64_t count)>& fn) const {
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) fn(bucket_lowest_ns(i), bucket_highest_ns(i), counts_[i]);
  }
}

std::int64_t Histogram::bucket_midpoint_ns(std::size_t index) const {
  return lowest_of(index) + width_of(index) / 2;
}

std::int64_t Histogram::bucket_lowest_ns(std::size_t index) const { return lowest_of(index); }

std::int64_t Histogram::bucket_highest_ns(std::size_t index) const {
  return lowest_of(index) + width_of(index) - 1;
}

std::size_t Histogram::bucket_index(std::int64_t value_ns) const {
  return index_of(clamp_to_range(value_ns));
}

bool Histogram::operator==(const Histogram& other) const {
  // Sums are doubles: adding the same samples in another order may differ in the last bits.
  // Unallocated buckets are all zero.
  const auto same_counts = [&] {
    if (counts_.size() == other.counts_.size()) return counts_ == other.counts_;
    const auto& allocated = counts_.empty() ? other.counts_ : counts_;
    return std::all_of(allocated.begin(), allocated.end(), [](std::int64_t n) { return n == 0; });
  };
  return count_ == other.count_ && min_ == other.min_ && max_ == other.max_ && same_counts() &&
         nearly_equal(sum_, other.sum_) && nearly_equal(sum_sq_, other.sum_sq_);
}

nlohmann::json Histogram::to_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) buckets.push_back({i, counts_[i]});
  }
  return {{"unit", "ns"},          {"lowest", kLowestNs},
          {"highest", kHighestNs}, {"sub_buckets", kSubBucketCount},
          {"count", count_},       {"min", min_},
          {"max", max_},           {"sum", sum_},
          {"sum_sq", sum_sq_},     {"buckets", std::move(buckets)}};
}

Histogram Histogram::from_json(const nlohmann::json& j) {
  if (!j.is_object()) corrupt("expected an object");
  const auto unit = j.find("unit");
  if (unit == j.end() || !unit->is_string() || unit->get<std::string>() != "ns") {
    corrupt("\"unit\" must be \"ns\"");
  }
  expect_int(j, "lowest", kLowestNs);
  expect_int(j, "highest", kHighestNs);
  expect_int(j, "sub_buckets", kSubBucketCount);
  Histogram h;
  h.count_ = read_int(j, "count");
  h.min_ = read_int(j, "min");
  h.max_ = read_int(j, "max");
  h.sum_ = read_number(j, "sum");
  h.sum_sq_ = read_number(j, "sum_sq");
  h.allocate_buckets();
  const std::int64_t total = read_buckets(j, h.counts_);
  if (total != h.count_) {
    corrupt(fmt::format("bucket counts add up to {} but \"count\" is {}", total, h.count_));
  }
  check_consistency(h.counts_, {h.count_, h.min_, h.max_, h.sum_, h.sum_sq_});
  if (h.count_ == 0) h.counts_.clear();
  return h;
}

}  // namespace wslat
