// The scenario's "login": an HTTP(S) request each connection makes before its upgrade, through
// libcurl (Debian's libcurl4-openssl-dev), and what the connection takes from its response.
// No websocketpp or Asio here. Why a curl thread per worker: docs/design.md ("Login").
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "scenario.hpp"

namespace wslat::net {

struct LoginRequest {
  std::string method, url, body;
  std::vector<std::string> headers;  // "Name: value"
  std::chrono::milliseconds timeout{10'000};
  bool insecure = false;  // --insecure: no certificate verification (https:// logins)
  std::string ca_file;    // --ca
};

// One cookie the login's response set, as libcurl's cookie engine keeps it.
struct LoginCookie {
  std::string domain;       // without a leading dot
  bool subdomains = false;  // a Domain attribute: sent to subdomains too
  std::string path;
  bool secure = false;
  std::string name, value;
};

struct LoginResponse {
  enum class Outcome { kOk, kTimeout, kConnect, kError } outcome = Outcome::kError;
  long status = 0;    // 0: no HTTP response
  std::string error;  // libcurl's reason when outcome is not kOk
  std::string body;   // its first kMaxLoginBody bytes
  std::vector<std::pair<std::string, std::string>> headers;  // the final response's
  std::vector<LoginCookie> cookies;
  std::chrono::steady_clock::time_point done;  // when libcurl finished the transfer
};
constexpr std::size_t kMaxLoginBody = std::size_t{1} << 20;

// Runs logins on its own thread, many at once (one curl multi handle), so that a slow login
// server never stalls the worker's event loop. `done` is called on that thread: the caller
// posts the result back to its own. Destruction stops the thread; logins in flight are dropped
// (their `done` is never called, and is destroyed on the destroying thread).
class LoginClient {
 public:
  using Done = std::function<void(LoginResponse)>;
  LoginClient();
  ~LoginClient();
  LoginClient(const LoginClient&) = delete;
  LoginClient& operator=(const LoginClient&) = delete;

  void submit(LoginRequest request, Done done);

 private:
  struct Job;
  void run();

  std::mutex mu_;
  std::vector<std::unique_ptr<Job>> incoming_;  // submitted, not yet given to curl
  bool stopping_ = false;
  void* multi_ = nullptr;  // CURLM*
  std::thread thread_;     // started by the first submit
};

struct LoginFailure {
  std::string category, message;
};
// The request of `login` for one connection into `out` (not its timeout and TLS options);
// template.unset or request.invalid when it cannot be built.
std::optional<LoginFailure> make_login_request(const LoginSpec& login, const TemplateContext& ctx,
                                               LoginRequest& out);
// Checks the response (a 2xx status) and stores the login's captures into `vars`; the failure
// (login.timeout, login.connect, login.error, login.status, login.capture) otherwise.
std::optional<LoginFailure> apply_login(const LoginSpec& login, const LoginResponse& response,
                                        Vars& vars);

// "a=1; b=2": the login's cookies a browser would send to `host` over ws (`secure` false) or
// wss (path and expiry are not checked: the upgrade is a single request right after).
std::string login_cookies_for(const std::vector<LoginCookie>& cookies, const std::string& host,
                              bool secure);

}  // namespace wslat::net
