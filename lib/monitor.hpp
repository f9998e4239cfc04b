// `wslat monitor`: what stays pure of it. The running totals over the probes (each probe a
// whole run of the scenario, assembled into a RunResult as `wslat run` does), the spacing of
// the probes, and the listen address. The loop, the signals and the HTTP endpoint are in
// cli/monitor.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "prometheus.hpp"
#include "result.hpp"
#include "units.hpp"

namespace wslat {

// Every probe so far, added up: histograms, errors, counters and connection counts grow;
// thresholds and the probe facts are the last probe's. `total` renders with
// render_prometheus(total, stats).
struct MonitorTotals {
  RunResult total;
  ProbeStats stats;

  // Adds one finished probe that started at `started_unix_s` (Unix time, seconds). A probe with
  // a failed connection (or none opened) is a failed probe; its errors count by category.
  void add_probe(const RunResult& probe, double started_unix_s);
};

// The pause before the next probe: `every` stretched or shrunk by up to `jitter` (0.1 = 10%),
// uniformly by `u` in [0, 1): every * (1 + jitter * (2u - 1)).
Duration jittered_interval(Duration every, double jitter, double u);

struct ListenAddress {
  std::string host;  // as given: 127.0.0.1, ::1, localhost, 0.0.0.0, ...
  std::uint16_t port = 0;
  bool loopback = false;
};

// "HOST:PORT" or "[V6]:PORT"; port 0 asks for an ephemeral one. Throws UsageError (exit 64)
// naming the problem; a host that is not loopback is refused unless `allow_remote`.
ListenAddress parse_listen_address(const std::string& text, bool allow_remote);

}  // namespace wslat
