// Outgoing HTTP for `wslat monitor --webhook` and `wslat run --push`: one request through
// libcurl (Debian libcurl4-openssl-dev), with a deadline. No retries: callers decide.
#pragma once

#include <string>

namespace wslat::cli {

struct HttpOutcome {
  long status = 0;    // HTTP status; 0 when no response arrived
  std::string error;  // what went wrong ("" on a 2xx response)
  std::string body;   // the response body (its first 64 KiB)
};

// `method` (POST, PUT) of `body` with `content_type` to `url`, within `timeout_ms` in all.
// Never throws; a non-2xx status is an error naming it and the start of the response.
HttpOutcome http_send(const std::string& method, const std::string& url,
                      const std::string& content_type, const std::string& body, long timeout_ms);

// "" when `url` is an http:// or https:// URL with a host, else what is wrong with it.
std::string http_url_problem(const std::string& url);

}  // namespace wslat::cli
