#include "connections.hpp"

#include <chrono>
#include <cmath>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "redact.hpp"
#include "store.hpp"

namespace wslat {
namespace {

using SysClock = std::chrono::system_clock;

// 2026-11-30T10:31:37.123Z
std::string iso_time(SysClock::time_point run_start, double offset_ms) {
  const auto t = run_start + std::chrono::duration_cast<SysClock::duration>(
                                 std::chrono::duration<double, std::milli>(offset_ms));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms.count() % 1000);
}

const char* outcome(const ConnectionRecord& r) {
  if (!r.category.empty()) return "error";
  return r.interrupted ? "interrupted" : "ok";
}

// RFC 4180: quoted when it holds a comma, quote, CR or LF.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string ms_text(double ms) { return fmt::format("{:.3f}", ms); }

}  // namespace

std::string connections_csv_header(const ConnectionColumns& cols) {
  std::string out = "index";
  if (!cols.roles.empty()) out += ",role";
  if (cols.rooms) out += ",room";
  out += ",start_ms,start_time";
  for (const auto phase : kConnectionPhases) out += fmt::format(",{}_ms", phase);
  out += ",rtt_count,rtt_min_ms,rtt_mean_ms,rtt_max_ms,outcome,category,message\n";
  return out;
}

std::string connection_csv_row(const ConnectionRecord& r, const ConnectionColumns& cols,
                               SysClock::time_point run_start) {
  std::string out = std::to_string(r.index);
  if (!cols.roles.empty()) out += "," + csv_field(cols.roles.at(r.role));
  if (cols.rooms) out += "," + std::to_string(r.room);
  out += "," + ms_text(r.start_ms) + "," + iso_time(run_start, r.start_ms);
  for (const double ms : r.phase_ms) {
    out += ',';
    if (!std::isnan(ms)) out += ms_text(ms);
  }
  out += "," + std::to_string(r.rtt_count);
  if (r.rtt_count > 0) {
    out += "," + ms_text(r.rtt_min_ms) + "," +
           ms_text(r.rtt_sum_ms / static_cast<double>(r.rtt_count)) + "," + ms_text(r.rtt_max_ms);
  } else {
    out += ",,,";
  }
  out += std::string(",") + outcome(r) + "," + csv_field(r.category) + "," +
         csv_field(redact(r.message, cols.secrets)) + "\n";
  return out;
}

std::string connection_ndjson_line(const ConnectionRecord& r, const ConnectionColumns& cols,
                                   SysClock::time_point run_start) {
  // Milliseconds rounded to the microsecond, as in the CSV.
  const auto ms = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  nlohmann::ordered_json j;
  j["index"] = r.index;
  if (!cols.roles.empty()) j["role"] = cols.roles.at(r.role);
  if (cols.rooms) j["room"] = r.room;
  j["start_ms"] = ms(r.start_ms);
  j["start_time"] = iso_time(run_start, r.start_ms);
  nlohmann::ordered_json phases = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < kConnectionPhases.size(); ++i) {
    if (!std::isnan(r.phase_ms[i])) phases[std::string(kConnectionPhases[i])] = ms(r.phase_ms[i]);
  }
  j["phases_ms"] = std::move(phases);
  if (r.rtt_count > 0) {
    j["rtt_ms"] = {{"count", r.rtt_count},
                   {"min", ms(r.rtt_min_ms)},
                   {"mean", ms(r.rtt_sum_ms / static_cast<double>(r.rtt_count))},
                   {"max", ms(r.rtt_max_ms)}};
  }
  j["outcome"] = outcome(r);
  if (!r.category.empty()) {
    j["category"] = r.category;
    j["message"] = redact(r.message, cols.secrets);
  }
  // Invalid UTF-8 from a server's close reason must not make the line unwritable.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

struct ConnectionExport::Impl {
  ConnectionColumns cols;
  std::optional<OutputFileWriter> csv, ndjson;
  SysClock::time_point run_start{};
  std::vector<std::string> failures;  // a writer that failed writes no more
};

ConnectionExport::ConnectionExport(ConnectionColumns cols, const std::string& csv_path,
                                   const std::string& ndjson_path)
    : impl_(std::make_unique<Impl>()) {
  impl_->cols = std::move(cols);
  if (!csv_path.empty()) impl_->csv.emplace(csv_path);
  if (!ndjson_path.empty()) impl_->ndjson.emplace(ndjson_path);
}

ConnectionExport::~ConnectionExport() = default;

void ConnectionExport::start(SysClock::time_point run_start) {
  impl_->run_start = run_start;
  if (impl_->csv) {
    try {
      impl_->csv->append(connections_csv_header(impl_->cols));
    } catch (const Error& e) {
      impl_->failures.push_back(e.what());
      impl_->csv.reset();
    }
  }
}

void ConnectionExport::add(std::vector<ConnectionRecord>& batch) {
  Impl& m = *impl_;
  for (const auto& r : batch) {
    try {
      if (m.csv) m.csv->append(connection_csv_row(r, m.cols, m.run_start));
    } catch (const Error& e) {
      m.failures.push_back(e.what());
      m.csv.reset();
    }
    try {
      if (m.ndjson) m.ndjson->append(connection_ndjson_line(r, m.cols, m.run_start));
    } catch (const Error& e) {
      m.failures.push_back(e.what());
      m.ndjson.reset();
    }
  }
  written_ += static_cast<std::int64_t>(batch.size());
  batch.clear();
}

void ConnectionExport::commit() {
  Impl& m = *impl_;
  for (auto* w : {&m.csv, &m.ndjson}) {
    if (!*w) continue;
    try {
      (*w)->commit();
    } catch (const Error& e) {
      m.failures.push_back(e.what());
    }
    w->reset();
  }
  if (m.failures.empty()) return;
  std::string text;
  for (const auto& f : m.failures) text += (text.empty() ? "" : "; ") + f;
  throw RunError(text);
}

}  // namespace wslat
