#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "histogram.hpp"

using wslat::Histogram;

namespace {

// The sample at rank ceil(p/100 * n) of the sorted values (1-based), as the header defines.
std::int64_t oracle_percentile(const std::vector<std::int64_t>& sorted, double p) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

Histogram record_all(const std::vector<std::int64_t>& values) {
  Histogram h;
  for (const auto v : values) h.record_ns(v);
  return h;
}

// Percentiles of an in-range distribution within 1% of the exact sample (the README's promise).
void check_percentiles(std::vector<std::int64_t> values) {
  const Histogram h = record_all(values);
  std::sort(values.begin(), values.end());
  for (const double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    const auto expected = static_cast<double>(oracle_percentile(values, p));
    const auto got = static_cast<double>(h.value_at_percentile(p));
    CAPTURE(p);
    CHECK(std::fabs(got - expected) <= expected * 0.01);
  }
  CHECK(h.value_at_percentile(0) == values.front());
  CHECK(h.value_at_percentile(100) == values.back());
}

std::vector<std::int64_t> draw(std::size_t n, const std::function<double(std::mt19937_64&)>& f) {
  std::mt19937_64 rng(42);
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = std::clamp(f(rng), 1e3, 3.6e12);
    out.push_back(static_cast<std::int64_t>(v));
  }
  return out;
}

}  // namespace

