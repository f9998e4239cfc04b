// Format names and the dispatch from a format to its renderer.
#include "report.hpp"

#include "error.hpp"

namespace wslat {

ReportFormat parse_report_format(const std::string& name) {
  if (name == "text") return ReportFormat::kText;
  if (name == "json") return ReportFormat::kJson;
  if (name == "junit") return ReportFormat::kJunit;
  if (name == "markdown" || name == "md") return ReportFormat::kMarkdown;
  if (name == "html") return ReportFormat::kHtml;
  throw UsageError("unknown report format \"" + name +
                   "\": use one of text, json, junit, markdown, html");
}

std::string render(const RunResult& r, ReportFormat format, const RenderOptions& opts) {
  switch (format) {
    case ReportFormat::kText:
      return render_text(r, opts);
    case ReportFormat::kJson:
      return render_json(r);
    case ReportFormat::kJunit:
      return render_junit(r);
    case ReportFormat::kMarkdown:
      return render_markdown(r);
    case ReportFormat::kHtml:
      return render_html(r);
  }
  return render_text(r, opts);
}

}  // namespace wslat
