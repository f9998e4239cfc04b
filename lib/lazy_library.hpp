// A shared library opened at its first use (dlopen) instead of at start-up. libcurl (logins,
// webhooks, --push) and libmicrohttpd (`wslat monitor --listen`) and the ~30 libraries they
// pull in cost ~4.5 ms of CPU at every start, most of it their constructors (GnuTLS' among
// them), for features most runs never use: measured with `perf stat` on an empty program
// linked against them (0.4 ms without, 5.0 ms with). lib/net/curl_shim.cpp and
// cli/microhttpd_shim.cpp define the functions wslat calls and forward them to the library.
#pragma once

#include <mutex>
#include <string>

namespace wslat {

class LazyLibrary {
 public:
  // `soname` as dlopen takes it (libcurl.so.4); `package` the Debian package that installs it.
  LazyLibrary(const char* soname, const char* package) : soname_(soname), package_(package) {}
  LazyLibrary(const LazyLibrary&) = delete;
  LazyLibrary& operator=(const LazyLibrary&) = delete;

  // The address of `name` in the library, or nullptr (then error() says why). Thread-safe.
  void* symbol(const char* name);
  // "" when the library and every function asked for so far were found; otherwise what went
  // wrong and how to fix it.
  std::string error();

  template <typename F>
  F function(const char* name) {
    return reinterpret_cast<F>(symbol(name));  // NOLINT: dlsym returns functions as void*
  }

 private:
  void open();

  const char* soname_;
  const char* package_;
  std::once_flag once_;
  void* handle_ = nullptr;
  std::mutex mu_;
  std::string error_;  // guarded by mu_
};

}  // namespace wslat
