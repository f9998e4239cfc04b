// Delivering `wslat monitor` alerts (lib/alerts.hpp decides when): POST the JSON payload to
// --webhook and/or run --alert-command with the verdict in its environment. Both on the
// monitor's thread, each bounded in time; a failure is a warning on stderr, never an exit.
#pragma once

#include <string>

#include "alerts.hpp"

namespace wslat::cli {

struct AlertDelivery {
  std::string webhook;  // http(s) URL, or ""
  std::string command;  // run by /bin/sh -c, or ""
  long webhook_timeout_ms = 10'000;
  long command_timeout_ms = 60'000;
};

// Sends one notification every configured way. Returns the problems ("" when all went well).
std::string deliver_alert(const AlertDelivery& d, const AlertEvent& e, const AlertSubject& s,
                          const RunResult& probe);

}  // namespace wslat::cli
