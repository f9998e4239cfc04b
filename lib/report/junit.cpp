// The JUnit XML report: CI systems show thresholds and compared metrics as test cases.
#include <optional>

#include <fmt/core.h>

#include "common.hpp"
#include "report.hpp"
#include "units.hpp"

namespace wslat {

namespace {

// XML 1.0 text/attribute escaping; control characters XML cannot carry become U+FFFD.
std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

struct Case {
  Case(std::string n, std::string cls) : name(std::move(n)), classname(std::move(cls)) {}
  std::string name, classname;
  std::string failure;  // message; empty -> passed
  std::string failure_body;
  std::string skipped;  // message; empty -> not skipped
  std::string error;    // message; empty -> no error
  std::string system_out;
};

std::string render_case(const Case& c) {
  std::string out = fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                                xml_escape(c.name), xml_escape(c.classname));
  if (c.failure.empty() && c.skipped.empty() && c.error.empty() && c.system_out.empty()) {
    return out + "/>\n";
  }
  out += ">\n";
  if (!c.failure.empty()) {
    out += fmt::format("      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                       xml_escape(c.failure), "wslat", xml_escape(c.failure_body));
  }
  if (!c.error.empty()) {
    out += fmt::format("      <error message=\"{}\" type=\"wslat\"/>\n", xml_escape(c.error));
  }
  if (!c.skipped.empty()) {
    out += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(c.skipped));
  }
  if (!c.system_out.empty()) {
    out += "      <system-out>" + xml_escape(c.system_out) + "</system-out>\n";
  }
  return out + "    </testcase>\n";
}

std::vector<Case> threshold_cases(const RunResult& r) {
  std::vector<Case> cases;
  for (const auto& t : r.thresholds) {
    Case c("threshold: " + t.metric + " " + t.expr, "wslat.thresholds." + r.scenario_name);
    if (!t.pass) {
      c.failure = report::threshold_limit_actual(t);
      c.failure_body = t.detail;
    }
    cases.push_back(c);
  }
  return cases;
}

std::vector<Case> comparison_cases(const RunResult& r) {
  std::vector<Case> cases;
  if (!r.comparison) return cases;
  for (const auto& m : r.comparison->metrics) {
    // Info metrics (not gated) are reported but never fail: their cases only carry output.
    Case c("regression: " + m.metric + (m.gated ? "" : " (info, not gated)"),
           "wslat.regression." + r.scenario_name);
    const std::string summary =
        fmt::format("p50 {} -> {} ({}), p95 {} -> {} ({}), p = {}", format_ms(m.baseline_p50),
                    format_ms(m.current_p50), report::format_pct(m.delta_p50_pct),
                    format_ms(m.baseline_p95), format_ms(m.current_p95),
                    report::format_pct(m.delta_p95_pct), report::format_p_value(m.p_value));
    if (m.verdict == "regressed") {
      c.failure = summary;
      c.failure_body = m.reason;
    } else if (m.verdict == "inconclusive" && m.gated) {
      c.skipped = "inconclusive: " + m.reason;
    } else {
      c.system_out = m.verdict + ": " + summary;
    }
    cases.push_back(c);
  }
  return cases;
}

Case errors_case(const RunResult& r) {
  Case c("errors", "wslat.errors." + r.scenario_name);
  c.system_out = report::describe_connections(r) + "\n";
  for (const auto& [category, count] : r.errors) {
    c.system_out += fmt::format("{}: {}", category, count);
    auto ex = r.error_examples.find(category);
    if (ex != r.error_examples.end()) c.system_out += " (e.g. " + ex->second + ")";
    c.system_out += "\n";
  }
  if (r.attempted > 0 && r.opened == 0) c.error = report::exit_reason_text(3);
  return c;
}

// Warnings (the same list the text, markdown and HTML reports show) as a passing test case:
// its <system-out> is what JUnit viewers show of a test that passed (Jenkins, GitLab, the
// GitHub test-report actions); properties are shown by few. Absent when there are none.
std::optional<Case> warnings_case(const RunResult& r) {
  const std::vector<std::string> all = all_warnings(r);
  if (all.empty()) return std::nullopt;
  Case c(fmt::format("warnings: {}", all.size()), "wslat.warnings." + r.scenario_name);
  for (const auto& w : all) c.system_out += "warning: " + w + "\n";
  return c;
}

std::string properties(const RunResult& r) {
  std::string out = "    <properties>\n";
  const std::pair<const char*, std::string> props[] = {{"target", r.target},
                                                       {"profile", report::describe_profile(r)},
                                                       {"started_at", r.started_at},
                                                       {"verdict", report::describe_verdict(r)},
                                                       {"exit_code", std::to_string(r.exit_code)},
                                                       {"tool_version", r.tool_version}};
  for (const auto& [name, value] : props) {
    out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", name, xml_escape(value));
  }
  out += fmt::format("      <property name=\"warnings\" value=\"{}\"/>\n", all_warnings(r).size());
  for (const auto& name : report::ordered_counters(r)) {
    out += fmt::format("      <property name=\"counter.{}\" value=\"{}\"/>\n", xml_escape(name),
                       xml_escape(report::describe_counter(r.counters.at(name))));
  }
  return out + "    </properties>\n";
}

}  // namespace

std::string render_junit(const RunResult& r) {
  std::vector<Case> cases = threshold_cases(r);
  for (auto& c : comparison_cases(r)) cases.push_back(std::move(c));
  cases.push_back(errors_case(r));
  if (auto w = warnings_case(r)) cases.push_back(std::move(*w));
  int failures = 0, skipped = 0, errors = 0;
  std::string body;
  for (const auto& c : cases) {
    failures += c.failure.empty() ? 0 : 1;
    skipped += c.skipped.empty() ? 0 : 1;
    errors += c.error.empty() ? 0 : 1;
    body += render_case(c);
  }
  const std::string counts =
      fmt::format("tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\"",
                  cases.size(), failures, errors, skipped, r.duration_ms / 1000.0);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"wslat\" " + counts + ">\n";
  out += fmt::format("  <testsuite name=\"{}\" {} timestamp=\"{}\" hostname=\"{}\">\n",
                     xml_escape("wslat: " + r.scenario_name), counts, xml_escape(r.started_at),
                     xml_escape(r.host));
  out += properties(r) + body;
  return out + "  </testsuite>\n</testsuites>\n";
}

}  // namespace wslat
