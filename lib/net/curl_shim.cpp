// The libcurl functions wslat calls, defined here and forwarded to libcurl.so.4, which is
// opened at the first call (lazy_library.hpp says why). Without the library, each returns
// the library's own failure value (NULL, CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR) and
// curl_unavailable() says what to install. Parameter names are those of curl's headers.
#define CURL_DISABLE_TYPECHECK  // the definitions below, not the type-checking macros
#include "net/curl_shim.hpp"

#include <cstdarg>
#include <type_traits>

#include <curl/curl.h>

#include "lazy_library.hpp"

namespace {

wslat::LazyLibrary& libcurl() {
  static wslat::LazyLibrary lib("libcurl.so.4", "libcurl4");
  return lib;
}

}  // namespace

namespace wslat::net {

std::string curl_unavailable() { return libcurl().error(); }

}  // namespace wslat::net

extern "C" {

CURLcode curl_global_init(long flags) {
  static const auto fn = libcurl().function<decltype(&::curl_global_init)>("curl_global_init");
  return fn != nullptr ? fn(flags) : CURLE_FAILED_INIT;
}

curl_slist* curl_slist_append(curl_slist* list, const char* data) {
  static const auto fn = libcurl().function<decltype(&::curl_slist_append)>("curl_slist_append");
  return fn != nullptr ? fn(list, data) : nullptr;
}

void curl_slist_free_all(curl_slist* list) {
  static const auto fn =
      libcurl().function<decltype(&::curl_slist_free_all)>("curl_slist_free_all");
  if (fn != nullptr) fn(list);
}

const char* curl_easy_strerror(CURLcode code) {
  static const auto fn = libcurl().function<decltype(&::curl_easy_strerror)>("curl_easy_strerror");
  return fn != nullptr ? fn(code) : "libcurl is not available";
}

CURL* curl_easy_init() {
  static const auto fn = libcurl().function<decltype(&::curl_easy_init)>("curl_easy_init");
  return fn != nullptr ? fn() : nullptr;
}

// The option's number says the type of its argument (curl.h, CURLOPTTYPE_*): long, a pointer
// (object, function or blob) or curl_off_t, which is a long here. That type is read and
// passed on. (va_start after an enum parameter: libcurl's own signature; CURLoption is int.)
static_assert(sizeof(curl_off_t) == sizeof(long) && std::is_signed_v<curl_off_t>);
CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  static const auto fn = libcurl().function<decltype(&::curl_easy_setopt)>("curl_easy_setopt");
  if (fn == nullptr) return CURLE_FAILED_INIT;
  const bool integer = option < CURLOPTTYPE_OBJECTPOINT ||
                       (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB);
  va_list ap;
  va_start(ap, option);  // NOLINT(clang-diagnostic-varargs)
  CURLcode rc = CURLE_OK;
  if (integer) {
    const long value = va_arg(ap, long);
    rc = fn(curl, option, value);
  } else {
    void* pointer = va_arg(ap, void*);
    rc = fn(curl, option, pointer);
  }
  va_end(ap);
  return rc;
}

CURLcode curl_easy_perform(CURL* curl) {
  static const auto fn = libcurl().function<decltype(&::curl_easy_perform)>("curl_easy_perform");
  return fn != nullptr ? fn(curl) : CURLE_FAILED_INIT;
}

void curl_easy_cleanup(CURL* curl) {
  static const auto fn = libcurl().function<decltype(&::curl_easy_cleanup)>("curl_easy_cleanup");
  if (fn != nullptr) fn(curl);
}

// Every CURLINFO takes a pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  static const auto fn = libcurl().function<decltype(&::curl_easy_getinfo)>("curl_easy_getinfo");
  if (fn == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);  // NOLINT(clang-diagnostic-varargs): libcurl's signature
  const CURLcode rc = fn(curl, info, va_arg(ap, void*));
  va_end(ap);
  return rc;
}

CURLM* curl_multi_init() {
  static const auto fn = libcurl().function<decltype(&::curl_multi_init)>("curl_multi_init");
  return fn != nullptr ? fn() : nullptr;
}

CURLMcode curl_multi_add_handle(CURLM* multi_handle, CURL* curl_handle) {
  static const auto fn =
      libcurl().function<decltype(&::curl_multi_add_handle)>("curl_multi_add_handle");
  return fn != nullptr ? fn(multi_handle, curl_handle) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM* multi_handle, CURL* curl_handle) {
  static const auto fn =
      libcurl().function<decltype(&::curl_multi_remove_handle)>("curl_multi_remove_handle");
  return fn != nullptr ? fn(multi_handle, curl_handle) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_poll(CURLM* multi_handle, curl_waitfd extra_fds[], unsigned int extra_nfds,
                          int timeout_ms, int* ret) {
  static const auto fn = libcurl().function<decltype(&::curl_multi_poll)>("curl_multi_poll");
  return fn != nullptr ? fn(multi_handle, extra_fds, extra_nfds, timeout_ms, ret)
                       : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_wakeup(CURLM* multi_handle) {
  static const auto fn = libcurl().function<decltype(&::curl_multi_wakeup)>("curl_multi_wakeup");
  return fn != nullptr ? fn(multi_handle) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_perform(CURLM* multi_handle, int* running_handles) {
  static const auto fn = libcurl().function<decltype(&::curl_multi_perform)>("curl_multi_perform");
  return fn != nullptr ? fn(multi_handle, running_handles) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_cleanup(CURLM* multi_handle) {
  static const auto fn = libcurl().function<decltype(&::curl_multi_cleanup)>("curl_multi_cleanup");
  return fn != nullptr ? fn(multi_handle) : CURLM_INTERNAL_ERROR;
}

CURLMsg* curl_multi_info_read(CURLM* multi_handle, int* msgs_in_queue) {
  static const auto fn =
      libcurl().function<decltype(&::curl_multi_info_read)>("curl_multi_info_read");
  return fn != nullptr ? fn(multi_handle, msgs_in_queue) : nullptr;
}

}  // extern "C"
