// What the listener (server.cpp) hands a connection: the worker whose thread runs it and the
// settings every connection reads. The per-connection state machine is in
// server_connection.cpp.
#pragma once

#include <memory>
#include <random>
#include <thread>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "server.hpp"
#include "server_modes.hpp"

namespace wslat::embedded {

// One io_context run by exactly one thread: every handler of a connection runs there.
struct Worker {
  std::mt19937_64 rng{std::random_device{}()};
  asio::io_context io{1};
  std::thread thread;
};

struct Settings {
  ServerOptions opts;
  Faults faults;                            // opts.mode, parsed once
  std::unique_ptr<asio::ssl::context> tls;  // null for ws://
};

// Serves an accepted socket on `worker` until it closes (the connection owns itself).
void serve_connection(asio::ip::tcp::socket socket, const Settings& settings, Worker& worker);

}  // namespace wslat::embedded
