#include "http_client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <utility>

#include <fmt/core.h>

#include "net/curl_shim.hpp"

namespace wslat::cli {
namespace {

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (out->size() < 65536) out->append(data, std::min(bytes, 65536 - out->size()));
  return bytes;
}

}  // namespace

std::string http_url_problem(const std::string& url) {
  const bool http = url.rfind("http://", 0) == 0;
  const bool https = url.rfind("https://", 0) == 0;
  if (!http && !https) return "expected an http:// or https:// URL";
  const std::string rest = url.substr(http ? 7 : 8);
  if (rest.empty() || rest[0] == '/' || rest[0] == ':') return "no host";
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return "a space or control character";
  }
  return "";
}

HttpOutcome http_send(const std::string& method, const std::string& url,
                      const std::string& content_type, const std::string& body, long timeout_ms) {
  HttpOutcome out;
  if (std::string why = net::curl_unavailable(); !why.empty()) {
    out.error = std::move(why);
    return out;
  }
  init_once();
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                                 &curl_easy_cleanup);
  if (!curl) {
    out.error = "libcurl could not start a request";
    return out;
  }
  const std::string header = "Content-Type: " + content_type;
  curl_slist* headers = curl_slist_append(nullptr, header.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> owned(headers,
                                                                          &curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "wslat");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    out.error = curl_easy_strerror(rc);
    return out;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  if (out.status < 200 || out.status > 299) {
    std::string start = out.body.substr(0, 200);
    while (!start.empty() && (start.back() == '\n' || start.back() == '\r')) start.pop_back();
    out.error = fmt::format("HTTP {}{}{}", out.status, start.empty() ? "" : ": ", start);
  }
  return out;
}

}  // namespace wslat::cli
