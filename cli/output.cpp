#include "output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "error.hpp"
#include "metrics.hpp"
#include "store.hpp"
#include "units.hpp"

namespace wslat::cli {

std::vector<std::string> OutputArgs::export_paths() const {
  std::vector<std::string> out;
  for (const auto& entry : exports) {
    if (!entry.second.empty()) out.push_back(entry.second);
  }
  return out;
}

void add_output_options(CLI::App& sub, OutputArgs& out, bool exports) {
  std::string names;
  for (const auto& f : report_formats()) names += std::string(names.empty() ? "" : "|") + f.name;
  sub.add_option("--format,-f", out.format, "Report on stdout: " + names)->capture_default_str();
  if (exports) {
    for (const auto& f : report_formats()) {
      if (f.export_help != nullptr) {
        sub.add_option(std::string("--export-") + f.name, out.exports[f.format], f.export_help);
      }
    }
  }
  sub.add_flag("--no-color", out.no_color, "No ANSI colours in the text report");
}

bool want_color(const OutputArgs& out, ReportFormat format) {
  if (out.no_color || format != ReportFormat::kText) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

namespace {

bool g_stdout_failed = false;
bool g_stderr_failed = false;
std::string g_stdout_error;

// Writes to a stdio stream and flushes; false (and the stream's error cleared, so a later
// short write is not blamed on it) when the reader is gone or the terminal hung up.
bool put(std::FILE* f, const std::string& text, std::string& error) {
  errno = 0;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  if (!ok) {
    error = std::strerror(errno != 0 ? errno : EIO);
    std::clearerr(f);
  }
  return ok;
}

}  // namespace

void survive_closed_streams() { std::signal(SIGPIPE, SIG_IGN); }

bool print_stdout(const std::string& text) {
  if (g_stdout_failed) return false;
  if (!put(stdout, text, g_stdout_error)) g_stdout_failed = true;
  return !g_stdout_failed;
}

void print_stderr(const std::string& text) {
  std::string ignored;
  if (!g_stderr_failed && !put(stderr, text, ignored)) g_stderr_failed = true;
}

bool stderr_failed() { return g_stderr_failed; }

void write_outputs(const RunResult& r, const OutputArgs& out) {
  const ReportFormat format = parse_report_format(out.format);
  if (format != ReportFormat::kText) {
    for (const auto& w : all_warnings(r)) print_stderr(fmt::format("wslat: warning: {}\n", w));
  }
  RenderOptions opts;
  opts.color = want_color(out, format);
  if (!print_stdout(render(r, format, opts))) {
    // Everything else is still written: the files are what CI keeps.
    print_stderr(
        fmt::format("wslat: warning: the report could not be written to stdout ({}); the files are "
                    "written all the same\n",
                    g_stdout_error));
  }
  OutputWrites writes;  // --export-* /dev/stdout and a closed stdout: a warning
  for (const auto& entry : out.exports) {
    const ReportFormat export_format = entry.first;
    const std::string& path = entry.second;
    if (!path.empty()) writes.attempt([&] { write_output_file(path, render(r, export_format)); });
  }
  if (const char* summary = std::getenv("GITHUB_STEP_SUMMARY"); summary && *summary != '\0') {
    std::ofstream f(summary, std::ios::app);
    f << render_markdown(r) << "\n";
    f.flush();
    if (!f) {
      print_stderr(
          fmt::format("wslat: warning: cannot append to GITHUB_STEP_SUMMARY={}\n", summary));
    }
  }
  writes.finish();
}

void OutputWrites::attempt(const std::function<void()>& write) {
  try {
    write();
  } catch (const BrokenStream& e) {
    print_stderr(fmt::format("wslat: warning: {}\n", e.what()));
  } catch (const Error& e) {
    failed_.emplace_back(e.what());
  }
}

void OutputWrites::finish() const {
  if (failed_.empty()) return;
  std::string all = failed_.front();
  for (std::size_t i = 1; i < failed_.size(); ++i) all += "\nwslat: " + failed_[i];
  throw RunError(all);
}

std::uintmax_t max_export_bytes(ReportFormat format) {
  // Free text (errors, thresholds, headers, warnings) is not bounded by the result's shape.
  constexpr std::uintmax_t kFreeTextAllowance = std::uintmax_t{256} * 1024;
  return report_format_info(format).max_bytes + kFreeTextAllowance;
}

void add_gate_options(CLI::App& sub, GateArgs& gate) {
  sub.add_option("--tolerance", gate.tolerance, "Relative slow-down that counts, e.g. 10%")
      ->capture_default_str();
  sub.add_option("--noise-floor", gate.noise_floor, "Absolute slow-down that counts, e.g. 0.5ms")
      ->capture_default_str();
  sub.add_option("--alpha", gate.alpha, "Mann-Whitney significance level")->capture_default_str();
  sub.add_option("--gate", gate.gate,
                 fmt::format("Metrics the gate watches (default: {} + thresholded)",
                             fmt::join(default_gate_metrics(), ",")))
      ->delimiter(',');
  sub.add_flag("--force", gate.force, "Compare even with a baseline of another scenario version");
}

namespace {

// "10%" -> 0.10. A bare number is ambiguous (0.1 or 10 %?), so the sign is required.
double parse_percent(const std::string& text, const std::string& what) {
  const std::string usage = fmt::format(
      "{}: '{}' is not a percentage; write it with a % sign, e.g. 10% or 2.5%", what, text);
  if (text.size() < 2 || text.back() != '%') throw UsageError(usage);
  const std::string number = text.substr(0, text.size() - 1);
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(v) || v < 0) {
    throw UsageError(usage);
  }
  return v / 100.0;
}

}  // namespace

CompareOptions compare_options(const GateArgs& gate) {
  CompareOptions o;
  o.tolerance = parse_percent(gate.tolerance, "--tolerance");
  o.noise_floor_ms = to_ms(parse_duration_or_throw(gate.noise_floor, "--noise-floor"));
  if (!(gate.alpha > 0 && gate.alpha < 1)) {
    throw UsageError(fmt::format(
        "--alpha: {} is not a significance level; give a number between 0 and 1, e.g. 0.01",
        gate.alpha));
  }
  o.alpha = gate.alpha;
  o.gate = gate.gate;
  o.force = gate.force;
  return o;
}

}  // namespace wslat::cli
