// The HTTP side of the embedded server's opening handshake (RFC 6455 §4.2): parsing the upgrade
// request, judging it, and the answers. No Asio: text in, text out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wslat::embedded {

constexpr std::size_t kMaxHeaderBytes = std::size_t{16} * 1024;

struct Request {
  std::string_view method, target, version;
  std::vector<std::pair<std::string_view, std::string_view>> headers;

  // The first header named `name`, or "" (an empty value and a missing header mean the same here).
  std::string_view header(std::string_view name) const;
};

// Parses a request head (without the final blank line). Returns false when it is not HTTP/1.x.
// `req` points into `head`.
bool parse_request(std::string_view head, Request& req);

// What to answer to a request that is not a valid WebSocket upgrade; nullopt when it is valid.
std::optional<std::string> upgrade_problem(const Request& req);

// The first subprotocol the client offered, echoed back as the chosen one.
std::string first_subprotocol(const Request& req);

std::string switching_protocols(std::string_view accept, std::string_view subprotocol);

// A complete non-101 answer; the connection closes after it.
std::string http_response(int status, std::string_view extra_headers, std::string_view body);

}  // namespace wslat::embedded
