// The HTTP side of `wslat monitor`: GET /metrics on a listen address, served by libmicrohttpd
// (its own thread). The body comes from a callback, called once per scrape.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "event_stream.hpp"
#include "monitor.hpp"

struct MHD_Daemon;

namespace wslat::cli {

struct HttpReply {
  unsigned status = 200;
  std::string body;
  std::string content_type;
};

// GET /probe?target=...&scenario=...: the query's values (nullopt when absent).
using ProbeHandler = std::function<HttpReply(const std::optional<std::string>& target,
                                             const std::optional<std::string>& scenario)>;

// Any other GET path (the dashboard at /, /api/samples) with its ?target=: a reply, or nullopt
// for 404.
using PageHandler = std::function<std::optional<HttpReply>(
    const std::string& path, const std::optional<std::string>& target)>;

class MetricsEndpoint {
 public:
  // Binds and starts serving (a thread per connection, so a /probe does not hold up a scrape);
  // throws RunError naming the address when it cannot bind.
  // `events` (may be null): GET /api/events streams it (server-sent events); it must outlive
  // the endpoint, which closes it first when it stops, so that no client holds up the stop.
  MetricsEndpoint(const ListenAddress& where, std::function<std::string()> metrics,
                  ProbeHandler probe = {}, PageHandler pages = {}, EventStream* events = nullptr);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  std::string url() const;  // http://127.0.0.1:PORT/metrics, with the port actually bound

  // For libmicrohttpd's callback only.
  std::string scrape() const { return metrics_(); }
  const ProbeHandler& probe() const { return probe_; }
  const PageHandler& pages() const { return pages_; }
  EventStream* events() const { return events_; }

 private:
  std::function<std::string()> metrics_;
  ProbeHandler probe_;
  PageHandler pages_;
  EventStream* events_ = nullptr;
  MHD_Daemon* daemon_ = nullptr;
  std::string host_;
  unsigned port_ = 0;
};

}  // namespace wslat::cli
