// The Transport of plain ws:// targets (lib/net/transport_for.hpp).
#include <memory>

#include "net/transport_for.hpp"

namespace wslat::net {

// What every held connection costs (bench/README.md, "What a held connection costs"): a larger
// Session or connection object is more memory times every connection a run holds. The bounds
// are libstdc++'s sizes on a 64-bit target, with a little room: a new member that is not needed
// by most connections belongs in Session::Rare, not in Session itself.
static_assert(sizeof(Session<PlainClient>) <= 800, "Session grew: see bench/README.md");
// The connection object holds websocketpp's read buffer (ClientConfig, wspp_config.hpp).
static_assert(sizeof(PlainClient::connection_type) <= 6144,
              "websocketpp's connection grew: see bench/README.md");

std::unique_ptr<Transport> make_plain_transport(const Scenario& scenario, const RunOptions& opts) {
  return std::make_unique<TransportFor<PlainClient>>(scenario, opts);
}

}  // namespace wslat::net
