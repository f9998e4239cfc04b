#include <chrono>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "error.hpp"
#include "units.hpp"

using namespace std::chrono_literals;
using wslat::Duration;

namespace {

Duration parse_ok(const std::string& text) {
  std::string error;
  const auto d = wslat::parse_duration(text, &error);
  INFO(text << " -> " << error);
  REQUIRE(d.has_value());
  return *d;
}

std::string duration_error(const std::string& text) {
  std::string error;
  const auto d = wslat::parse_duration(text, &error);
  INFO(text);
  CHECK_FALSE(d.has_value());
  return error;
}

std::string rate_error(const std::string& text) {
  std::string error;
  const auto r = wslat::parse_rate(text, &error);
  INFO(text);
  CHECK_FALSE(r.has_value());
  return error;
}

}  // namespace

TEST_CASE("parse_duration accepts every unit") {
  CHECK(parse_ok("750ns") == 750ns);
  CHECK(parse_ok("500us") == 500us);
  CHECK(parse_ok("250ms") == 250ms);
  CHECK(parse_ok("1.5s") == 1500ms);
  CHECK(parse_ok("2m") == 120s);
  CHECK(parse_ok("1h") == 3600s);
  CHECK(parse_ok("0.25ms") == 250us);
  CHECK(parse_ok(".5s") == 500ms);
  CHECK(parse_ok("0s") == 0ns);
  CHECK(parse_ok(" 3s ") == 3s);
  CHECK(parse_ok("5 ms") == 5ms);
  CHECK(parse_ok("1.234567891s") == 1234567891ns);
}

TEST_CASE("parse_duration rejects a bare number and says which forms work") {
  const std::string error = duration_error("5");
  CHECK(error == "\"5\" is not a duration: give a number with a unit, e.g. 500us, 250ms, 1.5s, 2m");
}

TEST_CASE("parse_duration rejects every malformed class with the accepted forms") {
  for (const std::string bad : {"", "   ", "-5s", "nan", "NaNs", "infs", "5x", "5sec", "1e3ms",
                                "5s junk", "s", "1.5.2s", "+5s", "99999999999h", "1ms5"}) {
    const std::string error = duration_error(bad);
    CAPTURE(bad);
    CHECK(error.find("e.g. 500us, 250ms, 1.5s, 2m") != std::string::npos);
    CHECK(error.find("\"" + bad + "\"") != std::string::npos);
  }
  CHECK(duration_error("-5s").find("negative") != std::string::npos);
  CHECK(duration_error("5x").find("unknown unit \"x\"") != std::string::npos);
  CHECK(duration_error("99999999999h").find("too large") != std::string::npos);
}

TEST_CASE("parse_duration_or_throw names what was being parsed") {
  try {
    wslat::parse_duration_or_throw("5", "--duration");
    FAIL("expected a UsageError");
  } catch (const wslat::UsageError& e) {
    CHECK(std::string(e.what()).rfind("--duration: \"5\" is not a duration", 0) == 0);
    CHECK(e.exit_code() == 64);
  }
}

TEST_CASE("parse_rate accepts counts per unit") {
  CHECK(wslat::parse_rate("20/s")->per_second == doctest::Approx(20));
  CHECK(wslat::parse_rate("1200/m")->per_second == doctest::Approx(20));
  CHECK(wslat::parse_rate("3600/h")->per_second == doctest::Approx(1));
  CHECK(wslat::parse_rate("5/ms")->per_second == doctest::Approx(5000));
  CHECK(wslat::parse_rate("0.5/s")->per_second == doctest::Approx(0.5));
}

TEST_CASE("parse_rate rejects bare numbers, zero, negatives and junk with the accepted forms") {
  CHECK(rate_error("20") ==
        "\"20\" is not a rate: give a count per unit, e.g. 20/s, 1200/m, 3600/h");
  for (const std::string bad : {"", "0/s", "-1/s", "20/x", "20s", "20/s/s", "nan/s", "/s"}) {
    CAPTURE(bad);
    CHECK(rate_error(bad).find("e.g. 20/s, 1200/m, 3600/h") != std::string::npos);
  }
  CHECK_THROWS_AS(wslat::parse_rate_or_throw("20", "--rate"), wslat::UsageError);
}

TEST_CASE("parse_rate and parse_duration say that exponent notation is not accepted") {
  // Was: expected "/" and a unit after the count.
  CHECK(rate_error("1e9/s") ==
        "\"1e9/s\" is not a rate: exponent notation is not accepted: write 1e9 as 1000000000; "
        "give a count per unit, e.g. 20/s, 1200/m, 3600/h");
  CHECK(rate_error("2.5E+3/m").find("write 2.5E+3 as 2500") != std::string::npos);
  CHECK(duration_error("1e3ms").find("exponent notation is not accepted: write 1e3 as 1000") !=
        std::string::npos);
  CHECK(rate_error("1e-3/s").find("exponent notation is not accepted: write the number in full") !=
        std::string::npos);
}

TEST_CASE("format_duration picks the largest unit and trims to 3 decimals") {
  CHECK(wslat::format_duration(1500ms) == "1.5s");
  CHECK(wslat::format_duration(250ms) == "250ms");
  CHECK(wslat::format_duration(812us) == "812us");
  CHECK(wslat::format_duration(1234us) == "1.234ms");
  CHECK(wslat::format_duration(120s) == "2m");
  CHECK(wslat::format_duration(2h) == "2h");
  CHECK(wslat::format_duration(999ns) == "999ns");
  CHECK(wslat::format_duration(0ns) == "0ns");
  CHECK(wslat::format_duration(1234567ns) == "1.235ms");
  // Rounding up to the next unit shows the next unit, not "1000ms".
  CHECK(wslat::format_duration(999999900ns) == "1s");
}

TEST_CASE("format_ms formats millisecond figures from results") {
  CHECK(wslat::format_ms(0.412) == "412us");
  CHECK(wslat::format_ms(1500) == "1.5s");
  CHECK(wslat::format_ms(0.5) == "500us");
  CHECK(wslat::format_ms(3.25) == "3.25ms");
}

TEST_CASE("format_rate") {
  CHECK(wslat::format_rate({20}) == "20/s");
  CHECK(wslat::format_rate({0.5}) == "30/m");
  CHECK(wslat::format_rate({1.0 / 3600}) == "1/h");
}

TEST_CASE("formatted durations parse back to the same value within the shown precision") {
  const std::vector<Duration> samples{
      Duration(1), 999ns, 1us, 1500us, 250ms, 812us, 1500ms, 59s, 90s, 2h, Duration(123456789)};
  for (const Duration d : samples) {
    const std::string text = wslat::format_duration(d);
    const Duration back = parse_ok(text);
    CAPTURE(text);
    // 3 decimals in the largest fitting unit: at most 0.05% away.
    CHECK(std::abs(static_cast<double>((back - d).count())) <=
          static_cast<double>(d.count()) * 5e-4);
  }
  for (const char* text : {"20/s", "1200/m", "3600/h"}) {
    const auto r = wslat::parse_rate(text);
    REQUIRE(r);
    CHECK(wslat::parse_rate(wslat::format_rate(*r))->per_second == doctest::Approx(r->per_second));
  }
}

TEST_CASE("format_ms keeps 4 significant digits of a measured figure") {
  CHECK(wslat::format_ms(0.363543) == "363.5us");
  CHECK(wslat::format_ms(1.0614) == "1.061ms");
  CHECK(wslat::format_ms(14.909) == "14.91ms");
  CHECK(wslat::format_ms(1234.5) == "1.235s");
  CHECK(wslat::format_ms(0.0512) == "51.2us");
}
