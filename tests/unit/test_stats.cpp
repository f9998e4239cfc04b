#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include "histogram.hpp"
#include "stats.hpp"

using wslat::Histogram;

namespace {

// Milliseconds -> a histogram (every value given lands in its own bucket unless equal).
Histogram of_ms(const std::vector<double>& values_ms) {
  Histogram h;
  for (const double v : values_ms) h.record_ns(static_cast<std::int64_t>(std::llround(v * 1e6)));
  return h;
}

std::vector<double> range_ms(double first, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(first + i);
  return out;
}

}  // namespace

TEST_CASE("summarize reports exact min/max/mean/stddev and bucket-precise percentiles in ms") {
  // 1..100 ms: p50 is the 50th sample, p95 the 95th, p99.9 rounds up to the 100th.
  const Histogram h = of_ms(range_ms(1, 100));
  const wslat::Summary s = wslat::summarize(h);
  CHECK(s.count == 100);
  CHECK(s.min == 1.0);
  CHECK(s.max == 100.0);
  CHECK(s.mean == doctest::Approx(50.5).epsilon(1e-12));
  CHECK(s.stddev == doctest::Approx(std::sqrt((100.0 * 100.0 - 1) / 12)).epsilon(1e-9));
  CHECK(s.p50 == doctest::Approx(50).epsilon(0.01));
  CHECK(s.p90 == doctest::Approx(90).epsilon(0.01));
  CHECK(s.p95 == doctest::Approx(95).epsilon(0.01));
  CHECK(s.p99 == doctest::Approx(99).epsilon(0.01));
  CHECK(s.p999 == 100.0);
}

TEST_CASE("summarize of an empty histogram is all zeros") {
  const wslat::Summary s = wslat::summarize(Histogram());
  CHECK(s.count == 0);
  CHECK(s.p95 == 0);
  CHECK(s.max == 0);
}

TEST_CASE("statistic_ms knows every statistic name thresholds use") {
  const Histogram h = of_ms(range_ms(1, 1000));
  CHECK(wslat::statistic_ms(h, "min") == 1.0);
  CHECK(wslat::statistic_ms(h, "max") == 1000.0);
  CHECK(wslat::statistic_ms(h, "mean") == doctest::Approx(500.5));
  CHECK(wslat::statistic_ms(h, "avg") == doctest::Approx(500.5));
  CHECK(wslat::statistic_ms(h, "med") == doctest::Approx(500).epsilon(0.01));
  CHECK(wslat::statistic_ms(h, "p50") == doctest::Approx(500).epsilon(0.01));
  CHECK(wslat::statistic_ms(h, "p90") == doctest::Approx(900).epsilon(0.01));
  CHECK(wslat::statistic_ms(h, "p99.9") == doctest::Approx(999).epsilon(0.01));
  CHECK(wslat::statistic_ms(h, "p(99.5)") == doctest::Approx(995).epsilon(0.01));
  CHECK(wslat::statistic_ms(h, "p(100)") == 1000.0);
  CHECK(wslat::statistic_ms(h, "p(0)") == 1.0);
  for (const char* bad : {"p", "p()", "p(101)", "p(-1)", "p(50", "median", "P95", "p95x", ""}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(wslat::statistic_ms(h, bad), std::invalid_argument);
  }
}

TEST_CASE("Mann-Whitney U on small samples computed by hand") {
  SUBCASE("current entirely slower: U = n1*n2") {
    const auto r = wslat::mann_whitney(of_ms({4, 5, 6}), of_ms({1, 2, 3}));
    CHECK(r.u == 9);
    CHECK(r.z == doctest::Approx(1.7457431218879391));
    CHECK(r.p_greater == doctest::Approx(0.04042779918502615));
    CHECK(r.p_two_sided == doctest::Approx(0.0808555983700523));
    CHECK_FALSE(r.enough_samples);
  }
  SUBCASE("ties share the average rank and count 1/2 in U") {
    // Pairs current > baseline: 3 > 2 (1), plus ties 2=2 (x2) and 3=3 (x2), each 1/2: U = 3.
    const auto r = wslat::mann_whitney(of_ms({1, 2, 2, 3}), of_ms({2, 3, 3, 4}));
    CHECK(r.u == 3);
    CHECK(r.z == doctest::Approx(-1.365698202000489));
    CHECK(r.p_greater == doctest::Approx(0.9524598065992065));
    CHECK(r.p_two_sided == doctest::Approx(0.17203370892182296));
  }
  SUBCASE("values in one bucket are ties") {
    const auto r = wslat::mann_whitney(of_ms({1.0001}), of_ms({1.0}));
    CHECK(r.u == 0.5);
  }
}

TEST_CASE("Mann-Whitney normal approximation on 20 vs 20") {
  const Histogram baseline = of_ms(range_ms(1, 20));
  SUBCASE("interleaved: not significant") {
    const auto r = wslat::mann_whitney(of_ms(range_ms(1.5, 20)), baseline);
    CHECK(r.u == 210);
    CHECK(r.p_greater == doctest::Approx(0.3985987096345874));
    CHECK(r.enough_samples);
  }
  SUBCASE("shifted by 10ms: significant") {
    const auto r = wslat::mann_whitney(of_ms(range_ms(11.5, 20)), baseline);
    CHECK(r.u == 355);
    CHECK(r.z == doctest::Approx(4.1792387566835485));
    CHECK(r.p_greater == doctest::Approx(1.4624324663684506e-05));
    CHECK(r.p_two_sided == doctest::Approx(2.9248649327369012e-05));
  }
}

TEST_CASE("Mann-Whitney: same distribution is not flagged, a 5% shift is") {
  std::mt19937_64 rng(1234);
  std::lognormal_distribution<double> dist(std::log(5e5), 0.3);
  Histogram a, b, slower;
  for (int i = 0; i < 2000; ++i) {
    a.record_ns(static_cast<std::int64_t>(dist(rng)));
    b.record_ns(static_cast<std::int64_t>(dist(rng)));
    slower.record_ns(static_cast<std::int64_t>(dist(rng) * 1.05));
  }
  const auto same = wslat::mann_whitney(a, b);
  CHECK(same.p_greater > 0.01);
  CHECK(same.p_two_sided > 0.01);
  const auto shifted = wslat::mann_whitney(slower, a);
  CHECK(shifted.z > 0);
  CHECK(shifted.p_greater < 0.01);
  const auto reversed = wslat::mann_whitney(a, slower);
  CHECK(reversed.z < 0);
  CHECK(reversed.p_greater > 0.99);
}

TEST_CASE("Mann-Whitney degenerate inputs give no evidence") {
  CHECK(wslat::mann_whitney(Histogram(), of_ms({1, 2})).p_greater == 1);
  const auto all_tied =
      wslat::mann_whitney(of_ms({1, 1, 1, 1, 1, 1, 1, 1}), of_ms({1, 1, 1, 1, 1, 1, 1, 1}));
  CHECK(all_tied.enough_samples);
  CHECK(all_tied.p_greater == 1);
  CHECK(all_tied.p_two_sided == 1);
}
