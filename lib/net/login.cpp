#include "net/login.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <map>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "http_syntax.hpp"

namespace wslat::net {
namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
  return s.substr(b);
}

// "#HttpOnly_.example.com\tTRUE\t/\tFALSE\t0\tsid\tabc": libcurl's cookie list line.
std::optional<LoginCookie> parse_cookie_line(const std::string& line) {
  std::vector<std::string> f;
  std::size_t at = 0;
  for (int i = 0; i < 6; ++i) {
    const std::size_t tab = line.find('\t', at);
    if (tab == std::string::npos) return std::nullopt;
    f.push_back(line.substr(at, tab - at));
    at = tab + 1;
  }
  f.push_back(line.substr(at));
  LoginCookie c;
  c.domain = f[0];
  if (c.domain.rfind("#HttpOnly_", 0) == 0) c.domain.erase(0, 10);
  if (!c.domain.empty() && c.domain[0] == '.') c.domain.erase(0, 1);
  c.subdomains = f[1] == "TRUE";
  c.path = f[2];
  c.secure = f[3] == "TRUE";
  c.name = f[5];
  c.value = f[6];
  return c;
}

}  // namespace

struct LoginClient::Job {
  LoginRequest request;
  Done done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  LoginResponse response;
  ~Job() {
    if (headers != nullptr) curl_slist_free_all(headers);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
  Job() = default;
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
};

namespace {

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (out->size() < kMaxLoginBody) out->append(data, std::min(bytes, kMaxLoginBody - out->size()));
  return bytes;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  const size_t bytes = size * n;
  const std::string line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // an interim (100) response's headers are not the answer's
  } else if (const std::size_t colon = line.find(':'); colon != std::string::npos) {
    headers->emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
  }
  return bytes;
}

}  // namespace

LoginClient::LoginClient() {
  init_curl_once();
  multi_ = curl_multi_init();
}

