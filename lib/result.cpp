// RunResult <-> JSON (schema "wslat.result/1") and the verdict.
//
// The reader is strict on purpose: a result file feeds CI gates (`compare`, `merge`), so a
// corrupt or foreign file must be rejected with the JSON path of the problem, never
// half-loaded. It also never lets a nlohmann exception escape (a fuzzer runs over it).
#include "result.hpp"

#include "json_pointer.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "error.hpp"

namespace wslat {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// Writing

namespace {

// JSON has no NaN/Inf: a non-finite figure is written as null (the reader accepts null
// only where a figure may legitimately be undefined).
json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json summary_json(const MetricResult& m) {
  const Summary& s = m.summary;
  return json{{"count", s.count},
              {"min", number_or_null(s.min)},
              {"mean", number_or_null(s.mean)},
              {"stddev", number_or_null(s.stddev)},
              {"p50", number_or_null(s.p50)},
              {"p90", number_or_null(s.p90)},
              {"p95", number_or_null(s.p95)},
              {"p99", number_or_null(s.p99)},
              {"p99.9", number_or_null(s.p999)},
              {"max", number_or_null(s.max)},
              {"histogram", m.histogram.to_json()}};
}

json threshold_json(const ThresholdOutcome& t) {
  const bool latency = t.unit == "ms";
  json actual = t.actual ? number_or_null(*t.actual) : json(nullptr);
  return json{{"metric", t.metric},
              {"expr", t.expr},
              {"limit_ms", latency ? number_or_null(t.limit) : json(nullptr)},
              {"actual_ms", latency ? actual : json(nullptr)},
              {"pass", t.pass},
              {"unit", t.unit},
              {"limit", number_or_null(t.limit)},
              {"actual", actual},
              {"detail", t.detail}};
}

json metric_comparison_json(const MetricComparison& c) {
  return json{{"metric", c.metric},
              {"gated", c.gated},
              {"baseline_p50", number_or_null(c.baseline_p50)},
              {"current_p50", number_or_null(c.current_p50)},
              {"baseline_p95", number_or_null(c.baseline_p95)},
              {"current_p95", number_or_null(c.current_p95)},
              {"baseline_count", c.baseline_count},
              {"current_count", c.current_count},
              {"delta_p50_ms", number_or_null(c.delta_p50_ms)},
              {"delta_p50_pct", number_or_null(c.delta_p50_pct)},
              {"delta_p95_ms", number_or_null(c.delta_p95_ms)},
              {"delta_p95_pct", number_or_null(c.delta_p95_pct)},
              {"p_value", number_or_null(c.p_value)},
              {"verdict", c.verdict},
              {"reason", c.reason}};
}

json comparison_json(const std::optional<Comparison>& c) {
  if (!c) return nullptr;
  json metrics = json::array();
  for (const auto& m : c->metrics) metrics.push_back(metric_comparison_json(m));
  return json{{"baseline_file", c->baseline_file},
              {"baseline_started_at", c->baseline_started_at},
              {"baseline_tool_version", c->baseline_tool_version},
              {"tolerance", c->tolerance},
              {"noise_floor_ms", c->noise_floor_ms},
              {"alpha", c->alpha},
              {"metrics", std::move(metrics)},
              {"warnings", c->warnings},
              {"regressed", c->regressed}};
}

json load_json(const LoadStats& l) {
  return json{{"model", l.model},
              {"concurrency", l.concurrency},
              {"target_rate", l.target_rate},
              {"achieved_rate", l.achieved_rate},
              {"late_starts", l.late_starts},
              {"dropped", l.dropped},
              {"max_lateness_ms", l.max_lateness_ms},
              {"threads", l.threads}};
}

bool has_samples(const MetricResult& m) { return !m.histogram.empty() || m.summary.count > 0; }

json counter_json(const Counter& c) {
  return {{"total", c.total},
          {"per_connection",
           {{"connections", c.connections}, {"min", c.min}, {"mean", c.mean()}, {"max", c.max}}}};
}

}  // namespace

json to_json_without_timeline(const RunResult& r) {
  json metrics = json::object();
  for (const auto& [name, m] : r.metrics) {
    if (has_samples(m)) metrics[name] = summary_json(m);
  }
  json thresholds = json::array();
  for (const auto& t : r.thresholds) thresholds.push_back(threshold_json(t));
  json counters = json::object();
  for (const auto& [name, c] : r.counters) counters[name] = counter_json(c);
  json tool = {{"name", r.tool_name}, {"version", r.tool_version}};
  if (!r.tool_commit.empty()) tool["commit"] = r.tool_commit;
  if (!r.tool_build.empty()) tool["build"] = r.tool_build;
  json out{
      {"schema", r.schema},
      {"tool", std::move(tool)},
      {"scenario",
       {{"name", r.scenario_name}, {"file", r.scenario_file}, {"sha256", r.scenario_sha256}}},
      {"target", r.target},
      {"profile",
       {{"name", r.profile_name},
        {"multiplier", r.profile_multiplier},
        {"margin", r.profile_margin},
        {"conservative", r.profile_conservative},
        {"source", r.profile_source}}},
      {"started_at", r.started_at},
      {"host", r.host},
      {"duration_ms", r.duration_ms},
      {"connections", {{"attempted", r.attempted}, {"opened", r.opened}, {"failed", r.failed}}},
      {"errors", r.errors},
      {"error_examples", r.error_examples},
      {"metrics", std::move(metrics)},
      {"counters", std::move(counters)},
      {"thresholds", std::move(thresholds)},
      {"comparison", comparison_json(r.comparison)},
      {"verdict", r.verdict},
      {"exit_code", r.exit_code},
      {"exit_reasons", r.exit_reasons},
      {"interrupted", r.interrupted},
      {"load", load_json(r.load)},
      {"timeouts_ms", r.timeouts_ms},
      {"request_headers", r.request_headers},
      {"step_metrics", r.step_metrics},
      {"shards", r.shards},
      {"shard", r.shard},
      {"warnings", r.warnings},
  };
  if (!r.negotiated.empty() || !r.negotiated.offered.empty()) {
    out["negotiated"] = {{"offered", r.negotiated.offered},
                         {"subprotocols", r.negotiated.subprotocols},
                         {"extensions", r.negotiated.extensions}};
    if (!r.negotiated.offered_extensions.empty()) {
      out["negotiated"]["offered_extensions"] = r.negotiated.offered_extensions;
    }
  }
  return out;
}

// Compact rows [t_ms, handshake_ms, e2e_ms, perceived_ms, ok] (a column per timeline metric):
// up to 5000 of them, so no repeated keys, and one per line at the indentation the JSON report
// (dump(2)) gives a top-level array. Written directly: built as json values and pretty-printed,
// a row took 7 lines and ~6 k instructions (a timeline point per connection). Numbers are the
// shortest that read back to the same double, as nlohmann writes them; an absent (negative)
// or non-finite phase is null.
std::string timeline_rows_json(const std::vector<TimelinePoint>& points) {
  if (points.empty()) return "[]";
  fmt::memory_buffer out;
  const auto number = [&](double v) {
    if (std::isfinite(v)) {
      fmt::format_to(std::back_inserter(out), FMT_COMPILE("{}"), v);
    } else {
      out.append(std::string_view("null"));
    }
  };
  out.append(std::string_view("["));
  for (std::size_t i = 0; i < points.size(); ++i) {
    out.append(std::string_view(i == 0 ? "\n    [" : ",\n    ["));
    number(points[i].t_ms);
    for (double ms : points[i].ms) {
      out.append(std::string_view(","));
      if (ms < 0) {
        out.append(std::string_view("null"));
      } else {
        number(ms);
      }
    }
    out.append(std::string_view(points[i].ok ? ",true]" : ",false]"));
  }
  out.append(std::string_view("\n  ]"));
  return fmt::to_string(out);
}

json to_json(const RunResult& r) {
  json out = to_json_without_timeline(r);
  out["timeline"] = json::parse(timeline_rows_json(r.timeline));
  return out;
}

// ---------------------------------------------------------------------------------------
// Reading

namespace {

const char* type_name(const json& j) {
  if (j.is_number_integer() || j.is_number_unsigned()) return "an integer";
  if (j.is_number_float()) return "a number with a fraction";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_null()) return "null";
  if (j.is_array()) return "an array";
  if (j.is_object()) return "an object";
  return "something else";
}

// JSON pointer escaping of one key (RFC 6901), so error paths are pointers users can use.
std::string pointer_token(const std::string& k) { return json_pointer_token(k); }

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw std::invalid_argument((path.empty() ? std::string("/") : path) + ": " + message);
}

