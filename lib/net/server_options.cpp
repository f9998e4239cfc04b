// The embedded server's options: their checks and the scenario's "embedded" block.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "server.hpp"
#include "server_frames.hpp"
#include "server_modes.hpp"

namespace wslat {
namespace {

void check_duration_key(const nlohmann::json& v, const std::string& where, Duration& out) {
  if (!v.is_string()) {
    throw UsageError(
        fmt::format("{}: expected a duration string such as \"250ms\", got {}", where, v.dump()));
  }
  out = parse_duration_or_throw(v.get<std::string>(), where);
}

template <class T>
T integer_key(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number_integer()) {
    throw UsageError(fmt::format("{}: expected an integer, got {}", where, v.dump()));
  }
  const auto n = v.get<std::int64_t>();
  if (n < 0 || n > 65535) throw UsageError(fmt::format("{}: {} is out of range", where, n));
  return static_cast<T>(n);
}

}  // namespace

void check_server_options(const ServerOptions& opts, const std::string& where) {
  if (opts.close_after_open && !embedded::sendable_close_code(*opts.close_after_open)) {
    throw UsageError(
        fmt::format("{}: close code {} cannot be sent; use 1000-1003, 1007-1014 or "
                    "3000-4999 (e.g. 1011)",
                    where, *opts.close_after_open));
  }
  if (opts.reject_status && (*opts.reject_status < 200 || *opts.reject_status > 599)) {
    throw UsageError(
        fmt::format("{}: reject status {} is not a non-101 HTTP status; use 200-599 "
                    "(e.g. 403 or 502)",
                    where, *opts.reject_status));
  }
  if (!embedded::parse_fault_mode(opts.mode)) {
    throw UsageError(fmt::format("{}: unknown mode \"{}\"; accepted: {}", where, opts.mode,
                                 fmt::join(server_modes(), ", ")));
  }
  if (opts.threads < 1 || opts.threads > 256) {
    throw UsageError(fmt::format("{}: threads must be 1..256, got {}", where, opts.threads));
  }
  if (opts.tls_cert.empty() != opts.tls_key.empty()) {
    throw UsageError(
        fmt::format("{}: TLS needs both a certificate and a key (--tls-cert and "
                    "--tls-key)",
                    where));
  }
}

ServerOptions server_options_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) {
    throw UsageError(
        fmt::format("{}: expected an object of serve options, got {}", where, j.dump()));
  }
  ServerOptions opts;
  for (const auto& [key, v] : j.items()) {
    const std::string at = fmt::format("{}.{}", where, key);
    if (key == "welcome") {
      opts.welcome = v.is_string() ? v.get<std::string>() : v.dump();
    } else if (key == "welcome_delay") {
      check_duration_key(v, at, opts.welcome_delay);
    } else if (key == "handshake_delay") {
      check_duration_key(v, at, opts.handshake_delay);
    } else if (key == "echo_delay") {
      check_duration_key(v, at, opts.echo_delay);
    } else if (key == "jitter") {
      check_duration_key(v, at, opts.jitter);
    } else if (key == "close_after_open") {
      opts.close_after_open = integer_key<std::uint16_t>(v, at);
    } else if (key == "reject") {
      opts.reject_status = integer_key<int>(v, at);
    } else if (key == "mode") {
      if (!v.is_string()) throw UsageError(fmt::format("{}: expected a mode name", at));
      opts.mode = v.get<std::string>();
    } else if (key == "threads") {
      opts.threads = integer_key<int>(v, at);
    } else {
      throw UsageError(fmt::format(
          "{}: unknown key \"{}\"; accepted keys: welcome, welcome_delay, handshake_delay, "
          "echo_delay, jitter, close_after_open, reject, mode, threads",
          where, key));
    }
  }
  check_server_options(opts, where);
  return opts;
}

}  // namespace wslat
