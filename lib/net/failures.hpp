// How a session's connection failed, in the error categories and messages the README lists
// (Errors): the parts of the classification that only look at websocketpp's and Asio's codes.
// Included only by lib/net/transport_for.hpp (through session.hpp).
#pragma once

#include <string>
#include <system_error>

#include "net/wspp_config.hpp"

namespace wslat::net {

struct Failure {
  std::string category, message;
};

inline std::string tls_message(const std::string& verify_error, const std::error_code& tec) {
  if (verify_error.rfind("certificate does not match", 0) == 0) {
    return "TLS certificate verification failed: " + verify_error +
           " (use a target host name the certificate lists, or skip verification with "
           "--insecure)";
  }
  if (!verify_error.empty()) {
    return "TLS certificate verification failed: " + verify_error +
           " (trust the server's CA with --ca FILE, or skip verification with --insecure)";
  }
  return "TLS handshake failed: " + tec.message();
}

// `ec`: websocketpp's code; `tec`: the transport's (or ec when there is none).
inline bool is_tls_failure(const std::string& verify_error, const std::error_code& ec,
                           const std::error_code& tec) {
  namespace sock = websocketpp::transport::asio::socket;
  return !verify_error.empty() || ec == sock::make_error_code(sock::error::tls_handshake_failed) ||
         ec == sock::make_error_code(sock::error::tls_handshake_timeout) ||
         tec.category() == asio::error::get_ssl_category() ||
         ec.category() == asio::error::get_ssl_category();
}

// The peer closed or reset the connection. Over TLS a close without the TLS close_notify is
// OpenSSL's "stream truncated": the same event (it was `upgrade.invalid` "invalid upgrade
// response: stream truncated" when a wss server closed during the upgrade, `reset` over ws).
inline bool is_reset(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated ||
         ec == websocketpp::transport::error::eof ||
         ec == websocketpp::transport::error::tls_short_read;
}

// Why an open connection closed that wslat did not close: a protocol violation it detected,
// a connection lost without a close frame, or the server's close code.
// wslat detected the violation when its own close code is one of a violation's and is not the
// echo of the server's: websocketpp answers a server's close with the server's code, so a
// server closing with 1002 is the server's close (`close.1002`), not a violation by the server.
// 1011 is websocketpp's code for what its frame parser refuses beyond those (a length not in
// its shortest encoding, a 64-bit length where it cannot hold it): a violation too, which
// closes at once and so was reported as a connection lost without a close frame (`reset`).
// An echo repeats the reason as well: a close frame websocketpp refuses (a 1-byte payload,
// which it records as the server's 1002; a reason that is not UTF-8) is answered with 1002 and
// its own reason ("Invalid close code"), and was `close.1002` "server closed with 1002".
template <typename Connection>
Failure unexpected_close(Connection& con) {
  namespace status = websocketpp::close::status;
  const auto local = con.get_local_close_code();
  const auto remote = con.get_remote_close_code();
  if ((local == status::protocol_error || local == status::invalid_payload ||
       local == status::message_too_big || local == status::unsupported_data ||
       local == status::internal_endpoint_error) &&
      (local != remote || con.get_local_close_reason() != con.get_remote_close_reason())) {
    std::string why = con.get_local_close_reason();
    const auto ec = con.get_ec();
    if (ec && ec.message() != why) why += (why.empty() ? "" : ": ") + ec.message();
    return {"protocol", "protocol violation by the server (closed with " + std::to_string(local) +
                            ")" + (why.empty() ? "" : ": " + why)};
  }
  if (remote == status::abnormal_close) {
    const auto tec = con.get_transport_ec();
    return {"reset",
            "connection lost without a close frame" + (tec ? ": " + tec.message() : std::string())};
  }
  // A close frame without a status code: 1005, the code RFC 6455 reserves for "none received"
  // (it was counted as `reset`, "without a close frame", which it was not).
  if (remote == status::no_status) {
    return {"close.1005",
            "server closed the connection with a close frame without a status code "
            "(1005: none received)"};
  }
  return {"close." + std::to_string(remote),
          "server closed the connection with " + std::to_string(remote) +
              (con.get_remote_close_reason().empty() ? std::string()
                                                     : " (" + con.get_remote_close_reason() + ")")};
}

}  // namespace wslat::net