[[noreturn]] void fail_type(const std::string& path, const char* expected, const json& found) {
  fail(path, std::string("expected ") + expected + ", found " + type_name(found));
}

// A view of one JSON object with its pointer; typed getters check before reading so no
// nlohmann exception can escape.
class Obj {
 public:
  Obj(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) fail_type(path_.empty() ? "/" : path_, "an object", j_);
  }

  const std::string& path() const { return path_; }
  std::string child(const std::string& key) const { return path_ + "/" + pointer_token(key); }
  bool has(const std::string& key) const { return j_.find(key) != j_.end(); }

  const json& req(const std::string& key) const {
    auto it = j_.find(key);
    if (it == j_.end()) {
      fail(path_, "missing required field \"" + key + "\"");
    }
    return *it;
  }

  std::string str(const std::string& key) const { return as_string(req(key), child(key)); }
  double num(const std::string& key) const { return as_number(req(key), child(key)); }
  double num_or_null(const std::string& key) const {
    const json& v = req(key);
    return v.is_null() ? std::nan("") : as_number(v, child(key));
  }
  std::int64_t count(const std::string& key) const { return as_count(req(key), child(key)); }
  bool boolean(const std::string& key) const { return as_bool(req(key), child(key)); }
  Obj obj(const std::string& key) const { return Obj(req(key), child(key)); }

  // Optional extras (absent -> keep the default), but when present they must be right.
  void opt(const std::string& key, std::string& out) const {
    if (has(key)) out = str(key);
  }
  void opt(const std::string& key, double& out) const {
    if (has(key)) out = num(key);
  }
  void opt(const std::string& key, std::int64_t& out) const {
    if (has(key)) out = count(key);
  }
  void opt(const std::string& key, int& out) const {
    if (has(key)) out = small_int(req(key), child(key), 0, 1 << 20);
  }

  static std::string as_string(const json& v, const std::string& path) {
    if (!v.is_string()) fail_type(path, "a string", v);
    return v.get_ref<const std::string&>();
  }
  static double as_number(const json& v, const std::string& path) {
    if (!v.is_number()) fail_type(path, "a number", v);
    const double d = v.get<double>();
    if (!std::isfinite(d)) fail(path, "expected a finite number");
    return d;
  }
  static bool as_bool(const json& v, const std::string& path) {
    if (!v.is_boolean()) fail_type(path, "a boolean", v);
    return v.get<bool>();
  }
  // A non-negative integer that fits in int64 (counts, connections).
  static std::int64_t as_count(const json& v, const std::string& path) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(path, "integer out of range");
      }
      return static_cast<std::int64_t>(u);
    }
    if (v.is_number_integer()) {
      const auto i = v.get<std::int64_t>();
      if (i < 0) fail(path, "expected a non-negative integer, found " + std::to_string(i));
      return i;
    }
    fail_type(path, "a non-negative integer", v);
  }
  static int small_int(const json& v, const std::string& path, int lo, int hi) {
    const std::int64_t i = as_count(v, path);
    if (i < lo || i > hi) {
      fail(path, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], found " + std::to_string(i));
    }
    return static_cast<int>(i);
  }

  template <typename Fn>
  void each_member(const std::string& key, Fn&& fn) const {
    Obj o = obj(key);
    for (auto it = o.j_.begin(); it != o.j_.end(); ++it)
      fn(it.key(), it.value(), o.child(it.key()));
  }

  template <typename Fn>
  void each_element(const std::string& key, Fn&& fn) const {
    const json& a = req(key);
    if (!a.is_array()) fail_type(child(key), "an array", a);
    for (std::size_t i = 0; i < a.size(); ++i) fn(a[i], child(key) + "/" + std::to_string(i));
  }

 private:
  const json& j_;
  std::string path_;
};

