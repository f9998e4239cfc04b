// What every worker of a run shares, read-only, while it runs; the bounds a session holds a
// server to. websocketpp types: included only by lib/net/transport*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/engine.hpp"
#include "net/rooms.hpp"
#include "net/wspp_config.hpp"
#include "scenario.hpp"

namespace wslat::net {

// What every worker shares, read-only, during the run.
struct RunPlan {
  const Scenario* scenario = nullptr;
  const RunOptions* opts = nullptr;
  // The flattened steps per role (Scenario::roles), else the one program; a session runs
  // programs[Scenario::role_of(index)].
  std::vector<std::vector<FlatStep>> programs;
  // Per role, the first of its histogram slots (its copy of the registry's and the step
  // metrics', "METRIC@ROLE"): after the registry's and the step metrics' own.
  std::vector<std::size_t> role_slots;
  std::shared_ptr<RoomBoard> rooms;     // with "deliveries": the broadcasts waiting for members
  std::shared_ptr<RoomBoard> presence;  // with "presence": the joins waiting for the others
  websocketpp::uri_ptr uri;
  bool secure = false;
  bool host_is_ip = false;
  std::string host, port;
  asio::ip::tcp::endpoint uri_address;  // when the host is an IP literal
  bool has_ready_mark = false;
  std::vector<asio::ip::address> sources;  // local addresses to spread connections over
  std::vector<std::string> secrets;
  std::string authorization;  // "Basic ..." from the target's user info, else ""
  // HTTP CONNECT proxy (RunOptions::proxy): its address (resolved once), its URL for
  // websocketpp, its credentials, and "host:port" for messages.
  bool proxied = false;
  asio::ip::tcp::endpoint proxy_address;
  std::string proxy_url, proxy_user, proxy_password, proxy_name;
  TimePoint run_start;
};

// What a server can make wslat hold for one connection (see README, Errors). Beyond these the
// connection fails with the category named at each check, instead of growing without bound:
// a ping flood queued 1.19 GB of pongs in 4.8 s on one connection before these bounds.
constexpr std::size_t kMaxUnwrittenPongs = 1024;         // pongs queued, not yet written
constexpr std::size_t kMaxInboxMessages = 10'000;        // unmatched messages kept for an expect
constexpr std::size_t kMinInboxBytes = 16U << 20;        // ... and their bytes (or max message)
constexpr std::size_t kMinSendBacklogBytes = 16U << 20;  // bytes of sends the server has not read

// The plan of a run (lib/net/transport.cpp): checks the target, the request's headers and
// subprotocols (UsageError, exit 64, before any connection).
RunPlan make_plan(const Scenario& scenario, const RunOptions& opts);
// Loopback targets with more live connections than one address pair has ephemeral ports
// (about 28k) spread over 127.0.0.1..N; `requested` (> 0) forces N.
std::vector<asio::ip::address> source_addresses(const RunPlan& plan, int requested,
                                                std::int64_t concurrency);
// A TLS client context from the run's options (client certificate, lowest version, trust).
SslContextPtr make_ssl_context(const RunOptions& opts);
// The Transport of each client type, each in its own translation unit (transport_plain.cpp,
// transport_tls.cpp).
std::unique_ptr<Transport> make_plain_transport(const Scenario& scenario, const RunOptions& opts);
std::unique_ptr<Transport> make_tls_transport(const Scenario& scenario, const RunOptions& opts);
// ws:// without a proxy, on wslat's own client core (transport_core.cpp).
std::unique_ptr<Transport> make_core_transport(const Scenario& scenario, const RunOptions& opts);

inline std::string format_bytes(std::size_t n) {
  if (n >= (1U << 20) && n % (1U << 20) == 0) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

}  // namespace wslat::net
