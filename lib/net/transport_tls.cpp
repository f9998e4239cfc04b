// The Transport of wss:// targets (lib/net/transport_for.hpp).
#include <memory>

#include "net/transport_for.hpp"

namespace wslat::net {

std::unique_ptr<Transport> make_tls_transport(const Scenario& scenario, const RunOptions& opts) {
  return std::make_unique<TransportFor<TlsClient>>(scenario, opts);
}

}  // namespace wslat::net