void read_schema(const Obj& o, RunResult& r) {
  const json& schema = o.req("schema");
  if (!schema.is_string() || schema.get_ref<const std::string&>() != kResultSchema) {
    std::string found =
        schema.is_string() ? "\"" + schema.get_ref<const std::string&>() + "\"" : type_name(schema);
    fail("/schema", std::string("expected \"") + kResultSchema + "\", found " + found +
                        " (not a wslat result, or one from an incompatible version)");
  }
  r.schema = kResultSchema;
}

void read_identity(const Obj& o, RunResult& r) {
  const Obj tool = o.obj("tool");
  r.tool_name = tool.str("name");
  r.tool_version = tool.str("version");
  tool.opt("commit", r.tool_commit);
  tool.opt("build", r.tool_build);
  const Obj sc = o.obj("scenario");
  r.scenario_name = sc.str("name");
  r.scenario_file = sc.str("file");
  r.scenario_sha256 = sc.str("sha256");
  r.target = o.str("target");
  const Obj p = o.obj("profile");
  r.profile_name = p.str("name");
  r.profile_multiplier = p.num("multiplier");
  r.profile_margin = p.num("margin");
  r.profile_conservative = p.boolean("conservative");
  p.opt("source", r.profile_source);
  r.started_at = o.str("started_at");
  o.opt("host", r.host);
  r.duration_ms = o.num("duration_ms");
}

