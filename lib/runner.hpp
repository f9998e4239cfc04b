// Drives sessions through a scenario's steps and records phase times.
// Implementation in lib/net/ (websocketpp on standalone Asio; see docs/design.md): one
// io_context per worker thread, each recording into its own histograms, merged by the
// coordinating thread into live samples while the run lasts and into the RawRun at its end.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "result.hpp"
#include "scenario.hpp"
#include "schedule.hpp"
#include "timeouts.hpp"

namespace wslat {

// What the run measured so far, merged over the workers: every latency metric's histogram and
// every counter. Each worker publishes what it recorded since its last publication every
// 100 ms (and when it stops); the coordinator adds these deltas up without stopping anyone, so
// from one sample to the next every count only grows. The final sample (after the workers
// stopped) holds the same histograms and counts as the RawRun that run_scenario returns.
struct LiveSample {
  std::map<std::string, Histogram> metrics;    // by metric name; only metrics with samples
  std::map<std::string, std::int64_t> errors;  // by category (the final one: as RawRun::errors)
  std::map<std::string, Counter> counters;     // every counter of the registry, from the start
  std::int64_t attempted = 0, opened = 0, failed = 0;
  std::int64_t done = 0;  // sessions finished (failed or not)
  // The progress line's frame: total = connections of this shard, 0 for the open model (then
  // elapsed_s of duration_s says how far); achieved_rate = attempted per second so far.
  std::int64_t total = 0;
  double elapsed_s = 0, duration_s = 0;
  double achieved_rate = 0;
  bool final = false;  // taken after the workers stopped

  // p95 of the handshakes so far, in ms (0 before the first one).
  double p95_handshake_ms() const {
    const auto it = metrics.find("handshake");
    return it == metrics.end() ? 0 : static_cast<double>(it->second.value_at_percentile(95)) / 1e6;
  }
};

// The Sec-WebSocket-Extensions offer of RunOptions::permessage_deflate, as browsers send it:
// "client_max_window_bits" lets the server choose the window of wslat's compressor (RFC 7692
// §7.1.2.2); the server's own window is its choice.
inline constexpr const char* kDeflateOffer = "permessage-deflate; client_max_window_bits";

class ConnectionSink;  // connections.hpp

struct RunOptions {
  std::string target;    // ws:// or wss:// URL (already resolved from "embedded")
  TimeoutPlan timeouts;  // plan_timeouts(scenario, profile): effective, written, their note
  Load load;             // effective (CLI overrides applied)
  Shard shard;
  int threads = 1;
  // Local addresses 127.0.0.1..N to spread connections over (loopback targets); 0 = as needed
  // (only beyond ~20k live connections).
  int source_addresses = 0;
  bool insecure = false;
  std::string ca_file;
  std::string cert_file, key_file;  // client certificate (mTLS), both or neither
  std::string sni;                  // server name sent and verified instead of the URL's host
  std::string tls_min;              // "", "1.2" or "1.3": lowest TLS version accepted
  // Offer permessage-deflate (RFC 7692): the scenario's "permessage_deflate" or --deflate,
  // with this Sec-WebSocket-Extensions offer (kDeflateOffer, or the scenario's parameters).
  bool permessage_deflate = false;
  std::string deflate_offer = kDeflateOffer;
  std::string proxy;  // http://[user:pw@]host:port to CONNECT through, or "" (see choose_proxy)
  std::vector<std::pair<std::string, std::string>> extra_headers;  // --header
  std::int64_t trace_connections = 0;  // --trace N: print every frame of connections 0..N-1
  // Called about every 250 ms from the coordinating thread while the run lasts, then once with
  // `final` set after the workers stopped. The one live channel: the progress line reads it,
  // and so would a live output (see LiveSample).
  std::function<void(const LiveSample&)> on_progress;
  // Set from a signal handler: stop starting connections, close open ones within the close
  // timeout, return what was measured with `interrupted` set.
  const std::atomic<bool>* stop_requested = nullptr;
  // --export-csv / --export-ndjson: every connection's record goes here as it finishes (from
  // the coordinating thread, about every 250 ms). nullptr: no session keeps a record.
  ConnectionSink* connections = nullptr;
};

struct RawRun {
  std::map<std::string, Histogram> metrics;  // only metrics with samples
  std::map<std::string, std::int64_t> errors;
  std::map<std::string, Counter> counters;  // every counter of the registry
  std::map<std::string, std::string> error_examples;
  Negotiated negotiated;  // offered left empty: assemble_result fills it from the scenario
  std::int64_t attempted = 0, opened = 0, failed = 0;
  double duration_ms = 0;
  LoadStats load;
  std::vector<TimelinePoint> timeline;
  bool interrupted = false;
};

RawRun run_scenario(const Scenario& scenario, const RunOptions& opts);

// The bytes of the upgrade request the runner would send to `target` with these headers (in
// order, as --header adds them) and subprotocols: the same checks and the same websocketpp
// request building. Throws UsageError for anything the runner refuses. For tests and fuzzing.
std::string upgrade_request_text(const std::string& target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::vector<std::string>& subprotocols);

// What the runner makes of a server's answer to the upgrade request when its bytes arrive in
// these reads, in order (the same parser, UpgradeResponse in lib/net/client_upgrade.hpp), with the
// value of each header named in `ask` as the runner looks it up (names without case). For tests
// and fuzzing.
struct UpgradeAnswer {
  std::string error;      // why the parser refused the bytes; empty when it did not
  bool complete = false;  // the answer's blank line arrived
  std::size_t reads = 0;  // the reads given to the parser (it stops at the answer's end)
  std::size_t left = 0;   // the bytes of the last read after the answer: frames, for the reader
  int status = 0;         // as sent, once the status line was read (even if refused later)
  std::string version, reason;
  std::vector<std::pair<std::string, std::string>> headers;  // a repeated name once, joined
  std::vector<std::string> asked;                            // "" for a header not there
};
UpgradeAnswer parse_upgrade_answer(const std::vector<std::string>& reads,
                                   const std::vector<std::string>& ask = {});

}  // namespace wslat
