#include "monitor.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "error.hpp"

namespace wslat {

void MonitorTotals::add_probe(const RunResult& probe, double started_unix_s) {
  if (stats.probes == 0) {
    total = RunResult{};
    total.scenario_name = probe.scenario_name;
    total.target = probe.target;
    total.profile_name = probe.profile_name;
  }
  for (const auto& [name, metric] : probe.metrics) {
    total.metrics[name].histogram.add(metric.histogram);
  }
  for (const auto& [category, count] : probe.errors) total.errors[category] += count;
  for (const auto& [name, counter] : probe.counters) total.counters[name].add(counter);
  total.attempted += probe.attempted;
  total.opened += probe.opened;
  total.failed += probe.failed;
  total.duration_ms += probe.duration_ms;
  total.thresholds = probe.thresholds;
  const bool success = probe.failed == 0 && probe.opened > 0;
  ++stats.probes;
  if (!success) ++stats.failed_probes;
  stats.last_success = success;
  stats.last_probe_unix_s = started_unix_s;
  stats.last_probe_duration_s = probe.duration_ms / 1e3;
  if (probe.comparison) stats.last_regressed = probe.comparison->regressed;
}

Duration jittered_interval(Duration every, double jitter, double u) {
  const double factor = 1.0 + jitter * (2.0 * u - 1.0);
  return Duration(static_cast<Duration::rep>(static_cast<double>(every.count()) * factor));
}

namespace {

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool is_ip_or_localhost(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return host == "localhost" || ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

}  // namespace

ListenAddress parse_listen_address(const std::string& text, bool allow_remote) {
  const std::string form = "expected HOST:PORT, e.g. 127.0.0.1:9469, [::1]:9469 or 127.0.0.1:0";
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw UsageError("--listen " + text + ": no port; " + form);
  }
  ListenAddress out;
  out.host = text.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    throw UsageError("--listen " + text + ": an IPv6 address goes in brackets; " + form);
  }
  const std::string port = text.substr(colon + 1);
  unsigned value = 0;
  const auto res = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || res.ec != std::errc() || res.ptr != port.data() + port.size() ||
      value > 65535) {
    throw UsageError("--listen " + text + ": the port must be a number from 0 to 65535; " + form);
  }
  out.port = static_cast<std::uint16_t>(value);
  if (!is_ip_or_localhost(out.host)) {
    throw UsageError("--listen " + text + ": the host must be an IP address or localhost; " + form);
  }
  out.loopback = is_loopback(out.host);
  if (!out.loopback && !allow_remote) {
    throw UsageError("--listen " + text +
                     ": not a loopback address; the metrics would be open to the network. Add "
                     "--allow-remote if that is what you want (and protect the port)");
  }
  return out;
}

}  // namespace wslat
