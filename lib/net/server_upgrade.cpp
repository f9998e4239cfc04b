#include "server_upgrade.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "http_syntax.hpp"

namespace wslat::embedded {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (equals_ci(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Sec-WebSocket-Key must be the base64 form of 16 bytes: 22 characters and "==".
bool valid_client_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 400 ? "Other" : (status < 500 ? "Client Error" : "Server Error");
  }
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (equals_ci(k, name)) return v;
  }
  return {};
}

bool parse_request(std::string_view head, Request& req) {
  auto line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  req.version = line.substr(sp2 + 1);
  if (req.version.substr(0, 7) != "HTTP/1.") return false;
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    const std::string_view h = head.substr(0, line_end);
    const auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    req.headers.emplace_back(h.substr(0, colon), trim(h.substr(colon + 1)));
  }
  return true;
}

std::string http_response(int status, std::string_view extra_headers, std::string_view body) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n"
      "{}\r\n{}",
      status, reason_phrase(status), body.size(), extra_headers, body);
}

std::optional<std::string> upgrade_problem(const Request& req) {
  constexpr std::string_view kVersion = "Sec-WebSocket-Version: 13\r\n";
  if (req.method != "GET") {
    return http_response(405, "Allow: GET\r\n", "WebSocket upgrades use GET.\n");
  }
  if (!has_token(req.header("Upgrade"), "websocket")) {
    return http_response(426, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                         "This is a WebSocket endpoint: connect with a WebSocket client.\n");
  }
  if (!has_token(req.header("Connection"), "upgrade")) {
    return http_response(400, kVersion, "Connection header must contain \"Upgrade\".\n");
  }
  if (req.header("Sec-WebSocket-Version") != "13") {
    return http_response(426, kVersion, "Only WebSocket version 13 is supported.\n");
  }
  if (!valid_client_key(req.header("Sec-WebSocket-Key"))) {
    return http_response(400, kVersion, "Missing or malformed Sec-WebSocket-Key.\n");
  }
  // RFC 7230 §5.4: an invalid Host is a 400 (as nginx answers "Host: ::1:8080", an IPv6
  // literal without its brackets).
  const std::string_view host = req.header("Host");
  if (!host.empty() && host.front() != '[' && host.find(':') != host.rfind(':')) {
    return http_response(400, kVersion, "Malformed Host: an IPv6 address goes in brackets.\n");
  }
  return std::nullopt;
}

std::string first_subprotocol(const Request& req) {
  const std::string_view offered = req.header("Sec-WebSocket-Protocol");
  return std::string(trim(offered.substr(0, offered.find(','))));
}

std::string switching_protocols(std::string_view accept, std::string_view subprotocol) {
  std::string out = fmt::format(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: {}\r\n",
      accept);
  if (!subprotocol.empty()) out += fmt::format("Sec-WebSocket-Protocol: {}\r\n", subprotocol);
  out += "\r\n";
  return out;
}

}  // namespace wslat::embedded
