// `wslat history`: stored runs of a scenario as a trend table (text) and charts (HTML).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "history.hpp"
#include "store.hpp"

using namespace wslat;

namespace {

// A fresh directory, removed with everything in it when the test ends.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wslat-history-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

RunResult run_at(const std::string& started_at, double handshake_ms, const std::string& verdict) {
  RunResult r;
  r.tool_version = "0.1.0";
  r.scenario_name = "chat";
  r.scenario_sha256 = std::string(64, 'a');
  r.profile_name = "local";
  r.started_at = started_at;
  r.attempted = 100;
  r.opened = 99;
  r.failed = 1;
  Histogram h;
  for (int i = 0; i < 100; ++i) {
    h.record_ns(static_cast<std::int64_t>(handshake_ms * 1e6 * (1.0 + i / 1000.0)));
  }
  r.metrics["handshake"].histogram = h;
  refresh_summaries(r);
  r.verdict = verdict;
  r.exit_code = verdict == "regression" ? 2 : 0;
  return r;
}

// Three runs, written newest first so the order must come from the names.
void write_three_runs(const std::string& dir) {
  for (const auto& r :
       {run_at("2026-11-27T16:00:00Z", 30, "regression"),
        run_at("2026-11-27T14:00:00Z", 10, "pass"), run_at("2026-11-27T15:00:00Z", 11, "pass")}) {
    write_file_atomic(run_result_path(dir, "chat", r.started_at), to_json(r).dump());
  }
}

}  // namespace

TEST_CASE("history loads the stored runs oldest first and skips unreadable files") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  write_three_runs(dir);
  write_file_atomic(dir + "/runs/chat/2026-11-27T150000Z-1.json", "{ truncated");
  const History h = load_history(dir, "chat");
  REQUIRE(h.series.size() == 1);
  const auto& runs = h.series[0].runs;
  REQUIRE(runs.size() == 3);
  CHECK(runs[0].result.started_at == "2026-11-27T14:00:00Z");
  CHECK(runs[2].result.verdict == "regression");
  REQUIRE(h.warnings.size() == 1);
  CHECK(h.warnings[0].find("2026-11-27T150000Z-1.json: not valid JSON") != std::string::npos);

  const History last2 = load_history(dir, "chat", 2);
  REQUIRE(last2.series.size() == 1);
  REQUIRE(last2.series[0].runs.size() == 2);
  CHECK(last2.series[0].runs[0].result.started_at == "2026-11-27T15:00:00Z");
}

TEST_CASE("history text: one row per run and a trend line per metric") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  write_three_runs(dir);
  const History h = load_history(dir, "chat");
  const std::string text = render_history_text(h);
  CAPTURE(text);
  CHECK(text.find("History of chat: 3 runs") != std::string::npos);
  CHECK(text.find("2026-11-27 14:00:00  pass") != std::string::npos);
  CHECK(text.find("2026-11-27 16:00:00  regression") != std::string::npos);
  CHECK(text.find("1%") != std::string::npos);  // 1 of 100 connections failed

  const MetricTrend t = metric_trend(h.series.at(0), "handshake");
  REQUIRE(t.first_p50.has_value());
  CHECK(*t.first_p50 == doctest::Approx(10.5).epsilon(0.02));  // first run only
  CHECK(*t.last_p50 == doctest::Approx(31.5).epsilon(0.02));   // last run only
  CHECK(text.find("handshake  p50 10") != std::string::npos);
  CHECK(text.find("(+200%)") != std::string::npos);
  CHECK(text.find(sparkline(t.p95)) != std::string::npos);
  CHECK(text.find("e2e        no samples") != std::string::npos);
}

TEST_CASE("sparkline scales from lowest to highest and marks missing runs") {
  CHECK(sparkline({1.0, 8.0, std::nullopt, 4.0}) == "▁█·▄");
  CHECK(sparkline({2.0, 2.0}) == "▄▄");
  CHECK(sparkline({}).empty());
}

TEST_CASE("history html is one self-contained page with an SVG chart per metric") {
  const TempDir tmp;
  write_three_runs(tmp.path);
  const History h = load_history(tmp.path, "chat");
  const std::string html = render_history_html(h);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("<polyline class=\"p95\"") != std::string::npos);
  CHECK(html.find("<td>regression</td>") != std::string::npos);
  // Nothing is fetched: no scripts, stylesheets, images or any URL.
  CHECK(html.find("http") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
}

// Six targets, open and closed models, a shard, an interrupted run and another scenario's
// result in one folder: each comparable group is its own trend, the rest is said, not mixed.
TEST_CASE("history groups runs by target, profile and load shape - skips interrupted and foreign") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  auto store = [&](RunResult r) {
    write_file_atomic(run_result_path(dir, "chat", r.started_at), to_json(r).dump());
  };
  RunResult a1 = run_at("2026-11-27T10:00:00Z", 10, "pass");
  a1.target = "ws://a/";
  RunResult a2 = run_at("2026-11-27T11:00:00Z", 11, "pass");
  a2.target = "ws://a/";
  RunResult b = run_at("2026-11-27T12:00:00Z", 50, "pass");
  b.target = "ws://b/";
  RunResult open = run_at("2026-11-27T13:00:00Z", 12, "pass");
  open.target = "ws://a/";
  open.load.model = "open";
  open.load.target_rate = 20;
  RunResult staging = run_at("2026-11-27T14:00:00Z", 12, "pass");
  staging.target = "ws://a/";
  staging.profile_name = "staging";
  RunResult shard = run_at("2026-11-27T15:00:00Z", 12, "pass");
  shard.target = "ws://a/";
  shard.shard = "1/4";
  RunResult cut = run_at("2026-11-27T16:00:00Z", 90, "interrupted");
  cut.target = "ws://a/";
  cut.interrupted = true;
  RunResult foreign = run_at("2026-11-27T17:00:00Z", 12, "pass");
  foreign.target = "ws://a/";
  foreign.scenario_name = "other";
  for (const auto& r : {a1, a2, b, open, staging, shard, cut, foreign}) store(r);

  const History h = load_history(dir, "chat");
  CHECK(h.interrupted_skipped == 1);
  REQUIRE(h.warnings.size() == 1);
  CHECK(h.warnings[0].find("a result of scenario \"other\"") != std::string::npos);
  REQUIRE(h.series.size() == 5);  // a closed, b, a open, a staging, a shard
  // The newest run's series first; a1 and a2 are the only pair.
  CHECK(h.series[0].label.find("shard 1/4") != std::string::npos);
  const auto pair = std::find_if(h.series.begin(), h.series.end(),
                                 [](const HistorySeries& s) { return s.runs.size() == 2; });
  REQUIRE(pair != h.series.end());
  CHECK(pair->label == "ws://a/ · profile local · closed: 100 connections, 1 at once");
  CHECK(pair->runs[0].result.started_at == "2026-11-27T10:00:00Z");
  const std::string text = render_history_text(h);
  CAPTURE(text);
  CHECK(text.find("6 runs in 5 series") != std::string::npos);
  CHECK(text.find("1 interrupted run left out") != std::string::npos);
  CHECK(text.find("open: 20/s") != std::string::npos);

  const History all = load_history(dir, "chat", 20, true);
  CHECK(all.interrupted_skipped == 0);
  std::size_t runs = 0;
  for (const auto& s : all.series) runs += s.runs.size();
  CHECK(runs == 7);
}
