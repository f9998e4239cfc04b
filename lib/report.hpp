// Reporters: pure functions from a RunResult to bytes (as hyperfine's exporters).
#pragma once

#include <string>

#include "result.hpp"

namespace wslat {

enum class ReportFormat { kText, kJson, kJunit, kMarkdown, kHtml };

// "text" | "json" | "junit" | "markdown" | "html"; throws UsageError otherwise.
ReportFormat parse_report_format(const std::string& name);

struct RenderOptions {
  bool color = false;  // ANSI colours (text only; on a TTY)
};

std::string render(const RunResult& r, ReportFormat format, const RenderOptions& opts = {});

std::string render_text(const RunResult& r, const RenderOptions& opts);
std::string render_json(const RunResult& r);
std::string render_junit(const RunResult& r);
std::string render_markdown(const RunResult& r);
std::string render_html(const RunResult& r);

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(const std::string& s);

}  // namespace wslat
