#include "pushgateway.hpp"

#include "error.hpp"
#include "http_client.hpp"
#include "prometheus.hpp"
#include "push.hpp"

namespace wslat::cli {

void check_push_url(const std::string& url) {
  if (url.empty()) return;
  const std::string problem = http_url_problem(url);
  if (!problem.empty()) {
    throw UsageError("--push " + url + ": " + problem +
                     "; give the Pushgateway's address, e.g. --push http://127.0.0.1:9091");
  }
  if (url.find('?') != std::string::npos || url.find('#') != std::string::npos) {
    throw UsageError("--push " + url +
                     ": no query or fragment; wslat appends the grouping key to the path");
  }
}

std::string push_result(const std::string& base, const RunResult& r) {
  const HttpOutcome out =
      http_send("PUT", pushgateway_url(base, r), "text/plain; version=0.0.4; charset=utf-8",
                render_prometheus(r), 10'000);
  return out.error;
}

}  // namespace wslat::cli
