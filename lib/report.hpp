// Reporters: pure functions from a RunResult to bytes (as hyperfine's exporters).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "result.hpp"

namespace wslat {

enum class ReportFormat { kText, kJson, kJunit, kMarkdown, kHtml, kPrometheus };

struct RenderOptions {
  bool color = false;  // ANSI colours (text only; on a TTY)
};

// One row per report format. Adding a format: its renderer (lib/report/NAME.cpp), an enum value
// and a row in report_formats(); --format, --export-NAME, the completions, the man page and the
// free-space check before a run all derive from the table.
struct ReportFormatInfo {
  ReportFormat format;
  const char* name;         // --format NAME, --export-NAME
  const char* export_help;  // help of --export-NAME; nullptr: no such option (text is stdout's)
  std::string (*render)(const RunResult& r, const RenderOptions& opts);
  // At least the bytes render(largest_result()) gives: the free-space check before a run
  // plans with it. A constant, not a rendering at start-up (that cost ~25 ms of CPU per run);
  // a unit test fails, naming the size to write here, when a renderer outgrows it.
  std::uintmax_t max_bytes;
};

// In the order --help lists them.
const std::vector<ReportFormatInfo>& report_formats();
const ReportFormatInfo& report_format_info(ReportFormat format);

// The largest result a run can produce: every metric with every bucket filled and counts of
// 2^30, the full 5000-point timeline with long numbers, a comparison of every metric. Free
// text (errors, thresholds, headers, warnings) is not bounded by the shape.
RunResult largest_result();

// A name of report_formats() (or "md" for markdown); throws UsageError listing them otherwise.
ReportFormat parse_report_format(const std::string& name);

std::string render(const RunResult& r, ReportFormat format, const RenderOptions& opts = {});

std::string render_text(const RunResult& r, const RenderOptions& opts);
std::string render_json(const RunResult& r);
std::string render_junit(const RunResult& r);
std::string render_markdown(const RunResult& r);
std::string render_html(const RunResult& r);

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(const std::string& s);

}  // namespace wslat
