// The embedded WebSocket target on raw standalone Asio. No framework sits between the socket and
// the echo: fault injection needs byte-level control, and the target must never be the
// bottleneck of a benchmark.
//
// Threading: one io_context per worker thread, each run by exactly one thread. The acceptor lives
// on worker 0 and hands every accepted socket to the next worker round-robin, so a connection's
// handlers always run on one thread: no strands, no locks, no shared atomics on the hot path
// (the shape wrk uses). N io_contexts also spread epoll wakeups over the threads.
//
// This file: the listener, the workers and their start and stop. Where the rest lives:
//   server_connection.cpp  one connection's state machine (request, echo, writes, close)
//   server_upgrade.cpp     the HTTP upgrade request and the answers to it
//   server_frames.cpp      the server's side of the frame codec (frames.cpp: both roles)
//   server_modes.cpp       the hostile --mode behaviours
//   server_options.cpp     option checks and the scenario's "embedded" block
#include "server.hpp"

#include <mutex>

#include <fmt/format.h>

#include "error.hpp"
#include "server_connection.hpp"

namespace wslat {
namespace {

using asio::ip::tcp;
using embedded::Worker;

constexpr int kBacklog = 4096;

tcp::endpoint resolve_listen_endpoint(const ServerOptions& opts) {
  std::error_code ec;
  const auto address = asio::ip::make_address(opts.host, ec);
  if (!ec) return {address, opts.port};
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(opts.host, std::to_string(opts.port), ec);
  if (ec || results.empty()) {
    throw RunError(
        fmt::format("serve: cannot resolve host \"{}\": {}; give an IP address or a "
                    "resolvable name with --host",
                    opts.host, ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

std::unique_ptr<asio::ssl::context> make_tls_context(const ServerOptions& opts) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
  std::error_code ec;
  ctx->use_certificate_chain_file(opts.tls_cert, ec);
  if (ec) {
    throw UsageError(
        fmt::format("serve: cannot load TLS certificate \"{}\": {}; give a PEM "
                    "certificate (chain) file",
                    opts.tls_cert, ec.message()));
  }
  ctx->use_private_key_file(opts.tls_key, asio::ssl::context::pem, ec);
  if (ec) {
    throw UsageError(
        fmt::format("serve: cannot load TLS key \"{}\": {}; give the PEM private key "
                    "that matches the certificate",
                    opts.tls_key, ec.message()));
  }
  return ctx;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// EmbeddedServer

struct EmbeddedServer::Impl {
  embedded::Settings settings;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::size_t next_worker = 0;
  std::uint16_t port = 0;
  bool running = false;
  std::mutex mu;  // start/stop from different threads

  void open_acceptor(Worker& home) {
    const tcp::endpoint endpoint = resolve_listen_endpoint(settings.opts);
    acceptor = std::make_unique<tcp::acceptor>(home.io);
    std::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(kBacklog, ec);
    if (ec) {
      acceptor.reset();
      throw RunError(
          fmt::format("serve: cannot listen on {}:{}: {}; pick a free port (--port 0 "
                      "for an ephemeral one) or another --host",
                      settings.opts.host, settings.opts.port, ec.message()));
    }
    port = acceptor->local_endpoint().port();
    accept_retry = std::make_unique<asio::steady_timer>(home.io);
  }

  void accept_next() {
    Worker& worker = *workers[next_worker];
    next_worker = (next_worker + 1) % workers.size();
    acceptor->async_accept(worker.io, [this, &worker](std::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // Out of descriptors and the like: back off briefly instead of spinning.
        accept_retry->expires_after(std::chrono::milliseconds(10));
        accept_retry->async_wait([this](std::error_code e) {
          if (!e) accept_next();
        });
        return;
      }
      embedded::serve_connection(std::move(socket), settings, worker);
      accept_next();
    });
  }

  void shutdown() {
    for (auto& w : workers) w->io.stop();
    for (auto& w : workers) {
      if (w->thread.joinable()) w->thread.join();
    }
    accept_retry.reset();
    acceptor.reset();
    // Destroying an io_context destroys its pending handlers, hence every connection and its
    // socket. Worker 0 goes first: its pending accept owns a socket of another worker.
    for (auto& w : workers) w.reset();
    workers.clear();
    running = false;
  }
};

EmbeddedServer::EmbeddedServer(ServerOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->settings.opts = std::move(opts);
}

EmbeddedServer::~EmbeddedServer() { stop(); }

void EmbeddedServer::start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->running) return;
  Impl& s = *impl_;
  check_server_options(s.settings.opts, "serve");
  s.settings.faults = embedded::Faults(*embedded::parse_fault_mode(s.settings.opts.mode));
  const bool tls = !s.settings.opts.tls_cert.empty();
  s.settings.tls = tls ? make_tls_context(s.settings.opts) : nullptr;
  for (int i = 0; i < s.settings.opts.threads; ++i) s.workers.push_back(std::make_unique<Worker>());
  try {
    s.open_acceptor(*s.workers.front());
  } catch (...) {
    s.workers.clear();
    throw;
  }
  s.accept_next();
  for (auto& w : s.workers) {
    w->thread = std::thread([io = &w->io] {
      // Connections keep the io_context busy; the guard keeps idle workers alive too.
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  s.running = true;
}

void EmbeddedServer::stop() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->running) impl_->shutdown();
}

std::uint16_t EmbeddedServer::port() const { return impl_->port; }

std::string EmbeddedServer::url() const {
  const std::string& host = impl_->settings.opts.host;
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}/", impl_->settings.tls ? "wss" : "ws", v6 ? "[" : "", host,
                     v6 ? "]" : "", impl_->port);
}

}  // namespace wslat