void read_connections(const Obj& o, RunResult& r) {
  const Obj c = o.obj("connections");
  r.attempted = c.count("attempted");
  r.opened = c.count("opened");
  r.failed = c.count("failed");
  o.each_member("errors", [&](const std::string& k, const json& v, const std::string& path) {
    r.errors[k] = Obj::as_count(v, path);
  });
  if (o.has("error_examples")) {
    o.each_member("error_examples",
                  [&](const std::string& k, const json& v, const std::string& path) {
                    r.error_examples[k] = Obj::as_string(v, path);
                  });
  }
}

Histogram read_histogram(const Obj& m) {
  const json& h = m.req("histogram");
  try {
    return Histogram::from_json(h);
  } catch (const std::exception& e) {
    fail(m.child("histogram"), e.what());
  }
}

MetricResult read_metric(const Obj& m) {
  MetricResult out;
  Summary& s = out.summary;
  s.count = m.count("count");
  s.min = m.num("min");
  s.mean = m.num("mean");
  s.stddev = m.num("stddev");
  s.p50 = m.num("p50");
  s.p90 = m.num("p90");
  s.p95 = m.num("p95");
  s.p99 = m.num("p99");
  s.p999 = m.num("p99.9");
  s.max = m.num("max");
  out.histogram = read_histogram(m);
  if (out.histogram.count() != s.count) {
    fail(m.child("count"), "is " + std::to_string(s.count) + " but the histogram holds " +
                               std::to_string(out.histogram.count()) + " samples");
  }
  return out;
}

void read_metrics(const Obj& o, RunResult& r) {
  o.each_member("metrics", [&](const std::string& k, const json& v, const std::string& path) {
    r.metrics[k] = read_metric(Obj(v, path));
  });
}

// Optional: results older than counters have none.
void read_counters(const Obj& o, RunResult& r) {
  if (!o.has("counters")) return;
  o.each_member("counters", [&](const std::string& k, const json& v, const std::string& path) {
    const Obj c(v, path);
    Counter out;
    out.total = c.count("total");
    const Obj per = c.obj("per_connection");
    out.connections = per.count("connections");
    out.min = per.count("min");
    out.max = per.count("max");
    const double mean = per.num("mean");
    if (out.min > out.max || (out.connections > 0 && (mean < static_cast<double>(out.min) ||
                                                      mean > static_cast<double>(out.max)))) {
      fail(per.child("mean"), "min <= mean <= max does not hold");
    }
    out.per_connection_sum = std::llround(mean * static_cast<double>(out.connections));
    r.counters[k] = out;
  });
}

