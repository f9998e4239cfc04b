// The libmicrohttpd functions `wslat monitor --listen` calls, defined here and forwarded to
// libmicrohttpd.so.12, which is opened at the first call (lib/lazy_library.hpp says why).
// Without the library, each returns its own failure value (NULL, MHD_NO) and
// microhttpd_unavailable() says what to install.
#include "microhttpd_shim.hpp"

#include <cstdarg>

#include <microhttpd.h>

#include "lazy_library.hpp"

namespace {

wslat::LazyLibrary& microhttpd() {
  static wslat::LazyLibrary lib("libmicrohttpd.so.12", "libmicrohttpd12");
  return lib;
}

}  // namespace

namespace wslat::cli {

std::string microhttpd_unavailable() { return microhttpd().error(); }

}  // namespace wslat::cli

extern "C" {

MHD_Daemon* MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                             void* apc_cls, MHD_AccessHandlerCallback dh, void* dh_cls, ...) {
  static const auto fn =
      microhttpd().function<decltype(&::MHD_start_daemon_va)>("MHD_start_daemon_va");
  if (fn == nullptr) return nullptr;
  va_list ap;
  va_start(ap, dh_cls);
  MHD_Daemon* daemon = fn(flags, port, apc, apc_cls, dh, dh_cls, ap);
  va_end(ap);
  return daemon;
}

void MHD_stop_daemon(MHD_Daemon* daemon) {
  static const auto fn = microhttpd().function<decltype(&::MHD_stop_daemon)>("MHD_stop_daemon");
  if (fn != nullptr) fn(daemon);
}

// wslat asks only for information that takes no further argument (the bound port).
const MHD_DaemonInfo* MHD_get_daemon_info(MHD_Daemon* daemon, MHD_DaemonInfoType info_type, ...) {
  static const auto fn =
      microhttpd().function<decltype(&::MHD_get_daemon_info)>("MHD_get_daemon_info");
  return fn != nullptr ? fn(daemon, info_type) : nullptr;
}

const char* MHD_lookup_connection_value(MHD_Connection* connection, MHD_ValueKind kind,
                                        const char* key) {
  static const auto fn = microhttpd().function<decltype(&::MHD_lookup_connection_value)>(
      "MHD_lookup_connection_value");
  return fn != nullptr ? fn(connection, kind, key) : nullptr;
}

MHD_Response* MHD_create_response_from_buffer(size_t size, void* buffer,
                                              MHD_ResponseMemoryMode mode) {
  static const auto fn = microhttpd().function<decltype(&::MHD_create_response_from_buffer)>(
      "MHD_create_response_from_buffer");
  return fn != nullptr ? fn(size, buffer, mode) : nullptr;
}

MHD_Response* MHD_create_response_from_callback(uint64_t size, size_t block_size,
                                                MHD_ContentReaderCallback crc, void* crc_cls,
                                                MHD_ContentReaderFreeCallback crfc) {
  static const auto fn = microhttpd().function<decltype(&::MHD_create_response_from_callback)>(
      "MHD_create_response_from_callback");
  return fn != nullptr ? fn(size, block_size, crc, crc_cls, crfc) : nullptr;
}

MHD_Result MHD_add_response_header(MHD_Response* response, const char* header,
                                   const char* content) {
  static const auto fn =
      microhttpd().function<decltype(&::MHD_add_response_header)>("MHD_add_response_header");
  return fn != nullptr ? fn(response, header, content) : MHD_NO;
}

MHD_Result MHD_queue_response(MHD_Connection* connection, unsigned int status_code,
                              MHD_Response* response) {
  static const auto fn =
      microhttpd().function<decltype(&::MHD_queue_response)>("MHD_queue_response");
  return fn != nullptr ? fn(connection, status_code, response) : MHD_NO;
}

void MHD_destroy_response(MHD_Response* response) {
  static const auto fn =
      microhttpd().function<decltype(&::MHD_destroy_response)>("MHD_destroy_response");
  if (fn != nullptr) fn(response);
}

}  // extern "C"
