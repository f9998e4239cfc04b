// Fuzzes the result/baseline reader (what `compare`, `report`, `merge` and --baseline load):
// load_result_file rejects bad JSON or a bad result with a UsageError (exit 64) and nothing
// else; an accepted result renders in every format and survives a JSON round trip; a bad
// histogram is rejected with std::invalid_argument.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "histogram.hpp"
#include "report.hpp"
#include "result.hpp"
#include "store.hpp"

namespace {

void check_histogram(const nlohmann::json& j) {
  try {
    const wslat::Histogram h = wslat::Histogram::from_json(j);
    if (!(wslat::Histogram::from_json(h.to_json()) == h)) std::abort();
  } catch (const std::invalid_argument&) {
  }
}

// The bytes as a file (in memory: no disk traffic per input), read the way the CLI does.
void check_result(const std::uint8_t* data, std::size_t size) {
  static const int fd = ::memfd_create("wslat-fuzz-result", 0);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::abort();
  }
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  wslat::RunResult r;
  try {
    r = wslat::load_result_file(path);
  } catch (const wslat::UsageError&) {
    return;
  }
  // What we accept we must be able to write and read back.
  const wslat::RunResult again =
      wslat::result_from_json(nlohmann::json::parse(wslat::render_json(r)));
  (void)again;
  for (auto f :
       {wslat::ReportFormat::kText, wslat::ReportFormat::kJunit, wslat::ReportFormat::kMarkdown,
        wslat::ReportFormat::kHtml, wslat::ReportFormat::kPrometheus}) {
    (void)wslat::render(r, f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_result(data, size);
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  check_histogram(j);
  if (j.is_object() && j.contains("metrics") && j["metrics"].is_object()) {
    for (const auto& [name, m] : j["metrics"].items()) {
      if (m.is_object() && m.contains("histogram")) check_histogram(m["histogram"]);
    }
  }
  return 0;
}