ThresholdOutcome read_threshold(const Obj& t) {
  ThresholdOutcome out;
  out.metric = t.str("metric");
  out.expr = t.str("expr");
  out.pass = t.boolean("pass");
  const json& limit_ms = t.req("limit_ms");
  const json& actual_ms = t.req("actual_ms");
  if (!limit_ms.is_null()) Obj::as_number(limit_ms, t.child("limit_ms"));
  if (!actual_ms.is_null()) Obj::as_number(actual_ms, t.child("actual_ms"));
  // The generic fields are extras: results from other writers may carry only the *_ms ones.
  out.unit = t.has("unit") ? t.str("unit") : (limit_ms.is_null() ? "" : "ms");
  out.limit = t.has("limit") ? t.num("limit") : (limit_ms.is_null() ? 0 : limit_ms.get<double>());
  const json& actual = t.has("actual") ? t.req("actual") : actual_ms;
  if (!actual.is_null()) out.actual = Obj::as_number(actual, t.child("actual"));
  t.opt("detail", out.detail);
  return out;
}

void read_thresholds(const Obj& o, RunResult& r) {
  o.each_element("thresholds", [&](const json& v, const std::string& path) {
    r.thresholds.push_back(read_threshold(Obj(v, path)));
  });
}

MetricComparison read_metric_comparison(const Obj& m) {
  MetricComparison c;
  c.metric = m.str("metric");
  c.gated = m.boolean("gated");
  c.baseline_p50 = m.num("baseline_p50");
  c.current_p50 = m.num("current_p50");
  c.baseline_p95 = m.num("baseline_p95");
  c.current_p95 = m.num("current_p95");
  c.baseline_count = m.count("baseline_count");
  c.current_count = m.count("current_count");
  c.delta_p50_ms = m.num("delta_p50_ms");
  c.delta_p95_ms = m.num("delta_p95_ms");
  // Relative deltas and the p-value are undefined for an empty or zero baseline.
  c.delta_p50_pct = m.num_or_null("delta_p50_pct");
  c.delta_p95_pct = m.num_or_null("delta_p95_pct");
  c.p_value = m.num_or_null("p_value");
  c.verdict = m.str("verdict");
  c.reason = m.str("reason");
  return c;
}

void read_string_list(const Obj& o, const std::string& key, std::vector<std::string>& out) {
  o.each_element(
      key, [&](const json& v, const std::string& path) { out.push_back(Obj::as_string(v, path)); });
}

void read_comparison(const Obj& o, RunResult& r) {
  const json& cj = o.req("comparison");
  if (cj.is_null()) return;
  const Obj c(cj, o.child("comparison"));
  Comparison out;
  out.baseline_file = c.str("baseline_file");
  c.opt("baseline_started_at", out.baseline_started_at);
  c.opt("baseline_tool_version", out.baseline_tool_version);
  out.tolerance = c.num("tolerance");
  out.noise_floor_ms = c.num("noise_floor_ms");
  out.alpha = c.num("alpha");
  c.each_element("metrics", [&](const json& v, const std::string& path) {
    out.metrics.push_back(read_metric_comparison(Obj(v, path)));
  });
  if (c.has("warnings")) read_string_list(c, "warnings", out.warnings);
  out.regressed = c.boolean("regressed");
  r.comparison = std::move(out);
}

void read_verdict(const Obj& o, RunResult& r) {
  static const std::vector<std::string> verdicts = {"pass", "fail", "regression", "error",
                                                    "interrupted"};
  r.verdict = o.str("verdict");
  if (std::find(verdicts.begin(), verdicts.end(), r.verdict) == verdicts.end()) {
    fail("/verdict",
         "expected one of pass, fail, regression, error, interrupted, found \"" + r.verdict + "\"");
  }
  r.exit_code = Obj::small_int(o.req("exit_code"), "/exit_code", 0, 255);
  r.interrupted = o.boolean("interrupted");
  if (o.has("exit_reasons")) {
    o.each_element("exit_reasons", [&](const json& v, const std::string& path) {
      r.exit_reasons.push_back(Obj::small_int(v, path, 0, 255));
    });
  }
}

