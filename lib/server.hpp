// The embedded WebSocket target (`wslat serve`, and `run` without a target): echo server with
// fault injection. Plain header: the implementation in lib/net/server*.cpp uses raw Asio.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "units.hpp"

namespace wslat {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;              // 0 = ephemeral
  Duration handshake_delay{};          // before answering the upgrade
  std::optional<std::string> welcome;  // text sent right after open
  Duration welcome_delay{};
  Duration echo_delay{};  // before echoing each message
  Duration jitter{};      // uniform random extra [0, jitter) on every delay
  // A client must complete its upgrade request (and TLS handshake) within this, or the
  // connection is closed; 0 = wait forever. Not in "silent" mode, which never answers.
  Duration request_timeout = std::chrono::seconds(10);
  std::optional<std::uint16_t> close_after_open;  // close with this code right after open
  std::optional<int> reject_status;               // answer the upgrade with this HTTP status
  std::string tls_cert, tls_key;                  // both set -> wss
  int threads = 1;
  // Hostile behaviours (tests and demos): "" (none), "silent" (accept TCP, never answer),
  // "garbage" (non-HTTP reply), "bad-accept" (101 with a wrong Sec-WebSocket-Accept),
  // "close-in-handshake" (close TCP after reading the request), "reset-after-open"
  // (RST when the first message arrives, instead of its echo), "oversize" (a frame header
  // announcing 16 MiB + 1 bytes after open, then that payload),
  // "invalid-utf8" (text frame with invalid UTF-8 after open), "no-close-reply"
  // (never answers a close frame), "stall-reads" (stops reading after open).
  std::string mode;
};

// Options from a scenario's "embedded" block: {"welcome": {...} | "text", "welcome_delay":
// "100ms", "handshake_delay": ..., "echo_delay": ..., "jitter": ..., "close_after_open":
// 1011, "reject": 403, "mode": "..."}. Throws UsageError for unknown keys or bad values.
ServerOptions server_options_from_json(const nlohmann::json& j, const std::string& where);

// The accepted values of ServerOptions::mode ("" excluded).
const std::vector<std::string>& server_modes();

// Throws UsageError (naming `where`) when an option is out of range: a close code that may not
// be sent on the wire, a reject status outside 200..599, an unknown mode, threads outside 1..256,
// or only one of tls_cert/tls_key.
void check_server_options(const ServerOptions& opts, const std::string& where);

class EmbeddedServer {
 public:
  explicit EmbeddedServer(ServerOptions opts);
  ~EmbeddedServer();
  EmbeddedServer(const EmbeddedServer&) = delete;
  EmbeddedServer& operator=(const EmbeddedServer&) = delete;

  // Binds and starts serving on background threads. Throws RunError when it cannot bind and
  // UsageError when the options are invalid or the TLS certificate/key cannot be loaded.
  // May be called again after stop().
  void start();
  void stop();  // idempotent; joins threads
  std::uint16_t port() const;
  std::string url() const;  // ws://HOST:PORT/ (wss:// with TLS)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wslat
