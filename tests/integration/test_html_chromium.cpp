// `wslat report` end to end, and the HTML report rendered by a real browser: a stored result
// goes through the binary to an .html file that headless Chromium must draw as a page full
// of tables and charts (not an error page, not a blank one).
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "../unit/report_fixture.hpp"
#include "harness.hpp"

namespace {

using wslat::test::read_file;
using wslat::test::run_process;
using wslat::test::run_wslat;

std::string fixture_result_file() {
  return wslat::test::write_temp_file("report-fixture.json",
                                      wslat::to_json(wslat::test::fixture_result()).dump(2));
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

struct PngInfo {
  bool valid = false;
  std::uint32_t width = 0, height = 0;
  std::size_t idat_bytes = 0;  // compressed image data: tiny for a blank page
};

// Walks the PNG chunks (signature, IHDR, IDAT...) without decoding the pixels.
PngInfo inspect_png(const std::string& png) {
  PngInfo info;
  if (png.size() < 33 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return info;
  if (png.compare(12, 4, "IHDR") != 0) return info;
  info.width = be32(png, 16);
  info.height = be32(png, 20);
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IDAT") info.idat_bytes += len;
    if (type == "IEND") info.valid = true;
    at += 12 + static_cast<std::size_t>(len);
  }
  return info;
}

// Headless Chromium's 1200x1600 screenshot of `html` into `png`.
PngInfo screenshot(const std::string& chromium, const std::string& html, const std::string& png) {
  const auto shot = run_process(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--user-data-dir=" + wslat::test::fresh_temp_dir("chromium-profile"), "--screenshot=" + png,
       "--window-size=1200,1600", "file://" + html},
      std::chrono::seconds(100));
  INFO("chromium stderr: " << shot.err);
  REQUIRE_FALSE(shot.timed_out);
  return inspect_png(read_file(png));
}

}  // namespace

TEST_CASE("report re-renders a stored result in every format") {
  const std::string result = fixture_result_file();
  const auto text = run_wslat({"report", result});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("verdict: FAIL (exit 1)") != std::string::npos);
  const auto md = run_wslat({"report", result, "--format", "markdown"});
  CHECK(md.exit_code == 0);
  CHECK(md.out.rfind("## ❌ wslat: chat-golden-path", 0) == 0);
  const std::string junit_file = wslat::test::temp_dir() + "/report.junit.xml";
  const auto junit = run_wslat({"report", result, "--format", "junit", "-o", junit_file});
  CHECK(junit.exit_code == 0);
  CHECK(junit.out.empty());
  // 2 thresholds, 3 compared metrics, errors, and the fixture's warnings.
  CHECK(read_file(junit_file).find("tests=\"7\" failures=\"2\"") != std::string::npos);
  const auto json = run_wslat({"report", result, "--format", "json"});
  CHECK(json.exit_code == 0);
  CHECK(nlohmann::json::parse(json.out) == nlohmann::json::parse(read_file(result)));
}

TEST_CASE("report refuses a missing or foreign file with a usage error naming it") {
  const std::string missing = wslat::test::temp_dir() + "/no-such-result.json";
  const auto a = run_wslat({"report", missing});
  CHECK(a.exit_code == 64);
  CHECK(a.err.find(missing) != std::string::npos);
  const std::string foreign = wslat::test::write_temp_file("foreign.json", R"({"schema": "x"})");
  const auto b = run_wslat({"report", foreign, "--format", "html"});
  CHECK(b.exit_code == 64);
  CHECK(b.err.find(foreign) != std::string::npos);
  CHECK(b.err.find("/schema") != std::string::npos);
  const auto c = run_wslat({"report", fixture_result_file(), "--format", "pdf"});
  CHECK(c.exit_code == 64);
  CHECK(c.err.find("text, json, junit, markdown, html") != std::string::npos);
}

TEST_CASE("html report renders in headless Chromium as a full page" * doctest::test_suite("peer")) {
  const std::string chromium = "/usr/bin/chromium";
  if (::access(chromium.c_str(), X_OK) != 0) {
    MESSAGE("skipped: " << chromium << " is not installed");
    return;
  }
  const std::string dir = wslat::test::fresh_temp_dir("html");
  const std::string html = dir + "/out.html";
  const auto rendered =
      run_wslat({"report", fixture_result_file(), "--format", "html", "-o", html});
  REQUIRE(rendered.exit_code == 0);
  const std::string page = read_file(html);
  CHECK(page.find("<svg") != std::string::npos);

  const PngInfo info = screenshot(chromium, html, dir + "/shot.png");
  REQUIRE(info.valid);
  CHECK(info.width == 1200);
  CHECK(info.height == 1600);
  // Measured: a blank 1200x1600 page compresses to ~9 KB, a heading and one line of text to
  // ~13 KB; this report's tables and charts to ~180 KB.
  CHECK(info.idat_bytes > 60 * 1024);
}

TEST_CASE("html report of a chat-room run renders its fan-out picture in headless Chromium" *
          doctest::test_suite("peer")) {
  const std::string chromium = "/usr/bin/chromium";
  if (::access(chromium.c_str(), X_OK) != 0) {
    MESSAGE("skipped: " << chromium << " is not installed");
    return;
  }
  const std::string dir = wslat::test::fresh_temp_dir("html-rooms");
  const std::string result = wslat::test::write_temp_file(
      "rooms-fixture.json", wslat::to_json(wslat::test::rooms_fixture_result()).dump(2));
  const std::string html = dir + "/rooms.html";
  REQUIRE(run_wslat({"report", result, "--format", "html", "-o", html}).exit_code == 0);
  CHECK(read_file(html).find("fan-out: how long until 50%, 90%, 100%") != std::string::npos);
  // The page top: overview, phases, counters, then the rooms section with its picture.
  const PngInfo info = screenshot(chromium, html, dir + "/rooms.png");
  REQUIRE(info.valid);
  CHECK(info.idat_bytes > 60 * 1024);
}