void read_load(const Obj& o, RunResult& r) {
  if (!o.has("load")) return;
  const Obj l = o.obj("load");
  l.opt("model", r.load.model);
  l.opt("concurrency", r.load.concurrency);
  l.opt("target_rate", r.load.target_rate);
  l.opt("achieved_rate", r.load.achieved_rate);
  l.opt("late_starts", r.load.late_starts);
  l.opt("dropped", r.load.dropped);
  l.opt("max_lateness_ms", r.load.max_lateness_ms);
  l.opt("threads", r.load.threads);
}

double read_phase(const json& v, const std::string& path) {
  return v.is_null() ? -1.0 : Obj::as_number(v, path);
}

void read_timeline(const Obj& o, RunResult& r) {
  if (!o.has("timeline")) return;
  o.each_element("timeline", [&](const json& row, const std::string& path) {
    constexpr std::size_t kColumns = kTimelineMetricCount + 2;
    if (!row.is_array() || row.size() != kColumns) {
      std::string columns = "t_ms";
      for (const auto& m : timeline_metrics()) columns += ", " + m + "_ms";
      fail(path,
           "expected an array [" + columns + ", ok], found " +
               (row.is_array() ? "an array of " + std::to_string(row.size()) : type_name(row)));
    }
    TimelinePoint p;
    p.t_ms = Obj::as_number(row[0], path + "/0");
    for (std::size_t i = 0; i < p.ms.size(); ++i) {
      p.ms[i] = read_phase(row[i + 1], path + "/" + std::to_string(i + 1));
    }
    p.ok = Obj::as_bool(row[kColumns - 1], path + "/" + std::to_string(kColumns - 1));
    r.timeline.push_back(p);
  });
}

void read_extras(const Obj& o, RunResult& r) {
  read_load(o, r);
  if (o.has("timeouts_ms")) {
    o.each_member("timeouts_ms", [&](const std::string& k, const json& v, const std::string& p) {
      r.timeouts_ms[k] = Obj::as_number(v, p);
    });
  }
  if (o.has("request_headers")) {
    o.each_member("request_headers",
                  [&](const std::string& k, const json& v, const std::string& p) {
                    r.request_headers[k] = Obj::as_string(v, p);
                  });
  }
  if (o.has("step_metrics")) {
    o.each_member("step_metrics", [&](const std::string& k, const json& v, const std::string& p) {
      r.step_metrics[k] = Obj::as_string(v, p);
    });
  }
  read_timeline(o, r);
  if (o.has("shards")) r.shards = Obj::small_int(o.req("shards"), "/shards", 1, 1 << 20);
  o.opt("shard", r.shard);
  if (o.has("warnings")) read_string_list(o, "warnings", r.warnings);
  if (o.has("negotiated")) {
    const Obj n = o.obj("negotiated");
    read_string_list(n, "offered", r.negotiated.offered);
    n.opt("offered_extensions", r.negotiated.offered_extensions);
    for (const char* key : {"subprotocols", "extensions"}) {
      auto& into =
          std::string(key) == "subprotocols" ? r.negotiated.subprotocols : r.negotiated.extensions;
      n.each_member(key, [&](const std::string& k, const json& v, const std::string& path) {
        into[k] = Obj::as_count(v, path);
      });
    }
  }
}

}  // namespace

