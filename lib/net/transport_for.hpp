// TransportFor<Client>: the Transport of one websocketpp client type, whose workers are
// Worker<Client> (lib/net/worker.hpp) running Session<Client> (lib/net/session.hpp). The
// build's heaviest code: each client type instantiates it in its own translation unit
// (transport_plain.cpp, transport_tls.cpp), so that the two compile in parallel.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include "net/engine.hpp"
#include "net/plan.hpp"
#include "net/session.hpp"
#include "net/worker.hpp"
#include "net/wspp_config.hpp"

namespace wslat::net {

template <typename Client>
class TransportFor final : public Transport {
 public:
  TransportFor(const Scenario& scenario, const RunOptions& opts)
      : plan_(make_plan(scenario, opts)) {
    if constexpr (std::is_same_v<Client, TlsClient>) ssl_ = make_ssl_context(opts);
    // websocketpp's 64-bit byte swap initialises a function-local static without a guard on
    // first use (frames over 64 KiB): do it once per process, before any worker races for it,
    // and before two runs at once do (wslat monitor's /probe beside its own probes: TSan).
    static const bool htonll_ready = [] {
      (void)websocketpp::lib::net::_htonll(0);
      return true;
    }();
    (void)htonll_ready;
  }
  void choose_sources(int requested, std::int64_t concurrency) override {
    plan_.sources = source_addresses(plan_, requested, concurrency);
  }
  std::unique_ptr<WorkerHandle> make_worker(SampleSlot& slot) override {
    if (plan_.rooms) plan_.rooms->worker_started();
    if (plan_.presence) plan_.presence->worker_started();
    // A TLS context per worker (the first one's was made, and its options checked, up front):
    // workers that share one share its certificate store, whose certificates OpenSSL fills in
    // lazily, under the store's lock, and reads without it (TSan: two workers verifying
    // against one --ca). Each worker's context loads its own copies.
    SslContextPtr ssl = ssl_;
    if (ssl_ && workers_made_ > 0) ssl = make_ssl_context(*plan_.opts);
    ++workers_made_;
    return std::make_unique<Worker<Client>>(plan_, slot, std::move(ssl));
  }
  void start(TimePoint run_start) override { plan_.run_start = run_start; }

 private:
  RunPlan plan_;
  SslContextPtr ssl_;
  int workers_made_ = 0;
};

}  // namespace wslat::net
