// Reporters against golden files rendered from one fixed RunResult (report_fixture.hpp).
// To accept a deliberate change of wording or layout, run the unit tests once with
// WSLAT_UPDATE_GOLDEN=1 and review the diff of tests/unit/golden/.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "error.hpp"
#include "report.hpp"
#include "report_fixture.hpp"
#include "units.hpp"

namespace {

using wslat::test::fixture_result;

std::string golden_path(const std::string& name) {
  return std::string(WSLAT_SOURCE_DIR) + "/tests/unit/golden/" + name;
}

void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = golden_path(name);
  const char* update = std::getenv("WSLAT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    MESSAGE("updated " << path);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path << " (run with WSLAT_UPDATE_GOLDEN=1)");
  std::stringstream expected;
  expected << in.rdbuf();
  // Compare line by line first so a failure points at the first differing line.
  std::istringstream a(actual), e(expected.str());
  std::string al, el;
  int line = 1;
  while (std::getline(e, el)) {
    const bool more = static_cast<bool>(std::getline(a, al));
    INFO(name << " line " << line);
    REQUIRE(more);
    CHECK(al == el);
    ++line;
  }
  CHECK(actual == expected.str());
}

int count_of(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("text report matches the golden rendering without colour") {
  const std::string out = wslat::render_text(fixture_result(), {});
  check_golden("report.txt", out);
  CHECK(out.find('\x1b') == std::string::npos);
}

TEST_CASE("text report colours only when asked") {
  const std::string out = wslat::render_text(fixture_result(), {true});
  CHECK(out.find("\x1b[31m✗\x1b[0m") != std::string::npos);
  CHECK(out.find("\x1b[32m✓\x1b[0m") != std::string::npos);
}

TEST_CASE("text report states the verdict, every exit reason and the profile") {
  const std::string out = wslat::render_text(fixture_result(), {});
  // How many thresholds failed, and each reason's exit code said as one ("threshold breached
  // (1)" read as one breached threshold whatever the count).
  CHECK(out.find("verdict: FAIL (exit 1): 1 of 2 thresholds breached (exit 1), regression "
                 "against the baseline (exit 2)") != std::string::npos);
  auto three = fixture_result();
  for (auto& t : three.thresholds) t.pass = false;
  three.thresholds.push_back(three.thresholds.front());
  CHECK(wslat::render_text(three, {}).find("3 of 3 thresholds breached (exit 1)") !=
        std::string::npos);
  CHECK(out.find("local (x0.3, margin 0%, chosen by default)") != std::string::npos);
  CHECK(out.find("✗  e2e p95 < 1s") != std::string::npos);
}

TEST_CASE("markdown report matches the golden rendering") {
  check_golden("report.md", wslat::render_markdown(fixture_result()));
}

TEST_CASE("junit report matches the golden rendering") {
  check_golden("report.junit.xml", wslat::render_junit(fixture_result()));
}

TEST_CASE("junit counts tests, failures and skipped cases") {
  const std::string xml = wslat::render_junit(fixture_result());
  // 2 thresholds + 3 compared metrics + errors + warnings = 7; the failing threshold and the
  // regressed metric fail; the inconclusive metric is skipped.
  std::smatch m;
  const std::regex counts(
      "<testsuite name=\"[^\"]*\" tests=\"(\\d+)\" failures=\"(\\d+)\" "
      "errors=\"(\\d+)\" skipped=\"(\\d+)\" time=\"([0-9.]+)\"");
  REQUIRE(std::regex_search(xml, m, counts));
  CHECK(m[1] == "7");
  CHECK(m[2] == "2");
  CHECK(m[3] == "0");
  CHECK(m[4] == "1");
  CHECK(std::stod(m[5]) == doctest::Approx(1.2345).epsilon(0.001));
  CHECK(count_of(xml, "<testcase ") == 7);
  CHECK(count_of(xml, "<failure ") == 2);
  CHECK(count_of(xml, "<skipped ") == 1);
  CHECK(xml.find("name=\"threshold: e2e p95 &lt; 1s\"") != std::string::npos);
  CHECK(xml.find("classname=\"wslat.regression.chat-golden-path\"") != std::string::npos);
}

// The warnings the text, markdown and HTML reports show (e.g. "server selected no subprotocol")
// were missing from JUnit: a passing test case carries them in <system-out>, what CI viewers
// show of a passed test, and a property counts them.
TEST_CASE("junit shows every warning the other reports show") {
  auto r = fixture_result();
  r.warnings.push_back("the server selected no subprotocol in 10 of 10 upgrades <offered: chat>");
  const std::string xml = wslat::render_junit(r);
  const std::string text = wslat::render_text(r, {});
  const auto warnings = wslat::all_warnings(r);
  REQUIRE(warnings.size() == 3);
  for (const auto& w : warnings) CHECK(text.find(w) != std::string::npos);
  CHECK(xml.find("<testcase name=\"warnings: 3\" classname=\"wslat.warnings.chat-golden-path\"") !=
        std::string::npos);
  CHECK(xml.find("warning: the server selected no subprotocol in 10 of 10 upgrades &lt;offered: "
                 "chat&gt;\n") != std::string::npos);
  CHECK(xml.find("warning: baseline was recorded with profile staging") != std::string::npos);
  CHECK(xml.find("<property name=\"warnings\" value=\"3\"/>") != std::string::npos);
  // No warnings: no case, nothing to see.
  r.warnings.clear();
  r.comparison.reset();
  CHECK(xml.find("warnings: ") != std::string::npos);
  CHECK(wslat::render_junit(r).find("wslat.warnings.") == std::string::npos);
}

// A passing run (only handshake gated) whose info metrics moved: no report may fail them.
TEST_CASE("an info metric that moved fails no report: junit, markdown, html, text") {
  wslat::RunResult r = fixture_result();
  REQUIRE(r.comparison);
  r.comparison->regressed = false;
  for (auto& m : r.comparison->metrics) {
    m.gated = m.metric == "handshake";
    if (!m.gated)
      m.verdict = "slower";
    else
      m.verdict = "unchanged";
  }
  const std::string xml = wslat::render_junit(r);
  // The failing threshold of the fixture is its only failure.
  CHECK(count_of(xml, "<failure ") == 1);
  CHECK(xml.find("(info, not gated)") != std::string::npos);
  CHECK(count_of(xml, "<skipped ") == 0);
  const std::string md = wslat::render_markdown(r);
  CHECK(md.find("regressed") == std::string::npos);
  CHECK(md.find("slower") != std::string::npos);
  const std::string html = wslat::render_html(r);
  CHECK(html.find(">regressed<") == std::string::npos);
}

TEST_CASE("junit escapes hostile names and reports an all-failed run as an error") {
  wslat::RunResult r = fixture_result();
  r.scenario_name = "a<b>&\"c'\x01";
  r.opened = 0;
  wslat::decide_verdict(r);
  const std::string xml = wslat::render_junit(r);
  CHECK(xml.find("name=\"wslat: a&lt;b&gt;&amp;&quot;c&apos;\xEF\xBF\xBD\"") != std::string::npos);
  CHECK(xml.find("a<b>") == std::string::npos);
  CHECK(xml.find('\x01') == std::string::npos);
  CHECK(count_of(xml, "<error ") == 1);
  CHECK(xml.find("errors=\"1\"") != std::string::npos);
}

TEST_CASE("markdown report escapes table-breaking and HTML characters") {
  wslat::RunResult r = fixture_result();
  r.scenario_name = "x|y <img src=x>";
  r.error_examples["http.502"] = "line1\nline2 | pipe";
  const std::string md = wslat::render_markdown(r);
  CHECK(md.find("## ❌ wslat: x\\|y &lt;img src=x&gt;") != std::string::npos);
  CHECK(md.find("line1 line2 \\| pipe") != std::string::npos);
  CHECK(md.find("<img") == std::string::npos);
}

TEST_CASE("html report is self-contained, has its charts and escapes hostile text") {
  wslat::RunResult r = fixture_result();
  r.scenario_name = "<script>alert('x')</script>";
  r.error_examples["close.1011"] = "<img src=x onerror=alert(1)>";
  const std::string html = wslat::render_html(r);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
  // One distribution chart per metric plus the timeline.
  CHECK(count_of(html, "<svg ") == static_cast<int>(r.metrics.size()) + 1);
  CHECK(html.find("aria-label=\"latency over the run\"") != std::string::npos);
  CHECK(html.find("baseline p50") != std::string::npos);  // overlay marks
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  // Nothing fetched from anywhere: no network URL, no external resource reference.
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("src=\"") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
}

TEST_CASE("html report: rooms show delivery per role and the fan-out to 50%, 90%, 100%") {
  const wslat::RunResult r = wslat::test::rooms_fixture_result();
  const std::string html = wslat::render_html(r);
  const auto section = html.find("<h2>Rooms: delivery latency</h2>");
  REQUIRE(section != std::string::npos);
  const std::string rooms = html.substr(section, html.find("</section>", section) - section);
  CHECK(rooms.find("<td>delivery@listener</td>") != std::string::npos);
  CHECK(rooms.find("<td>fanout_90</td>") != std::string::npos);
  CHECK(rooms.find("<td>handshake") == std::string::npos);  // only the rooms' metrics
  CHECK(rooms.find("aria-label=\"fan-out: time until 50%, 90% and 100% of the room") !=
        std::string::npos);
  // A line per kind of broadcast, a dot per share of the room on each.
  CHECK(count_of(rooms, "<polyline ") == 3);
  CHECK(count_of(rooms, "<circle ") == 9);
  const std::string p50 = wslat::format_ms(r.metrics.at("fanout_90").summary.p50);
  CHECK(rooms.find("median broadcast (p50): 90% of the room after " + p50) != std::string::npos);
  // Without rooms: no section.
  CHECK(wslat::render_html(fixture_result()).find("Rooms: delivery") == std::string::npos);
}

TEST_CASE("html report without samples, timeline or comparison still renders") {
  wslat::RunResult r;
  r.scenario_name = "empty";
  r.attempted = 3;
  r.failed = 3;
  r.errors["connect.refused"] = 3;
  wslat::decide_verdict(r);
  const std::string html = wslat::render_html(r);
  CHECK(html.find("No latency samples") != std::string::npos);
  CHECK(html.find("<svg") == std::string::npos);
  CHECK(html.find("could not run") != std::string::npos);
  CHECK(wslat::render_text(r, {}).find("verdict: ERROR (exit 3)") != std::string::npos);
}

TEST_CASE("json report is the result JSON and reads back") {
  const wslat::RunResult r = fixture_result();
  const std::string out = wslat::render_json(r);
  CHECK(out.back() == '\n');
  const auto back = wslat::result_from_json(nlohmann::json::parse(out));
  CHECK(wslat::to_json(back) == wslat::to_json(r));
}

TEST_CASE("json report writes a timeline row per line, absent phases as null, and reads it back") {
  wslat::RunResult r = fixture_result();
  r.timeline.clear();
  wslat::TimelinePoint slow{1234.5678901234567, {}, true};
  slow.ms.fill(0.1 + 0.2);  // 0.30000000000000004: the shortest text that reads back
  r.timeline.push_back(slow);
  r.timeline.push_back(wslat::TimelinePoint{2000.0, {}, false});  // no phase reached: -1
  const std::string out = wslat::render_json(r);
  std::string row = "    [1234.5678901234567";
  for (std::size_t i = 0; i < slow.ms.size(); ++i) row += ",0.30000000000000004";
  CHECK(out.find("\n  \"timeline\": [\n" + row + ",true],\n") != std::string::npos);
  const auto back = wslat::result_from_json(nlohmann::json::parse(out));
  REQUIRE(back.timeline.size() == 2);
  CHECK(back.timeline[0].t_ms == slow.t_ms);
  CHECK(back.timeline[0].ms == slow.ms);
  CHECK(back.timeline[1].ms == r.timeline[1].ms);
  CHECK_FALSE(back.timeline[1].ok);
  r.timeline.clear();
  CHECK(wslat::render_json(r).find("\"timeline\": []") != std::string::npos);
}

TEST_CASE("json report survives invalid UTF-8 in quoted server messages") {
  wslat::RunResult r = fixture_result();
  r.error_examples["protocol"] = std::string("bad \xff\xfe bytes");
  const std::string out = wslat::render_json(r);
  CHECK(out.find("bad \xEF\xBF\xBD\xEF\xBF\xBD bytes") != std::string::npos);
}

TEST_CASE("report formats are parsed by name") {
  CHECK(wslat::parse_report_format("html") == wslat::ReportFormat::kHtml);
  CHECK(wslat::parse_report_format("junit") == wslat::ReportFormat::kJunit);
  CHECK_THROWS_WITH_AS(wslat::parse_report_format("pdf"),
                       doctest::Contains("use one of text, json, junit, markdown, html"),
                       wslat::UsageError);
  CHECK(wslat::render(fixture_result(), wslat::ReportFormat::kMarkdown) ==
        wslat::render_markdown(fixture_result()));
}

TEST_CASE("every report format shows the counters, and html escapes a hostile counter name") {
  wslat::RunResult r = fixture_result();
  r.counters["<img src=x>"] = r.counters.at("msgs_sent");  // a name from a result file
  const std::string text = wslat::render_text(r, {});
  const std::string md = wslat::render_markdown(r);
  const std::string junit = wslat::render_junit(r);
  const std::string html = wslat::render_html(r);
  const std::string json = wslat::to_json(r).dump();
  for (const std::string* out : {&text, &md, &junit, &html, &json}) {
    CHECK(out->find(out == &md ? "msgs\\_sent" : "msgs_sent") != std::string::npos);
    CHECK(out->find(out == &md ? "bytes\\_received" : "bytes_received") != std::string::npos);
    CHECK(out->find("124800") != std::string::npos);
  }
  CHECK(junit.find("<property name=\"counter.msgs_received\" value=\"1950 (per connection: min "
                   "0, mean 9.9, max 10)\"/>") != std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("&lt;img src=x&gt;") != std::string::npos);
}

TEST_CASE("reports of a result older than counters have no counters section") {
  wslat::RunResult r = fixture_result();
  r.counters.clear();
  CHECK(wslat::render_text(r, {}).find("counter") == std::string::npos);
  CHECK(wslat::render_markdown(r).find("Counters") == std::string::npos);
  CHECK(wslat::render_html(r).find("Counters") == std::string::npos);
  CHECK(wslat::render_junit(r).find("counter.") == std::string::npos);
}

// The free-space check before a run plans every file at its format's max_bytes; too small a
// bound lets a run start that cannot store its result, too large a bound refuses runs a
// nearly full disk could hold.
TEST_CASE("every format's max_bytes bounds its largest result, within 25%") {
  const wslat::RunResult largest = wslat::largest_result();
  for (const auto& f : wslat::report_formats()) {
    const std::size_t size = wslat::render(largest, f.format).size();
    INFO(std::string(f.name) << " renders the largest result in " << size
                             << " bytes; its max_bytes in "
                             << "report_formats() (lib/report/report.cpp) is " << f.max_bytes
                             << ": set it to about " << size + size / 10);
    CHECK(f.max_bytes >= size);
    CHECK(f.max_bytes <= size + size / 4);
  }
}
