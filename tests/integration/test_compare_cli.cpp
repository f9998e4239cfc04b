// `wslat compare`, `wslat merge` and `wslat history` run as a user runs them, on result files
// written the way `wslat run` writes them.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "harness.hpp"
#include "result.hpp"
#include "store.hpp"

using namespace wslat;
using wslat::test::run_wslat;
using wslat::test::temp_dir;

namespace {

// 200 handshakes spread over 10..12 ms (+ shift), e2e the same plus 5 ms.
RunResult result_with(double shift_ms, const std::string& shard = "") {
  RunResult r;
  r.tool_version = "0.1.0";
  r.scenario_name = "cli-compare";
  r.scenario_file = "scenarios/smoke.json";
  r.scenario_sha256 = std::string(64, 'a');
  r.target = "ws://127.0.0.1:9/";
  r.profile_name = "local";
  r.profile_multiplier = 0.3;
  r.started_at = "2026-11-27T14:00:00Z";
  r.duration_ms = 2000;
  r.attempted = r.opened = 200;
  r.shard = shard;
  Histogram handshake;
  Histogram e2e;
  for (int i = 0; i < 200; ++i) {
    const double ms = 10.0 + 2.0 * i / 199.0 + shift_ms;
    handshake.record_ns(static_cast<std::int64_t>(ms * 1e6));
    e2e.record_ns(static_cast<std::int64_t>((ms + 5.0) * 1e6));
  }
  r.metrics["handshake"].histogram = handshake;
  r.metrics["e2e"].histogram = e2e;
  refresh_summaries(r);
  decide_verdict(r);
  return r;
}

std::string write_result(const std::string& name, const RunResult& r) {
  const std::string path = temp_dir() + "/" + name;
  write_file_atomic(path, to_json(r).dump(2));
  return path;
}

const MetricComparison* find_metric(const RunResult& r, const std::string& name) {
  if (!r.comparison) return nullptr;
  for (const auto& m : r.comparison->metrics) {
    if (m.metric == name) return &m;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("wslat compare: the same result passes with exit 0") {
  const std::string base = write_result("same-base.json", result_with(0));
  const std::string cur = write_result("same-cur.json", result_with(0));
  const auto p = run_wslat({"compare", cur, base});
  CAPTURE(p.out);
  CAPTURE(p.err);
  CHECK(p.exit_code == 0);
  CHECK(p.out.find("handshake") != std::string::npos);
}

TEST_CASE("wslat compare: +20 ms on handshake is a regression, exit 2, handshake named") {
  const std::string base = write_result("shift-base.json", result_with(0));
  RunResult slower = result_with(0);
  Histogram shifted;
  for (int i = 0; i < 200; ++i) {
    shifted.record_ns(static_cast<std::int64_t>((30.0 + 2.0 * i / 199.0) * 1e6));
  }
  slower.metrics["handshake"].histogram = shifted;
  refresh_summaries(slower);
  const std::string cur = write_result("shift-cur.json", slower);
  const std::string exported = temp_dir() + "/shift-compared.json";

  const auto p = run_wslat({"compare", cur, base, "--export-json", exported});
  CAPTURE(p.out);
  CAPTURE(p.err);
  CHECK(p.exit_code == 2);
  CHECK(p.out.find("handshake") != std::string::npos);

  const RunResult judged = load_result_file(exported);
  CHECK(judged.verdict == "regression");
  const MetricComparison* hs = find_metric(judged, "handshake");
  REQUIRE(hs != nullptr);
  CHECK(hs->verdict == "regressed");
  CHECK(hs->gated);
  const MetricComparison* e2e = find_metric(judged, "e2e");
  REQUIRE(e2e != nullptr);
  CHECK(e2e->verdict == "unchanged");

  // A wide enough tolerance accepts the same shift.
  CHECK(run_wslat({"compare", cur, base, "--tolerance", "300%"}).exit_code == 0);
  // Gating only e2e leaves the handshake shift for information.
  CHECK(run_wslat({"compare", cur, base, "--gate", "e2e"}).exit_code == 0);
}

TEST_CASE("wslat compare: a changed scenario needs --force - bad options are usage errors") {
  const std::string base = write_result("hash-base.json", result_with(0));
  RunResult edited = result_with(0);
  edited.scenario_sha256 = std::string(64, 'b');
  const std::string cur = write_result("hash-cur.json", edited);
  const auto refused = run_wslat({"compare", cur, base});
  CHECK(refused.exit_code == 64);
  CHECK(refused.err.find("--force") != std::string::npos);
  CHECK(run_wslat({"compare", cur, base, "--force"}).exit_code == 0);

  const auto bad = run_wslat({"compare", cur, base, "--tolerance", "10"});
  CHECK(bad.exit_code == 64);
  CHECK(bad.err.find("10%") != std::string::npos);

  const std::string garbage = test::write_temp_file("garbage.json", "not json");
  const auto unreadable = run_wslat({"compare", garbage, base});
  CHECK(unreadable.exit_code == 64);
  CHECK(unreadable.err.find(garbage + ": not valid JSON") != std::string::npos);
}

TEST_CASE("wslat merge: two shard files become one exact result") {
  const std::string a = write_result("shard-1.json", result_with(0, "1/2"));
  const std::string b = write_result("shard-2.json", result_with(1, "2/2"));
  // wslat creates no directories for files the user names.
  ::mkdir((temp_dir() + "/merged").c_str(), 0755);
  const std::string out = temp_dir() + "/merged/all.json";
  const auto p = run_wslat({"merge", a, b, "-o", out});
  CAPTURE(p.out);
  CAPTURE(p.err);
  CHECK(p.exit_code == 0);
  const RunResult merged = load_result_file(out);
  CHECK(merged.shards == 2);
  CHECK(merged.attempted == 400);
  CHECK(merged.metrics.at("handshake").summary.count == 400);

  const auto twice = run_wslat({"merge", a, a, "-o", temp_dir() + "/merged/twice.json"});
  CHECK(twice.exit_code == 64);
  CHECK(twice.err.find("both shard 1/2") != std::string::npos);
}

// compare and merge were not interrupted themselves: an interrupted input is judged on what
// it measured (exit 0 / 1 / 2 as usual, never 130) and the report says it was interrupted.
TEST_CASE("wslat compare and merge judge an interrupted input, they do not exit 130") {
  RunResult cut = result_with(0, "1/2");
  cut.interrupted = true;
  decide_verdict(cut);
  REQUIRE(cut.exit_code == 130);
  const std::string cut_file = write_result("interrupted-cut.json", cut);
  const std::string base = write_result("interrupted-base.json", result_with(0));
  const auto c = run_wslat({"compare", cut_file, base, "--format", "json"});
  CAPTURE(c.err);
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("is an interrupted run") != std::string::npos);

  const std::string other = write_result("interrupted-other.json", result_with(0, "2/2"));
  const std::string merged = temp_dir() + "/interrupted-merged.json";
  const auto m = run_wslat({"merge", cut_file, other, "-o", merged});
  CAPTURE(m.out);
  CAPTURE(m.err);
  CHECK(m.exit_code == 0);
  const RunResult back = load_result_file(merged);
  CHECK(back.interrupted);  // the data still says so
  CHECK(back.exit_code == 0);
  CHECK(std::any_of(back.warnings.begin(), back.warnings.end(), [](const std::string& w) {
    return w.find("interrupted-cut.json is an interrupted run") != std::string::npos;
  }));
}

TEST_CASE("wslat history: a trend table of the stored runs") {
  const std::string dir = temp_dir() + "/history-results";
  for (int i = 0; i < 3; ++i) {
    RunResult r = result_with(i);
    r.started_at = "2026-11-2" + std::to_string(5 + i) + "T14:00:00Z";
    write_file_atomic(run_result_path(dir, r.scenario_name, r.started_at), to_json(r).dump());
  }
  const auto p = run_wslat({"history", "cli-compare", "--results-dir", dir});
  CAPTURE(p.out);
  CAPTURE(p.err);
  CHECK(p.exit_code == 0);
  CHECK(p.out.find("2026-11-25 14:00:00") != std::string::npos);
  CHECK(p.out.find("2026-11-27 14:00:00") != std::string::npos);

  const std::string html = temp_dir() + "/history.html";
  CHECK(run_wslat({"history", "cli-compare", "--results-dir", dir, "--format", "html", "-o", html})
            .exit_code == 0);
  CHECK(read_text_file(html).find("<svg") != std::string::npos);

  const auto none = run_wslat({"history", "never-ran", "--results-dir", dir});
  CHECK(none.exit_code == 64);
  CHECK(none.err.find("cli-compare") != std::string::npos);  // lists what is there
}
