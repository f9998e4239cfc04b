#include "output.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <fmt/core.h>

#include "report.hpp"
#include "store.hpp"

namespace wslat::cli {

std::vector<std::string> OutputArgs::export_paths() const {
  std::vector<std::string> out;
  for (const auto* p : {&export_json, &export_junit, &export_markdown, &export_html}) {
    if (!p->empty()) out.push_back(*p);
  }
  return out;
}

void add_output_options(CLI::App& sub, OutputArgs& out) {
  sub.add_option("--format", out.format, "Report on stdout: text|json|junit|markdown|html")
      ->check(CLI::IsMember({"text", "json", "junit", "markdown", "html"}));
  sub.add_option("--export-json", out.export_json, "Also write the JSON result to this file");
  sub.add_option("--export-junit", out.export_junit, "Also write a JUnit XML report");
  sub.add_option("--export-markdown", out.export_markdown, "Also write a Markdown summary");
  sub.add_option("--export-html", out.export_html, "Also write a self-contained HTML report");
}

void write_outputs(const RunResult& r, const OutputArgs& out, bool quiet) {
  (void)quiet;
  RenderOptions opts;
  opts.color = isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
  const std::string text = render(r, parse_report_format(out.format), opts);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (!out.export_json.empty()) write_file_atomic(out.export_json, render_json(r));
  if (!out.export_junit.empty()) write_file_atomic(out.export_junit, render_junit(r));
  if (!out.export_markdown.empty()) write_file_atomic(out.export_markdown, render_markdown(r));
  if (!out.export_html.empty()) write_file_atomic(out.export_html, render_html(r));
  if (const char* summary = std::getenv("GITHUB_STEP_SUMMARY"); summary && *summary) {
    std::ofstream f(summary, std::ios::app);
    f << render_markdown(r) << "\n";
    if (!f) fmt::print(stderr, "wslat: warning: cannot append to GITHUB_STEP_SUMMARY={}\n", summary);
  }
}

}  // namespace wslat::cli
