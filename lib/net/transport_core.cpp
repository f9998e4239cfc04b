// The Transport of ws:// targets reached without a proxy, on wslat's own client core
// (lib/net/client_core.hpp, lib/net/transport_for.hpp).
#include <memory>

#include "net/client_core.hpp"
#include "net/transport_for.hpp"

namespace wslat::net {

// As transport_plain.cpp's bounds for websocketpp (bench/README.md, "What a held connection
// costs").
static_assert(sizeof(Session<CoreClient>) <= 800, "Session grew: see bench/README.md");
static_assert(sizeof(CoreConnection) <= 6144,
              "the client core's connection grew: see bench/README.md");

std::unique_ptr<Transport> make_core_transport(const Scenario& scenario, const RunOptions& opts) {
  return std::make_unique<TransportFor<CoreClient>>(scenario, opts);
}

}  // namespace wslat::net