TEST_CASE("histogram percentiles stay within 1% of a sorted-vector oracle") {
  SUBCASE("uniform 100us..5ms") {
    check_percentiles(draw(20000, [](std::mt19937_64& r) {
      return std::uniform_real_distribution<double>(1e5, 5e6)(r);
    }));
  }
  SUBCASE("lognormal around 0.5ms") {
    check_percentiles(draw(50000, [](std::mt19937_64& r) {
      return std::lognormal_distribution<double>(std::log(5e5), 0.8)(r);
    }));
  }
  SUBCASE("heavy tail (Pareto, alpha 1.1) from 200us") {
    check_percentiles(draw(50000, [](std::mt19937_64& r) {
      const double u = std::uniform_real_distribution<double>(0.0, 1.0)(r);
      return 2e5 / std::pow(1.0 - u, 1.0 / 1.1);
    }));
  }
  SUBCASE("bimodal: fast path and 85s outliers") {
    check_percentiles(draw(10000, [](std::mt19937_64& r) {
      const bool slow = std::uniform_int_distribution<int>(0, 99)(r) == 0;
      return slow ? 85e9 : std::normal_distribution<double>(7e5, 5e4)(r);
    }));
  }
  SUBCASE("small counts") {
    check_percentiles({1'500'000});
    check_percentiles({3'000'000, 1'000'000});
    check_percentiles({5'000, 6'000, 7'000, 8'000, 9'000});
  }
}

TEST_CASE("every in-range bucket is narrower than 1/128 of its values") {
  const Histogram h;
  for (std::int64_t v = Histogram::kLowestNs; v <= Histogram::kHighestNs; v = v * 3 / 2 + 7) {
    const std::size_t i = h.bucket_index(v);
    CAPTURE(v);
    CHECK(h.bucket_lowest_ns(i) <= v);
    CHECK(v <= h.bucket_highest_ns(i));
    CHECK(static_cast<double>(h.bucket_highest_ns(i) - h.bucket_lowest_ns(i) + 1) <=
          static_cast<double>(h.bucket_lowest_ns(i)) / 128.0);
    if (i + 1 < h.bucket_count()) CHECK(h.bucket_lowest_ns(i + 1) == h.bucket_highest_ns(i) + 1);
  }
}

TEST_CASE("min, max, mean and stddev are exact") {
  const std::vector<std::int64_t> values{1'200'000, 1'300'000, 2'000'000, 400'000, 9'999'999};
  const Histogram h = record_all(values);
  double sum = 0;
  for (auto v : values) sum += static_cast<double>(v);
  const double mean = sum / 5;
  double var = 0;
  for (auto v : values) var += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
  CHECK(h.count() == 5);
  CHECK(h.min_ns() == 400'000);
  CHECK(h.max_ns() == 9'999'999);
  CHECK(h.mean_ns() == doctest::Approx(mean).epsilon(1e-12));
  CHECK(h.stddev_ns() == doctest::Approx(std::sqrt(var / 5)).epsilon(1e-9));
}

TEST_CASE("out-of-range values clamp into the end buckets but keep exact min/max/mean") {
  Histogram h;
  h.record_ns(10);                 // 10 ns: below 1 us
  h.record_ns(7'200'000'000'000);  // 2 h: above 1 h
  CHECK(h.min_ns() == 10);
  CHECK(h.max_ns() == 7'200'000'000'000);
  CHECK(h.mean_ns() == doctest::Approx((10.0 + 7.2e12) / 2));
  CHECK(h.bucket_index(10) == h.bucket_index(Histogram::kLowestNs));
  CHECK(h.bucket_index(7'200'000'000'000) == h.bucket_index(Histogram::kHighestNs));
  CHECK(h.value_at_percentile(0) == 10);
  CHECK(h.value_at_percentile(100) == 7'200'000'000'000);
  int buckets = 0;
  h.for_each_bucket([&](std::int64_t, std::int64_t, std::int64_t n) { buckets += n > 0; });
  CHECK(buckets == 2);
}

TEST_CASE("an empty histogram reports zeros") {
  const Histogram h;
  CHECK(h.empty());
  CHECK(h.value_at_percentile(50) == 0);
  CHECK(h.mean_ns() == 0);
  CHECK(h.stddev_ns() == 0);
}

TEST_CASE("add() is the same as recording every sample into one histogram") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(8e5), 1.0);
  Histogram a, b, all;
  for (int i = 0; i < 5000; ++i) {
    const auto v = static_cast<std::int64_t>(dist(rng));
    (i % 3 == 0 ? a : b).record_ns(v);
    all.record_ns(v);
  }
  Histogram merged = a;
  merged.add(b);
  CHECK(merged == all);
  CHECK(merged.count() == 5000);
  for (const double p : {50.0, 95.0, 99.9}) {
    CHECK(merged.value_at_percentile(p) == all.value_at_percentile(p));
  }
  Histogram empty;
  empty.add(all);
  CHECK(empty == all);
  all.add(Histogram());
  CHECK(empty == all);
}

TEST_CASE("JSON round trip keeps every bucket and exact figure") {
  Histogram h;
  for (std::int64_t v = 1'000; v < 50'000'000; v = v * 11 / 10 + 3) h.record_ns(v);
  const nlohmann::json j = h.to_json();
  CHECK(j["unit"] == "ns");
  CHECK(j["sub_buckets"] == 256);
  CHECK(j["count"] == h.count());
  const Histogram back = Histogram::from_json(nlohmann::json::parse(j.dump()));
  CHECK(back == h);
  CHECK(back.value_at_percentile(99) == h.value_at_percentile(99));
  CHECK(Histogram::from_json(Histogram().to_json()) == Histogram());
}

TEST_CASE("from_json rejects corrupt input with a clear message") {
  Histogram h;
  h.record_ns(1'000'000);
  h.record_ns(2'000'000);
  const nlohmann::json good = h.to_json();
  const auto rejects = [](const nlohmann::json& j, const std::string& needle) {
    CAPTURE(j.dump());
    try {
      Histogram::from_json(j);
      FAIL("accepted corrupt histogram");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  const auto with = [&](const char* key, const nlohmann::json& v) {
    nlohmann::json j = good;
    j[key] = v;
    return j;
  };
  rejects(nlohmann::json::array(), "expected an object");
  rejects(with("unit", "us"), "\"unit\"");
  rejects(with("sub_buckets", 128), "incompatible layout");
  rejects(with("lowest", 1), "incompatible layout");
  rejects(with("count", 3), "add up to 2");
  rejects(with("count", "2"), "must be an integer");
  rejects(with("count", 2.5), "must be an integer");
  rejects(with("sum", -1), "\"sum\"");
  rejects(with("sum", 1e30), "impossible");
  rejects(with("min", 3'000'000), "disagree");
  rejects(with("min", 1'500'000), "lowest / highest");
  rejects(with("buckets", "x"), "must be an array");
  rejects(with("buckets", nlohmann::json::parse("[[1]]")), "pair");
  rejects(with("buckets", nlohmann::json::parse("[[99999, 2]]")), "outside");
  rejects(with("buckets", nlohmann::json::parse("[[-1, 2]]")), "outside");
  rejects(with("buckets", nlohmann::json::parse("[[1000, -2]]")), "negative count");
  rejects(with("buckets", nlohmann::json::parse("[[1000, 1], [1000, 1]]")), "increasing");
  rejects(with("buckets", nlohmann::json::parse("[[1000, 1.5]]")), "integer");
  rejects(with("buckets",
               nlohmann::json::parse("[[1000, 9223372036854775807], [1001, 9223372036854775807]]")),
          "overflow");
  rejects(with("buckets", nlohmann::json::parse("[[1000, 18446744073709551615]]")), "integer");
  nlohmann::json missing = good;
  missing.erase("max");
  rejects(missing, "missing \"max\"");
}

// Buckets are allocated at the first sample; an empty histogram must behave as all zeros.
TEST_CASE("a histogram without samples has every bucket at zero and equals one that had none") {
  const wslat::Histogram empty;
  CHECK(empty.bucket_count() > 1000);
  CHECK(empty.count_at(0) == 0);
  CHECK(empty.count_at(empty.bucket_count() - 1) == 0);
  CHECK(empty.value_at_percentile(50) == 0);
  CHECK(wslat::Histogram::from_json(empty.to_json()) == empty);
  wslat::Histogram merged;
  merged.add(empty);
  CHECK(merged == empty);
  wslat::Histogram one;
  one.record_ns(5'000'000);
  merged.add(one);
  CHECK(merged == one);
  CHECK(merged.count_at(merged.bucket_index(5'000'000)) == 1);
  CHECK_FALSE(one == empty);
  CHECK(wslat::Histogram::from_json(one.to_json()) == one);
}