RunResult result_from_json(const json& j) {
  try {
    if (!j.is_object()) fail_type("/", "a JSON object (a wslat result)", j);
    const Obj o(j, "");
    RunResult r;
    read_schema(o, r);
    read_identity(o, r);
    read_connections(o, r);
    read_metrics(o, r);
    read_counters(o, r);
    read_thresholds(o, r);
    read_comparison(o, r);
    read_verdict(o, r);
    read_extras(o, r);
    return r;
  } catch (const json::exception& e) {
    // Defensive: every access above is type-checked first, but a library exception must
    // still reach the user as a clean message, never as a crash.
    throw std::invalid_argument(std::string("malformed result: ") + e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Summaries and verdict

void refresh_summaries(RunResult& r) {
  for (auto& entry : r.metrics) entry.second.summary = summarize(entry.second.histogram);
}

std::vector<std::string> subprotocol_warnings(const Negotiated& n) {
  std::vector<std::string> out;
  if (n.offered.empty()) return out;
  std::int64_t upgrades = 0;
  for (const auto& [value, count] : n.subprotocols) upgrades += count;
  const std::string offered = fmt::format("{}", fmt::join(n.offered, ", "));
  for (const auto& [value, count] : n.subprotocols) {
    if (value.empty()) {
      out.push_back(fmt::format(
          "the server selected none of the offered subprotocols ({}) on {} of {} upgrades: a "
          "browser would fail these connections; \"require_subprotocol\": true makes them "
          "upgrade.subprotocol errors",
          offered, count, upgrades));
    } else if (std::find(n.offered.begin(), n.offered.end(), value) == n.offered.end()) {
      out.push_back(fmt::format(
          "the server selected subprotocol \"{}\", which was not offered ({}), on {} of {} "
          "upgrades: a browser would fail these connections",
          value, offered, count, upgrades));
    }
  }
  return out;
}

std::vector<std::string> extension_warnings(const Negotiated& n) {
  if (n.offered_extensions.find("permessage-deflate") == std::string::npos) return {};
  std::int64_t upgrades = 0, declined = 0;
  for (const auto& [value, count] : n.extensions) {
    upgrades += count;
    if (value.find("permessage-deflate") == std::string::npos) declined += count;
  }
  if (declined == 0) return {};
  return {fmt::format(
      "the server declined permessage-deflate on {} of {} upgrades: those connections ran "
      "uncompressed (wire_bytes_* count their payloads as they are)",
      declined, upgrades)};
}

std::vector<std::string> all_warnings(const RunResult& r) {
  std::vector<std::string> all = r.warnings;
  if (r.comparison) {
    all.insert(all.end(), r.comparison->warnings.begin(), r.comparison->warnings.end());
  }
  return all;
}

void thin_timeline(std::vector<TimelinePoint>& points) {
  std::stable_sort(points.begin(), points.end(),
                   [](const TimelinePoint& a, const TimelinePoint& b) { return a.t_ms < b.t_ms; });
  if (points.size() <= kMaxTimelinePoints) return;
  std::vector<TimelinePoint> kept;
  kept.reserve(kMaxTimelinePoints);
  for (std::size_t i = 0; i < kMaxTimelinePoints; ++i) {
    kept.push_back(points[i * points.size() / kMaxTimelinePoints]);
  }
  points = std::move(kept);
}

namespace {

// README, "Exit codes": where several apply, the first of this list wins.
constexpr int kPrecedence[] = {exit_code::kUsage, exit_code::kCouldNotRun,
                               exit_code::kThresholdBreached, exit_code::kRegression};

int precedence_rank(int code) {
  for (std::size_t i = 0; i < std::size(kPrecedence); ++i) {
    if (kPrecedence[i] == code) return static_cast<int>(i);
  }
  return static_cast<int>(std::size(kPrecedence));
}

const char* verdict_for(int code) {
  switch (code) {
    case exit_code::kPass:
      return "pass";
    case exit_code::kThresholdBreached:
      return "fail";
    case exit_code::kRegression:
      return "regression";
    default:
      return "error";
  }
}

}  // namespace

void decide_verdict(RunResult& r, bool interruption_decides) {
  std::vector<int> reasons;
  if (r.attempted > 0 && r.opened == 0) reasons.push_back(exit_code::kCouldNotRun);
  const bool breached = std::any_of(r.thresholds.begin(), r.thresholds.end(),
                                    [](const ThresholdOutcome& t) { return !t.pass; });
  if (breached) reasons.push_back(exit_code::kThresholdBreached);
  if (r.comparison && r.comparison->regressed) reasons.push_back(exit_code::kRegression);
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](int a, int b) { return precedence_rank(a) < precedence_rank(b); });
  r.exit_reasons = reasons;
  if (r.interrupted && interruption_decides) {
    r.verdict = "interrupted";
    r.exit_code = exit_code::kInterrupted;
    return;
  }
  r.exit_code = reasons.empty() ? exit_code::kPass : reasons.front();
  r.verdict = verdict_for(r.exit_code);
}

}  // namespace wslat
