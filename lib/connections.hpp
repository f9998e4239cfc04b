// Per-connection records: `wslat run --export-csv FILE` / `--export-ndjson FILE` (README,
// "Per-connection exports"; docs/exports.md). A session keeps one ConnectionRecord only when an
// export was asked for (RunOptions::connections); workers hand finished records to the
// coordinator with their live samples, and the coordinator streams them to the sink, so memory
// stays that of about a quarter second of finished connections however long the run.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metrics.hpp"

namespace wslat {

// The phase columns, in this order (each "<name>_ms" in the CSV).
inline constexpr std::array<std::string_view, 12> kConnectionPhases = {
    "login",     "dns",           "tcp", "proxy",     "tls",   "upgrade",
    "handshake", "first_message", "e2e", "perceived", "close", "session"};

// Their latency slots (lib/metrics.hpp), computed at compile time.
constexpr std::array<std::size_t, kConnectionPhases.size()> connection_phase_slots() {
  std::array<std::size_t, kConnectionPhases.size()> out{};
  for (std::size_t i = 0; i < kConnectionPhases.size(); ++i)
    out[i] = latency_slot(kConnectionPhases[i]);
  return out;
}
inline constexpr auto kConnectionPhaseSlots = connection_phase_slots();
inline constexpr std::size_t kRttSlot = latency_slot("rtt");

// The phase column of a latency slot, or -1 (rtt is kept apart; the rest are not exported).
constexpr int connection_phase(std::size_t slot) {
  for (std::size_t i = 0; i < kConnectionPhaseSlots.size(); ++i) {
    if (kConnectionPhaseSlots[i] == slot) return static_cast<int>(i);
  }
  return -1;
}

// One connection (one user / session, reconnects included).
struct ConnectionRecord {
  std::int64_t index = 0;    // the connection's global index (as --shard numbers them)
  std::int64_t room = 0;     // Scenario::room_of(index)
  std::size_t role = 0;      // index in Scenario::roles
  bool interrupted = false;  // stopped by a signal before it finished (and not failed)
  double start_ms = 0;       // its intended start, ms after the run's start
  // The first value of each phase (a reconnect's later connects are not kept); NaN: none.
  std::array<double, kConnectionPhases.size()> phase_ms{};
  std::int64_t rtt_count = 0;
  double rtt_min_ms = 0, rtt_sum_ms = 0, rtt_max_ms = 0;
  std::string category;  // the error category as in the result's "errors"; empty: ok
  std::string message;   // its message, not yet redacted

  ConnectionRecord() { phase_ms.fill(std::numeric_limits<double>::quiet_NaN()); }

  void record(std::size_t slot, double ms) {
    ms = std::max(ms, 0.0);
    if (slot == kRttSlot) {
      rtt_min_ms = rtt_count == 0 ? ms : std::min(rtt_min_ms, ms);
      rtt_max_ms = rtt_count == 0 ? ms : std::max(rtt_max_ms, ms);
      rtt_sum_ms += ms;
      ++rtt_count;
      return;
    }
    const int phase = connection_phase(slot);
    if (phase >= 0 && std::isnan(phase_ms[static_cast<std::size_t>(phase)])) {
      phase_ms[static_cast<std::size_t>(phase)] = ms;
    }
  }
};

// Where the coordinator puts finished connections (RunOptions::connections). Called from the
// coordinating thread only; must not throw (a write failure is kept for the end).
class ConnectionSink {
 public:
  virtual ~ConnectionSink() = default;
  // The wall-clock time of the run's start (start_ms counts from it), before any record.
  virtual void start(std::chrono::system_clock::time_point run_start) = 0;
  // Takes the records (leaves `batch` empty).
  virtual void add(std::vector<ConnectionRecord>& batch) = 0;
};

// What the columns need from the scenario.
struct ConnectionColumns {
  std::vector<std::string> roles;    // role names; empty: no role column
  bool rooms = false;                // a room column
  std::vector<std::string> secrets;  // redacted from error messages
};

std::string connections_csv_header(const ConnectionColumns& cols);
std::string connection_csv_row(const ConnectionRecord& r, const ConnectionColumns& cols,
                               std::chrono::system_clock::time_point run_start);
std::string connection_ndjson_line(const ConnectionRecord& r, const ConnectionColumns& cols,
                                   std::chrono::system_clock::time_point run_start);

// The sink of `wslat run`: streams CSV and/or NDJSON into temp files beside the named files,
// renamed over them by commit() (store.hpp OutputFileWriter). The files are opened by the
// constructor, before the run (RunError when one cannot be); a file not committed is removed.
class ConnectionExport final : public ConnectionSink {
 public:
  ConnectionExport(ConnectionColumns cols, const std::string& csv_path,
                   const std::string& ndjson_path);
  ~ConnectionExport() override;
  ConnectionExport(const ConnectionExport&) = delete;
  ConnectionExport& operator=(const ConnectionExport&) = delete;

  void start(std::chrono::system_clock::time_point run_start) override;
  void add(std::vector<ConnectionRecord>& batch) override;
  // Publishes the files; RunError naming every one that could not be written.
  void commit();
  std::int64_t written() const { return written_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t written_ = 0;
};

}  // namespace wslat
