#include "stats.hpp"

#include <charconv>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace wslat {
namespace {

constexpr double kNsPerMs = 1e6;

double ms(std::int64_t ns) { return static_cast<double>(ns) / kNsPerMs; }

double percentile_ms(const Histogram& h, double p) { return ms(h.value_at_percentile(p)); }

// "p95", "p99.9", "p(99.5)" -> the percentile, or nullopt when `stat` is not of that form.
std::optional<double> percentile_of(std::string_view stat) {
  if (stat.size() < 2 || stat.front() != 'p') return std::nullopt;
  std::string_view number = stat.substr(1);
  if (number.front() == '(') {
    if (number.back() != ')') return std::nullopt;
    number = number.substr(1, number.size() - 2);
  }
  if (number.empty() || number.front() < '0' || number.front() > '9') return std::nullopt;
  double p = 0;
  const auto res =
      std::from_chars(number.data(), number.data() + number.size(), p, std::chars_format::fixed);
  if (res.ec != std::errc() || res.ptr != number.data() + number.size()) return std::nullopt;
  if (!(p >= 0 && p <= 100)) return std::nullopt;
  return p;
}

double normal_upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

}  // namespace

Summary summarize(const Histogram& h) {
  Summary s;
  s.count = h.count();
  if (h.empty()) return s;
  s.min = ms(h.min_ns());
  s.max = ms(h.max_ns());
  s.mean = h.mean_ns() / kNsPerMs;
  s.stddev = h.stddev_ns() / kNsPerMs;
  s.p50 = percentile_ms(h, 50);
  s.p90 = percentile_ms(h, 90);
  s.p95 = percentile_ms(h, 95);
  s.p99 = percentile_ms(h, 99);
  s.p999 = percentile_ms(h, 99.9);
  return s;
}

double statistic_ms(const Histogram& h, const std::string& stat) {
  if (stat == "min") return ms(h.min_ns());
  if (stat == "max") return ms(h.max_ns());
  if (stat == "mean" || stat == "avg") return h.mean_ns() / kNsPerMs;
  if (stat == "med") return percentile_ms(h, 50);
  if (const auto p = percentile_of(stat)) return percentile_ms(h, *p);
  throw std::invalid_argument("unknown statistic \"" + stat +
                              "\" (known: min mean avg med p50 p90 p95 p99 p99.9 max p(N))");
}

MannWhitney mann_whitney(const Histogram& current, const Histogram& baseline) {
  MannWhitney r;
  const double n1 = static_cast<double>(current.count());
  const double n2 = static_cast<double>(baseline.count());
  r.enough_samples = current.count() >= 8 && baseline.count() >= 8;
  if (n1 == 0 || n2 == 0) return r;

  // Ranks over the merged buckets in value order; a bucket's samples share its average rank.
  double rank_sum = 0;  // of `current`
  double ranks_below = 0;
  double tie_term = 0;  // sum of t^3 - t over tie groups
  for (std::size_t i = 0; i < current.bucket_count(); ++i) {
    const auto c1 = static_cast<double>(current.count_at(i));
    const auto t = c1 + static_cast<double>(baseline.count_at(i));
    if (t == 0) continue;
    rank_sum += c1 * (ranks_below + (t + 1) / 2);
    ranks_below += t;
    tie_term += t * t * t - t;
  }
  r.u = rank_sum - n1 * (n1 + 1) / 2;

  const double n = n1 + n2;
  const double variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (!(variance > 0)) return r;  // every sample tied: no evidence either way
  const double sd = std::sqrt(variance);
  const double diff = r.u - n1 * n2 / 2;
  // U is discrete: the usual continuity correction (as in scipy) moves it 1/2 toward the mean.
  r.z = std::copysign(std::max(0.0, std::fabs(diff) - 0.5), diff) / sd;
  r.p_greater = normal_upper_tail((diff - 0.5) / sd);
  r.p_two_sided = std::min(1.0, 2 * normal_upper_tail(std::fabs(r.z)));
  return r;
}

}  // namespace wslat