LoginClient::~LoginClient() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    curl_multi_wakeup(static_cast<CURLM*>(multi_));
    thread_.join();
  }
  // Jobs still here (their handles removed by run()) are destroyed on this thread.
  incoming_.clear();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void LoginClient::submit(LoginRequest request, Done done) {
  auto job = std::make_unique<Job>();
  job->request = std::move(request);
  job->done = std::move(done);
  {
    const std::lock_guard<std::mutex> lock(mu_);
    incoming_.push_back(std::move(job));
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void LoginClient::run() {
  auto* multi = static_cast<CURLM*>(multi_);
  std::map<CURL*, std::unique_ptr<Job>> active;
  const auto start = [multi](Job& j) {
    j.easy = curl_easy_init();
    if (j.easy == nullptr) return false;
    CURL* c = j.easy;
    const LoginRequest& r = j.request;
    for (const auto& h : r.headers) j.headers = curl_slist_append(j.headers, h.c_str());
    j.headers = curl_slist_append(j.headers, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (r.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (!r.body.empty() || r.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, j.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "wslat");
    curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");  // the cookie engine, empty: per login
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &j.response.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &j.response.headers);
    if (r.insecure) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!r.ca_file.empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO, r.ca_file.c_str());
    }
    return curl_multi_add_handle(multi, c) == CURLM_OK;
  };
  const auto finish = [](Job& j, CURLcode rc) {
    LoginResponse& out = j.response;
    out.done = std::chrono::steady_clock::now();
    curl_easy_getinfo(j.easy, CURLINFO_RESPONSE_CODE, &out.status);
    curl_slist* cookies = nullptr;
    if (curl_easy_getinfo(j.easy, CURLINFO_COOKIELIST, &cookies) == CURLE_OK) {
      for (curl_slist* l = cookies; l != nullptr; l = l->next) {
        if (auto c = parse_cookie_line(l->data)) out.cookies.push_back(std::move(*c));
      }
      curl_slist_free_all(cookies);
    }
    switch (rc) {
      case CURLE_OK:
        out.outcome = LoginResponse::Outcome::kOk;
        return;
      case CURLE_OPERATION_TIMEDOUT:
        out.outcome = LoginResponse::Outcome::kTimeout;
        break;
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
        out.outcome = LoginResponse::Outcome::kConnect;
        break;
      default:
        out.outcome = LoginResponse::Outcome::kError;
    }
    out.error = curl_easy_strerror(rc);
  };
  for (;;) {
    std::vector<std::unique_ptr<Job>> fresh;
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      std::swap(fresh, incoming_);
    }
    for (auto& j : fresh) {
      if (start(*j)) {
        CURL* easy = j->easy;
        active.emplace(easy, std::move(j));
      } else {
        j->response.done = std::chrono::steady_clock::now();
        j->response.error = "libcurl could not start the request";
        j->done(std::move(j->response));
      }
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      const auto it = active.find(msg->easy_handle);
      if (it == active.end()) continue;
      std::unique_ptr<Job> job = std::move(it->second);
      active.erase(it);
      finish(*job, msg->data.result);
      curl_multi_remove_handle(multi, job->easy);
      job->done(std::move(job->response));
    }
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  // Stopped: the jobs in flight go back to the destructor, which destroys them on its thread
  // (their callbacks own sessions, which belong to the worker's thread).
  const std::lock_guard<std::mutex> lock(mu_);
  for (auto& [easy, job] : active) {
    curl_multi_remove_handle(multi, easy);
    incoming_.push_back(std::move(job));
  }
}

std::optional<LoginFailure> make_login_request(const LoginSpec& login, const TemplateContext& ctx,
                                               LoginRequest& out) {
  try {
    out.method = login.method;
    out.url = expand(login.url, ctx);
    if (login.body) out.body = expand(*login.body, ctx);
    if (!login.content_type.empty()) out.headers.push_back("Content-Type: " + login.content_type);
    for (const auto& [name, value] : login.headers) {
      const std::string v = expand(value, ctx);
      if (const auto why = header_problem(name, v)) {
        return LoginFailure{"request.invalid", "/login/headers: " + *why + " (nothing was sent)"};
      }
      out.headers.push_back(name);
      out.headers.back().append(": ").append(v);
    }
  } catch (const TemplateError& e) {
    return LoginFailure{"template.unset", std::string("/login: ") + e.what()};
  }
  if (std::any_of(out.url.begin(), out.url.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return LoginFailure{"request.invalid",
                        "/login/url: the expanded URL holds a space or control character (nothing "
                        "was sent)"};
  }
  return std::nullopt;
}

std::optional<LoginFailure> apply_login(const LoginSpec& login, const LoginResponse& r,
                                        Vars& vars) {
  using Outcome = LoginResponse::Outcome;
  switch (r.outcome) {
    case Outcome::kTimeout:
      return LoginFailure{"login.timeout", "the login did not complete in time: " + r.error};
    case Outcome::kConnect:
      return LoginFailure{"login.connect", "cannot reach the login server: " + r.error};
    case Outcome::kError:
      return LoginFailure{"login.error", "the login request failed: " + r.error};
    case Outcome::kOk:
      break;
  }
  // Redirects are not followed: a 3xx that sets a session cookie is a successful form login.
  if (r.status < 200 || r.status > 399) {
    return LoginFailure{"login.status", fmt::format("the login was answered with HTTP {} (expected "
                                                    "2xx or 3xx): check the credentials",
                                                    r.status)};
  }
  std::optional<nlohmann::json> parsed;
  for (const Capture& c : login.captures) {
    std::optional<VarValue> v;
    switch (c.from) {
      case Capture::From::kStatus:
        v = VarValue{std::to_string(r.status), true, true};
        break;
      case Capture::From::kHeader: {
        std::string joined;
        bool found = false;
        for (const auto& [name, value] : r.headers) {
          if (!equals_ci(name, c.arg)) continue;
          joined += (found ? ", " : "") + value;
          found = true;
        }
        if (found) v = VarValue{joined, false, true};
        break;
      }
      case Capture::From::kCookie:
        for (const auto& cookie : r.cookies) {
          if (cookie.name == c.arg) v = VarValue{cookie.value, false, true};
        }
        break;
      default:
        if (c.from == Capture::From::kJson && !parsed) {
          parsed = nlohmann::json::parse(r.body, nullptr, false);
        }
        v = capture_from_message(c, r.body, parsed && !parsed->is_discarded() ? &*parsed : nullptr);
    }
    if (!v) {
      const char* what = c.from == Capture::From::kHeader   ? "header"
                         : c.from == Capture::From::kCookie ? "cookie"
                         : c.from == Capture::From::kJson   ? "JSON body value"
                                                            : "body match";
      return LoginFailure{"login.capture",
                          fmt::format("the login's response (HTTP {}) has no {} {} to capture",
                                      r.status, what, c.arg.empty() ? "" : quote_escaped(c.arg))};
    }
    if (vars.size() <= c.var) vars.resize(c.var + 1);
    vars[c.var] = std::move(*v);
  }
  return std::nullopt;
}

std::string login_cookies_for(const std::vector<LoginCookie>& cookies, const std::string& host,
                              bool secure) {
  std::string out;
  for (const auto& c : cookies) {
    const bool same = equals_ci(c.domain, host);
    const bool sub = c.subdomains && host.size() > c.domain.size() &&
                     host[host.size() - c.domain.size() - 1] == '.' &&
                     equals_ci(host.substr(host.size() - c.domain.size()), c.domain);
    if ((!same && !sub) || (c.secure && !secure)) continue;
    out += (out.empty() ? "" : "; ") + c.name + "=" + c.value;
  }
  return out;
}

}  // namespace wslat::net
